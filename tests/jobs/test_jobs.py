"""The durable job queue: runs due jobs once, retries with backoff, reschedules recurring ones,
takes back jobs whose worker died, and never hands one job to two workers."""

import asyncio
from datetime import timedelta

from sqlalchemy import select

from avnz.auth import tasks as auth_tasks
from avnz.auth.models import AuthSession, RefreshToken
from avnz.core import clock
from avnz.core.ids import new_id
from avnz.jobs import service as jobs
from avnz.jobs.models import Job, JobStatus
from avnz.jobs.worker import Worker


def _worker(runtime, handlers, recurring=()):
    return Worker(runtime.sessions, handlers, list(recurring), poll_seconds=0.05)


async def _enqueue(runtime, kind, count=1, **kwargs):
    async with runtime.sessions.begin() as session:
        created = [jobs.enqueue(session, kind, {"n": n}, **kwargs) for n in range(count)]
    return [job.id for job in created]


async def _job(session, job_id):
    await session.rollback()  # a fresh snapshot: the reader must see the worker's commits
    return await session.get(Job, job_id)


async def test_due_job_runs_once_and_is_done(runtime, session):
    seen = []

    async def handler(_session, payload):
        seen.append(payload["n"])

    (job_id,) = await _enqueue(runtime, "test.ok")
    worker = _worker(runtime, {"test.ok": handler})
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert seen == [0]
    job = await _job(session, job_id)
    assert job.status == JobStatus.DONE and job.attempts == 1 and job.locked_until is None


async def test_future_job_waits(runtime):
    await _enqueue(runtime, "test.later", due_at=clock.now() + timedelta(hours=1))
    assert await _worker(runtime, {"test.later": lambda *_: None}).run_once() == 0


async def test_failure_is_retried_with_backoff_then_fails(runtime, session):
    async def broken(_session, _payload):
        raise RuntimeError("gateway said no")

    (job_id,) = await _enqueue(runtime, "test.broken")
    worker = _worker(runtime, {"test.broken": broken})
    await worker.run_once()
    job = await _job(session, job_id)
    assert job.status == JobStatus.QUEUED and job.attempts == 1
    assert job.due_at > clock.now() and "gateway said no" in job.last_error

    async with runtime.sessions.begin() as writer:
        row = await writer.get(Job, job_id)
        row.attempts, row.due_at = row.max_attempts - 1, clock.now()
    await worker.run_once()
    assert (await _job(session, job_id)).status == JobStatus.FAILED


async def test_job_failed_is_final_at_once_except_for_recurring_jobs(runtime, session):
    async def hopeless(_session, _payload):
        raise jobs.JobFailed("nothing is configured to do this")

    (job_id,) = await _enqueue(runtime, "test.hopeless")
    (recurring_id,) = await _enqueue(runtime, "test.hopeless", unique_key="recurring:hopeless")
    await _worker(runtime, {"test.hopeless": hopeless}).run_once()
    job = await _job(session, job_id)
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.last_error == "nothing is configured to do this"
    assert (await _job(session, recurring_id)).status == JobStatus.QUEUED


async def test_recurring_job_is_created_once_and_rescheduled(runtime, session):
    async with runtime.sessions.begin() as writer:
        await jobs.ensure_recurring(writer, ["test.tick"])
    async with runtime.sessions.begin() as writer:
        await jobs.ensure_recurring(writer, ["test.tick"])
    rows = (await session.scalars(select(Job).where(Job.kind == "test.tick"))).all()
    assert len(rows) == 1

    next_time = clock.now() + timedelta(minutes=10)

    async def tick(_session, _payload):
        return next_time

    await _worker(runtime, {"test.tick": tick}).run_once()
    job = await _job(session, rows[0].id)
    assert job.status == JobStatus.QUEUED and job.attempts == 0
    assert abs((job.due_at - next_time).total_seconds()) < 0.001


async def test_job_of_a_dead_worker_is_taken_again_after_its_lease(runtime, session):
    (job_id,) = await _enqueue(runtime, "test.orphan")
    async with runtime.sessions.begin() as writer:
        claimed = await jobs.claim_due(writer)
    assert [j.id for j in claimed] == [job_id]
    worker = _worker(runtime, {"test.orphan": lambda *_: asyncio.sleep(0)})
    assert await worker.run_once() == 0  # lease still held
    clock.set_source(lambda: claimed[0].locked_until + timedelta(seconds=1))
    assert await worker.run_once() == 1
    job = await _job(session, job_id)
    assert job.status == JobStatus.DONE and job.attempts == 2


