"""Webhook delivery end to end: events emitted in a unit of work, fanned out by the worker's jobs
and POSTed over real loopback HTTP to a receiver that verifies the signature as a merchant
would; retries with backoff after a failure; resend; the test event; the worker itself."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from avnz.audit.payment_events import audit_payment_events
from avnz.core import clock
from avnz.idempotency import unit_of_work
from avnz.jobs.service import ensure_recurring
from avnz.outbox import service as events
from avnz.outbox.models import OutboxEvent
from avnz.tenancy.models import Role
from avnz.webhooks import delivery
from avnz.webhooks.models import WebhookDelivery
from avnz.webhooks.signature import SignatureError, verify_signature
from tests.support.live_server import live_server
from tests.webhooks.factories import API, UNREACHABLE, Receiver, create_endpoint, pump, worker


@pytest.fixture
def receiver():
    hooks = Receiver()
    with live_server(hooks.app()) as base:
        hooks.url = f"{base}/hooks"
        yield hooks


async def subscribe(client, world, hooks, role=Role.COMPANY_ADMIN, **overrides):
    """An endpoint of brand A1 pointing at the receiver, which learns its secret."""
    created = await create_endpoint(client, world.headers(role), None, url=hooks.url, **overrides)
    hooks.secret = created["secret"]
    return created


async def emit(runtime, company, name="payment.succeeded", **payload):
    async with unit_of_work(runtime.sessions) as session:
        return events.emit(
            session,
            name,
            organization_id=company.organization_id,
            client_id=company.client_id,
            company_id=company.id,
            payload={"payment_id": "pay_1", "amount": 1999, "currency": "USD", **payload},
        )


async def deliveries(session, **where):
    await session.rollback()
    stmt = select(WebhookDelivery).filter_by(**where).order_by(WebhookDelivery.id)
    return list((await session.scalars(stmt)).all())


def _move_clock(delta):
    moved = clock.now() + delta
    clock.set_source(lambda: moved)


async def test_an_event_reaches_the_receiver_signed_and_is_logged(
    client, world, runtime, session, receiver
):
    endpoint = await subscribe(client, world, receiver)
    event = await emit(runtime, world.a.company)
    assert await pump(runtime) == 1

    [got] = receiver.received
    assert got.verified, got.reason
    assert got.headers["avnz-event-id"] == event.id
    assert got.headers["avnz-event-type"] == "payment.succeeded"
    assert got.headers["content-type"] == "application/json"
    body = json.loads(got.body)
    assert body == {
        "id": event.id,
        "object": "event",
        "type": "payment.succeeded",
        "created_at": event.created_at.isoformat(),
        "organization_id": world.organization.id,
        "client_id": world.a.client.id,
        "company_id": world.a.company.id,
        "livemode": False,
        "data": {"payment_id": "pay_1", "amount": 1999, "currency": "USD"},
    }

    [row] = await deliveries(session)
    assert (row.endpoint_id, row.event_id, row.status, row.attempts) == (
        endpoint["id"],
        event.id,
        "succeeded",
        1,
    )
    assert row.response_status == 200 and row.error is None and row.latency_ms >= 0
    assert row.delivered_at is not None and row.next_attempt_at is None
    assert (await session.get(OutboxEvent, event.id)).dispatched_at is not None
    assert await pump(runtime) == 0  # delivered once


async def test_a_captured_request_replayed_later_is_rejected(client, world, runtime, receiver):
    await subscribe(client, world, receiver)
    await emit(runtime, world.a.company)
    await pump(runtime)
    [got] = receiver.received
    header = got.headers["avnz-signature"]
    sent_at = verify_signature(receiver.secret, header, got.body)
    with pytest.raises(SignatureError, match="older than"):
        verify_signature(receiver.secret, header, got.body, now=sent_at + 301)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify_signature(receiver.secret, header, got.body.replace(b"1999", b"9999"))


async def test_a_500_is_retried_after_the_backoff(client, world, runtime, session, receiver):
    await subscribe(client, world, receiver)
    receiver.answers = [500]
    await emit(runtime, world.a.company)
    assert await pump(runtime) == 1

    [row] = await deliveries(session)
    assert (row.status, row.attempts, row.response_status, row.error) == (
        "pending",
        1,
        500,
        "HTTP 500",
    )
    wait = row.next_attempt_at - clock.now()
    assert timedelta(seconds=50) < wait <= timedelta(seconds=66)  # 1 min, ±10 % jitter
    assert await pump(runtime) == 0  # not yet due

    _move_clock(timedelta(seconds=67))
    assert await pump(runtime) == 1
    [row] = await deliveries(session)
    assert (row.status, row.attempts, row.response_status, row.error) == (
        "succeeded",
        2,
        200,
        None,
    )
    assert [r.verified for r in receiver.received] == [True, True]
    ids = {r.headers["avnz-event-id"] for r in receiver.received}
    assert len(ids) == 1  # the same event twice: the receiver deduplicates on it


async def test_the_backoff_grows_and_the_last_attempt_fails_the_delivery(
    client, world, runtime, session, receiver
):
    delays = [delivery.retry_delay(n) for n in range(1, delivery.MAX_ATTEMPTS)]
    bases = [d.total_seconds() for d in delivery.RETRY_DELAYS]
    assert all(0.9 * b <= d.total_seconds() <= 1.1 * b for d, b in zip(delays, bases, strict=True))
    assert bases == sorted(bases) and bases[0] == 60

    await subscribe(client, world, receiver)
    receiver.answers = [503]
    await emit(runtime, world.a.company)
    async with runtime.sessions.begin() as writer:
        await delivery.fan_out(writer)
        await writer.execute(update(WebhookDelivery).values(attempts=delivery.MAX_ATTEMPTS - 1))
    await delivery.deliver_due(runtime.sessions, runtime.keyring, runtime.http)
    [row] = await deliveries(session)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "failed",
        delivery.MAX_ATTEMPTS,
        None,
    )


async def test_an_unreachable_or_slow_receiver_is_a_failed_attempt(
    client, world, runtime, session, receiver, monkeypatch
):
    await create_endpoint(client, world.headers(Role.COMPANY_ADMIN), None, url=UNREACHABLE)
    await emit(runtime, world.a.company)
    await pump(runtime)
    [row] = await deliveries(session)
    assert row.status == "pending" and row.response_status is None
    assert row.error.startswith("ConnectError")

    receiver.delay = 1.0
    monkeypatch.setattr(delivery, "TIMEOUT", 0.2)
    slow = await subscribe(client, world, receiver)
    await emit(runtime, world.a.company, "payment.failed")
    await pump(runtime)
    [row] = await deliveries(session, endpoint_id=slow["id"])
    assert row.status == "pending" and row.error.startswith("ReadTimeout")
    assert 150 <= row.latency_ms < 1000


async def test_only_subscribed_enabled_endpoints_of_the_company_get_the_event(
    client, world, runtime, session, receiver
):
    admin = world.headers(Role.ORGANIZATION_ADMIN)
    wants = await subscribe(client, world, receiver, events=["payment.*"])
    refunds_only = await create_endpoint(
        client, admin, world.a.company.id, events=["payment.refunded"]
    )
    disabled = await create_endpoint(client, admin, world.a.company.id, enabled=False)
    other_brand = await create_endpoint(client, admin, world.a.other_company.id)
    await emit(runtime, world.a.company)
    later = await create_endpoint(client, admin, world.a.company.id)  # after the event
    await pump(runtime)

    rows = await deliveries(session)
    assert [r.endpoint_id for r in rows] == [wants["id"]]
    assert {refunds_only["id"], disabled["id"], other_brand["id"], later["id"]}.isdisjoint(
        {r.endpoint_id for r in rows}
    )
    assert len(receiver.received) == 1


async def test_a_disabled_endpoint_gets_nothing_more(client, world, runtime, session, receiver):
    endpoint = await subscribe(client, world, receiver)
    await emit(runtime, world.a.company)
    async with runtime.sessions.begin() as writer:
        await delivery.fan_out(writer)
    patched = await client.patch(
        f"{API}/{endpoint['id']}",
        json={"enabled": False},
        headers=world.headers(Role.COMPANY_ADMIN),
    )
    assert patched.status_code == 200
    await pump(runtime)
    [row] = await deliveries(session)
    assert (row.status, row.error) == ("failed", "the endpoint is disabled")
    assert receiver.received == []


async def test_the_test_event_goes_to_that_endpoint_only(client, world, runtime, session, receiver):
    headers = world.headers(Role.COMPANY_ADMIN)
    endpoint = await subscribe(client, world, receiver)
    bystander = await create_endpoint(client, headers, None)
    queued = await client.post(f"{API}/{endpoint['id']}/test", headers=headers)
    assert queued.status_code == 202
    body = queued.json()
    assert (body["status"], body["event"], body["attempts"]) == ("pending", "webhook.test", 0)

    assert await pump(runtime) == 1
    [got] = receiver.received
    assert got.verified and json.loads(got.body)["type"] == "webhook.test"
    assert json.loads(got.body)["data"]["endpoint_id"] == endpoint["id"]
    assert await deliveries(session, endpoint_id=bystander["id"]) == []

    log = await client.get(f"{API}/{endpoint['id']}/deliveries", headers=headers)
    [entry] = log.json()["data"]
    assert (entry["id"], entry["status"], entry["response_status"]) == (
        body["id"],
        "succeeded",
        200,
    )


async def test_resend_delivers_the_same_event_again(client, world, runtime, session, receiver):
    headers = world.headers(Role.COMPANY_ADMIN)
    endpoint = await subscribe(client, world, receiver)
    event = await emit(runtime, world.a.company)
    await pump(runtime)
    [first] = await deliveries(session)

    again = await client.post(f"/api/v1/webhook-deliveries/{first.id}/resend", headers=headers)
    assert again.status_code == 202
    copy = again.json()
    assert (copy["resend_of"], copy["event_id"], copy["endpoint_id"]) == (
        first.id,
        event.id,
        endpoint["id"],
    )
    assert await pump(runtime) == 1
    assert [r.headers["avnz-event-id"] for r in receiver.received] == [event.id, event.id]
    assert all(r.verified for r in receiver.received)


async def test_after_a_rotation_the_old_secret_stops_verifying(client, world, runtime, receiver):
    headers = world.headers(Role.COMPANY_ADMIN)
    endpoint = await subscribe(client, world, receiver)
    old = receiver.secret
    rotated = await client.post(f"{API}/{endpoint['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200
    await emit(runtime, world.a.company)
    await pump(runtime)
    [got] = receiver.received
    assert not got.verified and "no signature matches" in got.reason
    verify_signature(rotated.json()["secret"], got.headers["avnz-signature"], got.body)
    assert old != rotated.json()["secret"]


async def test_a_rotation_with_grace_signs_with_both_secrets_until_it_ends(
    client, world, runtime, receiver
):
    headers = world.headers(Role.COMPANY_ADMIN)
    endpoint = await subscribe(client, world, receiver)
    old = receiver.secret
    rotated = await client.post(
        f"{API}/{endpoint['id']}/rotate-secret",
        json={"keep_previous_for_seconds": 3600},
        headers=headers,
    )
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    await emit(runtime, world.a.company)
    await pump(runtime)
    [got] = receiver.received
    assert got.verified  # with the old secret, still held by the receiver
    verify_signature(new, got.headers["avnz-signature"], got.body)

    _move_clock(timedelta(hours=1, seconds=1))
    await emit(runtime, world.a.company, "payment.refunded")
    await pump(runtime)
    assert not receiver.received[1].verified
    receiver.secret = new
    header = receiver.received[1].headers["avnz-signature"]
    assert header.count("v1=") == 1
    verify_signature(new, header, receiver.received[1].body)
    with pytest.raises(SignatureError):
        verify_signature(old, header, receiver.received[1].body)


async def test_the_worker_runs_fan_out_and_delivery(client, world, runtime, receiver):
    await subscribe(client, world, receiver)
    await emit(runtime, world.a.company)
    jobs = worker(runtime)
    async with runtime.sessions.begin() as writer:
        await ensure_recurring(writer, jobs.recurring)
    for _ in range(5):
        await jobs.run_once()
        if receiver.received:
            break
        _move_clock(timedelta(seconds=2))
    assert [r.verified for r in receiver.received] == [True]


async def test_old_deliveries_and_events_are_purged(client, world, runtime, session, receiver):
    await subscribe(client, world, receiver)
    await emit(runtime, world.a.company)
    await pump(runtime)
    async with runtime.sessions.begin() as writer:
        await audit_payment_events(writer)
    _move_clock(delivery.KEEP + timedelta(days=1))
    recent = await emit(runtime, world.a.company, "payment.refunded")
    async with runtime.sessions.begin() as writer:
        await delivery.purge_old(writer)
    await session.rollback()
    assert [e.id for e in (await session.scalars(select(OutboxEvent))).all()] == [recent.id]
    assert await deliveries(session) == []


async def test_an_old_event_the_audit_log_has_not_taken_is_kept(
    client, world, runtime, session, receiver
):
    await subscribe(client, world, receiver)
    old = await emit(runtime, world.a.company)
    await pump(runtime)
    _move_clock(delivery.KEEP + timedelta(days=1))
    async with runtime.sessions.begin() as writer:
        await delivery.purge_old(writer)
    await session.rollback()
    assert [e.id for e in (await session.scalars(select(OutboxEvent))).all()] == [old.id]
