"""Rule notifications delivered through the outbox: the webhook event reaches a subscribed
endpoint over loopback HTTP, and the email job logs in to a real SMTP server (aiosmtpd, with
AUTH) through the client's SMTP integration; without one the job fails at once, readably."""

import json
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from sqlalchemy import select
from structlog.testing import capture_logs

from avnz.idempotency import unit_of_work
from avnz.jobs.models import Job, JobStatus
from avnz.outbox.models import OutboxEvent
from avnz.rules import notify
from avnz.rules.actions import parse_actions, run_actions
from avnz.rules.actions.base import Notification
from avnz.tenancy.models import Role
from tests.factories import World
from tests.integrations.factories import CLIENT, client_admin, create_client_integration
from tests.rules.factories import context
from tests.support.live_server import free_port, live_server
from tests.webhooks.factories import Receiver, create_endpoint, pump, worker

MAILBOX = "alerts@brand-a.example.com"
MAILBOX_PASSWORD = "Rl9-notify-Pw2!"
TEMPLATE = "Rule {rule_name}: {payment_id} for {amount} {currency}, {card_brand} from {country}"
FILLED = "Rule Big EU cards: pay_01jd for 1234.56 EUR, visa from DE"

# The test server asks for a login without TLS, so the tests need no certificate.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts, with its envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[Message]:
        return [message_from_bytes(bytes(e.original_content or b"")) for e in self.envelopes]


def _login_ok(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        MAILBOX.encode(),
        MAILBOX_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def mail_server() -> Iterator[tuple[Controller, Inbox]]:
    """A real SMTP server on loopback that demands a login (no TLS: no certificate needed)."""
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_login_ok,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def _smtp_integration(client: Any, world: World, port: int, **settings: Any) -> None:
    await create_client_integration(
        client,
        client_admin(world),
        {
            "provider": "SMTP",
            "name": "Brand mail",
            "credentials": {"username": MAILBOX, "password": MAILBOX_PASSWORD},
            "settings": {"host": "127.0.0.1", "port": port, "starttls": False, **settings},
        },
    )


def _notifications(*actions: dict[str, Any]) -> list[Notification]:
    parsed = parse_actions(list(actions))
    return run_actions(parsed, context(), rule_id="rule_test").notifications


def _email(**fields: Any) -> dict[str, Any]:
    return {
        "type": "send_notification",
        "channel": "email",
        "recipients": ["ops@brand-a.example.com", "risk@brand-a.example.com"],
        "subject": "High-value {card_brand} payment {payment_id}",
        "message": TEMPLATE,
        **fields,
    }


async def _queue(runtime: Any, world: World, notifications: list[Notification]) -> None:
    async with unit_of_work(runtime.sessions) as session:
        await _queue_in(session, world, notifications)


async def _queue_in(
    session: Any, world: World, notifications: list[Notification], **overrides: Any
) -> None:
    company = world.a.company
    facts: dict[str, Any] = {
        "rule_id": "rule_01jd",
        "rule_name": "Big EU cards",
        "payment_id": "pay_01jd",
        "amount": 123456,
        "currency": "EUR",
        "country": "DE",
        "card_brand": "visa",
        "livemode": False,
    }
    await notify.queue_notifications(
        session,
        notifications,
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        **{**facts, **overrides},
    )


async def _jobs(session: Any) -> list[Job]:
    await session.rollback()  # a fresh snapshot: the reader must see the worker's commits
    stmt = select(Job).where(Job.kind == notify.EMAIL_JOB)
    return list((await session.scalars(stmt)).all())


async def test_an_email_notification_is_sent_through_the_clients_smtp_integration(
    client, runtime, world, session, mail_server
):
    controller, inbox = mail_server
    await _smtp_integration(client, world, controller.port, from_email="rules@brand-a.example.com")
    await _queue(runtime, world, _notifications(_email()))

    with capture_logs() as logs:
        assert await worker(runtime).run_once() == 1

    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "rules@brand-a.example.com"
    assert envelope.rcpt_tos == ["ops@brand-a.example.com", "risk@brand-a.example.com"]
    (message,) = inbox.messages()
    assert message["Subject"] == "High-value visa payment pay_01jd"
    assert message["To"] == "ops@brand-a.example.com, risk@brand-a.example.com"
    assert message.get_payload(decode=True).decode().strip() == FILLED
    (job,) = await _jobs(session)
    assert job.status == JobStatus.DONE and job.last_error is None
    assert MAILBOX_PASSWORD not in str(logs)
    assert any(entry["event"] == "rules.notification_email_sent" for entry in logs)


async def test_the_sender_defaults_to_the_smtp_login_and_the_subject_to_the_rule(
    client, runtime, world, mail_server
):
    controller, inbox = mail_server
    await _smtp_integration(client, world, controller.port)
    await _queue(runtime, world, _notifications(_email(subject=None)))
    await worker(runtime).run_once()
    (message,) = inbox.messages()
    assert message["From"] == MAILBOX
    assert message["Subject"] == "Routing rule Big EU cards matched a payment"


async def test_every_notification_is_an_outbox_event_with_its_payload(runtime, world, session):
    webhook = {"type": "send_notification", "channel": "webhook", "message": TEMPLATE}
    await _queue(runtime, world, _notifications(webhook, _email(subject=None)))

    rows = (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.name == notify.EVENT)
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
    ).all()
    assert [row.payload for row in rows] == [
        {
            "rule_id": "rule_01jd",
            "rule_name": "Big EU cards",
            "payment_id": "pay_01jd",
            "amount": 123456,
            "currency": "EUR",
            "channel": channel,
            "subject": None,
            "message": FILLED,
            "recipients": recipients,
        }
        for channel, recipients in (
            ("webhook", []),
            ("email", ["ops@brand-a.example.com", "risk@brand-a.example.com"]),
        )
    ]
    assert {row.company_id for row in rows} == {world.a.company.id}
    email_event_id = rows[1].id
    (job,) = await _jobs(session)  # only the email notification has a job
    assert job.payload["event_id"] == email_event_id


