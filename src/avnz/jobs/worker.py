"""The worker loop: sweeps due jobs and runs each in its own unit of work.

The loop runs inside `avnz serve` (embedded) or in any number of `avnz worker` processes; a
handler's session commits at the job's edge, then the job row is settled in a second one.
While a claim's jobs run, a heartbeat renews their lease every third of it; the job row is
settled only if this worker still holds it.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.core import clock
from avnz.db.engine import run_after_commit
from avnz.jobs.models import Job, JobStatus
from avnz.jobs.service import LEASE, Handler, JobFailed, claim_due, ensure_recurring, renew

log = structlog.get_logger(__name__)


@dataclass
class _Held:
    """The jobs of one claim not yet settled, and every lease expiry this worker wrote for them
    (the one it is writing included): holding one of them is holding the job."""

    ids: set[str]
    tokens: set[datetime]


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 2**attempts * 5))


class Worker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        handlers: dict[str, Handler],
        recurring: list[str],
        *,
        poll_seconds: float = 1.0,
        lease: timedelta = LEASE,
    ) -> None:
        self.sessions = sessions
        self.handlers = handlers
        self.recurring = recurring
        self.poll_seconds = poll_seconds
        self.lease = lease
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="avnz-worker")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        async with self.sessions.begin() as session:
            await ensure_recurring(session, self.recurring)
        log.info("worker_started", lease_seconds=self.lease.total_seconds())
        while not self._stopping.is_set():
            try:
                ran = await self.run_once()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("worker_sweep_failed")
                ran = 0
            if ran == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """Claim and run the due jobs; returns how many ran."""
        async with self.sessions.begin() as session:
            jobs = await claim_due(session, lease=self.lease)
        if not jobs:
            return 0
        held = _Held(
            {job.id for job in jobs}, {job.locked_until for job in jobs if job.locked_until}
        )
        heartbeat = asyncio.create_task(self._heartbeat(held), name="avnz-job-heartbeat")
        try:
            for job in jobs:
                await self._run(job, held)
                held.ids.discard(job.id)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return len(jobs)

    async def _heartbeat(self, held: _Held) -> None:
        """Renew the lease of the held jobs every third of it, until cancelled."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            ids, until = set(held.ids), clock.now() + self.lease
            if not ids:
                continue
            held.tokens.add(until)  # from here, the row may carry it
            try:
                async with self.sessions.begin() as session:
                    kept = await renew(session, ids, tokens=held.tokens, until=until)
            except Exception:  # the database may be back before the lease runs out
                log.warning("job_heartbeat_failed", jobs=len(ids), exc_info=True)
                continue
            held.tokens = {until}
            if kept < len(ids):
                log.warning("job_lease_lost", held=len(ids), renewed=kept)

    async def _run(self, job: Job, held: _Held) -> None:
        handler = self.handlers.get(job.kind)
        next_due: datetime | None = None
        error: str | None = None
        final = False
        if handler is None:
            error = f"no handler for job kind {job.kind!r}"
        else:
            try:
                async with self.sessions.begin() as session:
                    next_due = await handler(session, job.payload)
                run_after_commit(session)  # e.g. bus subscribers of events the job emitted
            except JobFailed as exc:
                log.warning("job_failed", job_id=job.id, kind=job.kind, error=str(exc))
                error, final = str(exc)[:500], True
            except Exception as exc:
                log.exception("job_failed", job_id=job.id, kind=job.kind)
                error = f"{type(exc).__name__}: {exc}"[:500]
        async with self.sessions.begin() as session:
            row = await session.get(Job, job.id, with_for_update=True)
            if row is None:
                return
            if row.status != JobStatus.RUNNING.value or row.locked_until not in held.tokens:
                # It stalled past its lease and another worker took the job: that one settles it.
                log.warning("job_lease_lost", job_id=job.id, kind=job.kind)
                return
            _settle(row, next_due=next_due, error=error, final=final)


def _settle(job: Job, *, next_due: datetime | None, error: str | None, final: bool) -> None:
    job.locked_until = None
    job.last_error = error
    if error is None and next_due is not None:
        job.status, job.due_at, job.attempts = JobStatus.QUEUED.value, next_due, 0
    elif error is None:
        job.status = JobStatus.DONE.value
    elif job.unique_key or (not final and job.attempts < job.max_attempts):
        job.status, job.due_at = JobStatus.QUEUED.value, clock.now() + _backoff(job.attempts)
    else:
        job.status = JobStatus.FAILED.value
