"""Queue and lease background jobs; the worker loop that runs them is `avnz.jobs.worker`.

On PostgreSQL, `FOR UPDATE SKIP LOCKED` keeps two workers from taking the same row; on SQLite the
single writer lock does. A job whose worker died is taken again once its lease expires.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.jobs.models import Job, JobStatus

LEASE = timedelta(minutes=5)

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
