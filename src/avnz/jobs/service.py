"""Queue and lease background jobs; the worker loop that runs them is `avnz.jobs.worker`.

On PostgreSQL, `FOR UPDATE SKIP LOCKED` keeps two workers from taking the same row; on SQLite the
single writer lock does. A lease is short (`AVNZ_JOB_LEASE_SECONDS`, 10 s) and the worker's
heartbeat renews it while the job runs, so a job whose worker died is taken again seconds after
its last beat. The lease's expiry doubles as the claim's token: whoever claims a job writes an
instant of its own, so a worker that lost its job (it stalled past its lease and another took
over) can neither renew nor settle it.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.jobs.models import Job, JobStatus

LEASE = timedelta(seconds=10)

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


async def claim_due(
    session: AsyncSession, limit: int = 10, *, lease: timedelta = LEASE
) -> list[Job]:
    """Lease up to `limit` due jobs (queued, or running with an expired lease) to this worker;
    they share one expiry, the claim's token (`renew`)."""
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
        job.locked_until = now + lease
        job.attempts += 1
    return jobs


async def renew(
    session: AsyncSession, job_ids: set[str], *, tokens: set[datetime], until: datetime
) -> int:
    """Move the lease of the jobs still held under one of this worker's `tokens` to `until`;
    returns how many were still held. A job another worker took over keeps that one's lease."""
    result = await session.execute(
        update(Job)
        .where(
            Job.id.in_(job_ids),
            Job.status == JobStatus.RUNNING.value,
            Job.locked_until.in_(tokens),
        )
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
