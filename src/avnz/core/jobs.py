"""Durable background jobs: rows with `due_at`, `status` and `attempts`, swept by a worker loop.

The loop runs inside `avnz serve` (embedded) or in any number of `avnz worker` processes. On
PostgreSQL, `FOR UPDATE SKIP LOCKED` keeps two workers from taking the same row; on SQLite the
single writer lock does. A job whose worker died is taken again once its lease expires.
"""

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import JSON, String, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.db.base import Base, id_column
from avnz.db.engine import run_after_commit

log = structlog.get_logger(__name__)
LEASE = timedelta(minutes=5)


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(64), index=True)
    unique_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    due_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


# A handler does the work in the given session; a recurring one returns when to run next.
Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[datetime | None]]


class JobFailed(Exception):
    """Raised by a handler when trying again cannot help (nothing configured to do the work):
    the job is failed at once with the message as its `last_error`, not retried."""


def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    due_at: datetime | None = None,
    unique_key: str | None = None,
) -> Job:
    job = Job(
        id=new_id("job"),
        kind=kind,
        payload=payload or {},
        due_at=due_at or clock.now(),
        unique_key=unique_key,
    )
    session.add(job)
    return job


async def ensure_recurring(session: AsyncSession, kinds: list[str]) -> None:
    """One row per recurring kind, created once; its handler reschedules it after each run."""
    existing = set(
        (await session.scalars(select(Job.unique_key).where(Job.unique_key.is_not(None)))).all()
    )
    for kind in kinds:
        if f"recurring:{kind}" not in existing:
            enqueue(session, kind, unique_key=f"recurring:{kind}")


async def claim_due(session: AsyncSession, limit: int = 10) -> list[Job]:
    """Lease up to `limit` due jobs (queued, or running with an expired lease) to this worker."""
    now = clock.now()
    stmt = (
        select(Job)
        .where(
            Job.due_at <= now,
            or_(
                Job.status == JobStatus.QUEUED.value,
                (Job.status == JobStatus.RUNNING.value) & (Job.locked_until < now),
            ),
        )
        .order_by(Job.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    jobs = list((await session.scalars(stmt)).all())
    for job in jobs:
        job.status = JobStatus.RUNNING.value
        job.locked_until = now + LEASE
        job.attempts += 1
    return jobs


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
