"""The outbox and the in-process bus: an event commits or vanishes with its change, and the bus
hears of it only after the commit, from a request, a job or a plain unit of work."""

import asyncio

import pytest
from sqlalchemy import select

from avnz.core import events
from avnz.idempotency import unit_of_work
from avnz.jobs.service import enqueue
from avnz.jobs.worker import Worker
from avnz.outbox.models import OutboxEvent
from avnz.outbox.service import emit
from avnz.tenancy.models import Role
from tests.webhooks.factories import API, create_endpoint


@pytest.fixture
def heard():
    """Every event the bus publishes during the test, in order."""
    seen: list[events.Event] = []
    undo = events.bus.subscribe("*", seen.append)
    yield seen
    undo()


def _emit(session, name="payment.succeeded", **payload):
    return emit(
        session,
        name,
        organization_id="org_1",
        client_id="cli_1",
        company_id="com_1",
        payload={"payment_id": "pay_1", "amount": 1999, "currency": "USD", **payload},
    )


async def _outbox(session):
    await session.rollback()
    return (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all()


async def test_an_event_commits_with_its_change_and_is_heard_after(runtime, session, heard):
    async with unit_of_work(runtime.sessions) as writer:
        event = _emit(writer)
        assert heard == []  # not before the commit
    assert [e.id for e in heard] == [event.id]
    [row] = await _outbox(session)
    assert (row.id, row.name, row.company_id, row.dispatched_at) == (
        event.id,
        "payment.succeeded",
        "com_1",
        None,
    )
    assert row.payload == {"payment_id": "pay_1", "amount": 1999, "currency": "USD"}
    assert row.id.startswith("evt_")


async def test_a_rolled_back_change_leaves_no_event_and_no_one_hears_it(runtime, session, heard):
    with pytest.raises(RuntimeError):
        async with unit_of_work(runtime.sessions) as writer:
            _emit(writer)
            await writer.flush()
            raise RuntimeError("the change failed")
    assert heard == []
    assert await _outbox(session) == []


async def test_subscribers_see_only_matching_names(runtime, heard):
    payments, refunds = [], []
    undo = [
        events.bus.subscribe("payment.*", payments.append),
        events.bus.subscribe("payment.refunded", refunds.append),
    ]
    try:
        async with unit_of_work(runtime.sessions) as writer:
            _emit(writer, "payment.succeeded")
            _emit(writer, "payment.refunded")
            _emit(writer, "webhook.test")
    finally:
        for u in undo:
            u()
    assert [e.name for e in heard] == ["payment.succeeded", "payment.refunded", "webhook.test"]
    assert [e.name for e in payments] == ["payment.succeeded", "payment.refunded"]
    assert [e.name for e in refunds] == ["payment.refunded"]


async def test_a_failing_subscriber_harms_neither_the_change_nor_the_others(
    runtime, session, heard
):
    def broken(_event):
        raise RuntimeError("subscriber bug")

    awaited = asyncio.Event()

    async def slow(_event):
        await asyncio.sleep(0)
        awaited.set()

    undo = [events.bus.subscribe("*", broken), events.bus.subscribe("*", slow)]
    try:
        async with unit_of_work(runtime.sessions) as writer:
            _emit(writer)
        await asyncio.wait_for(awaited.wait(), 2)
    finally:
        for u in undo:
            u()
    assert len(heard) == 1
    assert len(await _outbox(session)) == 1


async def test_an_unknown_event_name_is_a_programming_error(runtime):
    async with runtime.sessions() as writer:
        with pytest.raises(ValueError, match="unknown event"):
            _emit(writer, "payment.exploded")
        assert list(writer.new) == []
        assert "after_commit" not in writer.info


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "payment.succeeded", True),
        ("payment.*", "payment.succeeded", True),
        ("payment.*", "paymentx.succeeded", False),
        ("payment.succeeded", "payment.succeeded", True),
        ("payment.succeeded", "payment.failed", False),
        ("webhook.*", "payment.failed", False),
    ],
)
def test_patterns(pattern, name, expected):
    assert events.matches(pattern, name) is expected


def test_known_patterns():
    assert events.known_pattern("*") and events.known_pattern("payment.*")
    assert events.known_pattern("payment.refunded")
    assert not events.known_pattern("payment.exploded")
    assert not events.known_pattern("nothing.*")
    assert not events.known_pattern("payment")


async def test_an_event_emitted_by_a_job_is_heard_after_the_job_commits(runtime, session, heard):
    async def job(job_session, _payload):
        _emit(job_session, "payment.failed")
        assert heard == []

    async with runtime.sessions.begin() as writer:
        enqueue(writer, "test.emit")
    worker = Worker(runtime.sessions, {"test.emit": job}, [], poll_seconds=0.05)
    assert await worker.run_once() == 1
    assert [e.name for e in heard] == ["payment.failed"]
    assert [row.name for row in await _outbox(session)] == ["payment.failed"]


async def test_an_event_emitted_by_a_failed_job_is_neither_stored_nor_heard(
    runtime, session, heard
):
    async def job(job_session, _payload):
        _emit(job_session, "payment.failed")
        await job_session.flush()
        raise RuntimeError("the job failed after emitting")

    async with runtime.sessions.begin() as writer:
        enqueue(writer, "test.emit_then_fail")
    await Worker(runtime.sessions, {"test.emit_then_fail": job}, [], poll_seconds=0.05).run_once()
    assert heard == []
    assert await _outbox(session) == []


async def test_an_event_emitted_by_a_request_is_heard_after_the_request_commits(
    client, world, heard
):
    headers = world.headers(Role.COMPANY_ADMIN)
    endpoint = await create_endpoint(client, headers, None)
    response = await client.post(f"{API}/{endpoint['id']}/test", headers=headers)
    assert response.status_code == 202
    assert [(e.name, e.company_id) for e in heard] == [("webhook.test", world.a.company.id)]
    assert heard[0].id == response.json()["event_id"]
