"""The worker loop: sweeps due jobs and runs each in its own unit of work.

The loop runs inside `avnz serve` (embedded) or in any number of `avnz worker` processes; a
handler's session commits at the job's edge, then the job row is settled in a second one.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.core import clock
from avnz.db.engine import run_after_commit
from avnz.jobs.models import Job, JobStatus
from avnz.jobs.service import Handler, JobFailed, claim_due, ensure_recurring

log = structlog.get_logger(__name__)


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
    ) -> None:
        self.sessions = sessions
        self.handlers = handlers
        self.recurring = recurring
        self.poll_seconds = poll_seconds
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
            jobs = await claim_due(session)
        for job in jobs:
            await self._run(job)
        return len(jobs)

    async def _run(self, job: Job) -> None:
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
            row = await session.get(Job, job.id)
            if row is not None:
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