async def test_a_webhook_notification_reaches_a_subscribed_endpoint(client, runtime, world):
    hooks = Receiver()
    with live_server(hooks.app()) as base:
        hooks.url = f"{base}/hooks"
        created = await create_endpoint(
            client,
            world.headers(Role.COMPANY_ADMIN),
            None,
            url=hooks.url,
            events=[notify.EVENT],
        )
        hooks.secret = created["secret"]
        webhook = {"type": "send_notification", "channel": "webhook", "message": TEMPLATE}
        await _queue(runtime, world, _notifications(webhook))
        assert await pump(runtime) == 1
    (received,) = hooks.received
    assert received.verified
    body = json.loads(received.body)
    assert body["type"] == notify.EVENT
    assert body["data"]["message"] == FILLED and body["data"]["channel"] == "webhook"


async def test_nothing_is_queued_when_the_payment_rolls_back(runtime, world, session):
    async with runtime.sessions() as writer:
        await _queue_in(writer, world, _notifications(_email()))
        await writer.rollback()
    assert await _jobs(session) == []
    assert (await session.scalars(select(OutboxEvent))).all() == []


async def test_without_an_smtp_integration_the_job_fails_at_once_with_a_readable_error(
    runtime, world, session
):
    await _queue(runtime, world, _notifications(_email()))
    with capture_logs() as logs:
        assert await worker(runtime).run_once() == 1
    (job,) = await _jobs(session)
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.last_error == (
        "No active SMTP integration for this client: add one under Integrations to send "
        "routing rule emails."
    )
    assert any(
        entry["event"] == "rules.notification_email_failed"
        and entry["reason"] == "no_smtp_integration"
        for entry in logs
    )
    assert await worker(runtime).run_once() == 0  # failed for good: no retry storm


async def test_an_inactive_smtp_integration_counts_as_none(client, runtime, world, session):
    await _smtp_integration(client, world, free_port())
    headers = client_admin(world)
    (listed,) = (await client.get(CLIENT, headers=headers)).json()["data"]
    response = await client.patch(
        f"{CLIENT}/{listed['id']}", json={"status": "inactive"}, headers=headers
    )
    assert response.status_code == 200, response.text
    await _queue(runtime, world, _notifications(_email()))
    await worker(runtime).run_once()
    (job,) = await _jobs(session)
    assert job.status == JobStatus.FAILED
    assert job.last_error is not None and job.last_error.startswith("No active SMTP integration")


async def test_an_unreachable_smtp_server_is_retried_later(client, runtime, world, session):
    await _smtp_integration(client, world, free_port(), timeout_seconds=2)
    await _queue(runtime, world, _notifications(_email()))
    await worker(runtime).run_once()
    (job,) = await _jobs(session)
    assert job.status == JobStatus.QUEUED and job.attempts == 1
    assert job.last_error is not None and job.last_error.startswith("ConnectionRefusedError")
    assert MAILBOX_PASSWORD not in job.last_error


async def test_placeholders_in_a_zero_decimal_currency_and_without_card_or_country(
    runtime, world, session
):
    webhook = {"type": "send_notification", "channel": "webhook", "message": TEMPLATE}
    async with unit_of_work(runtime.sessions) as writer:
        await _queue_in(
            writer,
            world,
            _notifications(webhook),
            amount=1999,
            currency="JPY",
            country=None,
            card_brand=None,
        )
    row = await session.scalar(select(OutboxEvent).where(OutboxEvent.name == notify.EVENT))
    assert row is not None
    assert (
        row.payload["message"] == "Rule Big EU cards: pay_01jd for 1999 JPY, unknown from unknown"
    )
    assert row.payload["amount"] == 1999


def test_a_subject_never_carries_a_line_break_into_the_header() -> None:
    payload = {
        "subject": "Alert\r\nBcc: victim@example.com",
        "rule_name": "r",
        "recipients": ["a@x.example"],
        "message": "m",
    }
    message = notify.email_message(payload, "rules@x.example")
    assert message["Subject"] == "Alert Bcc: victim@example.com"
    assert message["Bcc"] is None