async def test_two_workers_never_run_the_same_job(runtime):
    runs: list[int] = []

    async def slow(_session, payload):
        runs.append(payload["n"])
        await asyncio.sleep(0.01)

    await _enqueue(runtime, "test.race", count=30)
    handlers = {"test.race": slow}
    workers = [_worker(runtime, handlers), _worker(runtime, handlers)]
    while True:
        ran = await asyncio.gather(*(w.run_once() for w in workers))
        if sum(ran) == 0:
            break
    assert sorted(runs) == list(range(30))


async def test_embedded_loop_picks_up_new_jobs(runtime, session):
    done = asyncio.Event()

    async def handler(_session, _payload):
        done.set()

    worker = _worker(runtime, {"test.loop": handler})
    worker.start()
    try:
        await _enqueue(runtime, "test.loop")
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        await worker.stop()


async def test_unknown_kind_is_recorded_not_crashed(runtime, session):
    (job_id,) = await _enqueue(runtime, "test.nobody")
    await _worker(runtime, {}).run_once()
    job = await _job(session, job_id)
    assert job.status == JobStatus.QUEUED and "no handler" in job.last_error


async def test_purge_expired_refresh_tokens(runtime, world, session):
    user = world.org_admin
    now = clock.now()
    async with runtime.sessions.begin() as writer:
        auth_session = AuthSession(id=new_id("ses"), user_id=user.id)
        writer.add(auth_session)
        await writer.flush()
        for name, expires in (
            ("old", now - timedelta(days=8)),
            ("recent", now - timedelta(days=1)),
        ):
            writer.add(
                RefreshToken(
                    id=new_id("rtk"),
                    session_id=auth_session.id,
                    token_hash=name * 8,
                    expires_at=expires,
                )
            )
    async with runtime.sessions.begin() as writer:
        next_run = await auth_tasks.purge_expired(writer, {})
    left = (await session.scalars(select(RefreshToken.token_hash))).all()
    assert left == ["recent" * 8]
    assert next_run > now


async def test_a_job_outliving_its_lease_is_kept_by_its_workers_heartbeat(runtime, session):
    """A 0.3 s lease and a job that runs 1.2 s: the heartbeat renews it every 0.1 s, so another
    worker sweeping all along never takes it."""
    lease = timedelta(seconds=0.3)
    started, finished = asyncio.Event(), asyncio.Event()

    async def long(_session, _payload):
        started.set()
        await asyncio.sleep(1.2)
        finished.set()

    (job_id,) = await _enqueue(runtime, "test.long")
    owner = Worker(runtime.sessions, {"test.long": long}, [], poll_seconds=0.05, lease=lease)
    other_runs: list[int] = []

    async def other_sweeps() -> None:
        other = Worker(runtime.sessions, {"test.long": long}, [], poll_seconds=0.05, lease=lease)
        await started.wait()
        while not finished.is_set():
            other_runs.append(await other.run_once())
            await asyncio.sleep(0.05)

    ran, _ = await asyncio.gather(owner.run_once(), other_sweeps())
    assert ran == 1 and len(other_runs) > 5 and sum(other_runs) == 0
    job = await _job(session, job_id)
    assert job.status == JobStatus.DONE and job.attempts == 1


async def test_a_worker_whose_job_was_taken_over_neither_renews_nor_settles_it(runtime, session):
    """It stalled past its lease and another worker claimed the job (a lease of its own): the
    first worker's heartbeat and its settling both leave the row to the new holder."""
    lease = timedelta(seconds=0.3)
    taken = asyncio.Event()

    async def stalls(_session, _payload):
        await taken.wait()

    (job_id,) = await _enqueue(runtime, "test.stall")
    first = Worker(runtime.sessions, {"test.stall": stalls}, [], poll_seconds=0.05, lease=lease)
    running = asyncio.ensure_future(first.run_once())
    await asyncio.sleep(0.1)
    theirs = clock.now() + timedelta(minutes=5)
    async with runtime.sessions.begin() as writer:  # as another worker's claim writes it
        row = await writer.get(Job, job_id)
        row.locked_until, row.attempts = theirs, row.attempts + 1
    await asyncio.sleep(0.3)  # a few heartbeats of the first worker
    taken.set()
    assert await running == 1
    job = await _job(session, job_id)
    assert (job.status, job.attempts, job.locked_until) == (JobStatus.RUNNING, 2, theirs)
