"""Delivering a rule's SendNotification actions: an outbox event, and for email a durable job.

Every notification becomes the outbox event `routing.rule.notification` in the caller's
transaction, so it exists only if the payment it speaks of was written; the webhook fan-out
delivers it to the company's endpoints subscribed to it. An email notification also queues the
job `rules.send_email`, which sends it through the client's SMTP integration with no database
transaction open. Without a usable SMTP integration the job fails at once (no retries) with a
`last_error` saying what to configure.

Placeholders are filled once, here, from what the payment flow passes: card brand and country,
never card data.
"""

import asyncio
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.errors import AppError
from avnz.core.money import Money
from avnz.integrations import probes as testing
from avnz.integrations import service as integrations
from avnz.integrations.models import IntegrationProvider
from avnz.integrations.probes import Target
from avnz.jobs import service as jobs
from avnz.outbox import service as events
from avnz.rules.actions.base import Notification
from avnz.rules.actions.send_notification import fill

if TYPE_CHECKING:
    from avnz.runtime import Runtime

log = structlog.get_logger(__name__)

EVENT = "routing.rule.notification"
EMAIL_JOB = "rules.send_email"
UNKNOWN = "unknown"  # a placeholder whose value the payment lacks (no country, no card)


async def queue_notifications(
    session: AsyncSession,
    notifications: Sequence[Notification],
    *,
    organization_id: str,
    client_id: str,
    company_id: str,
    rule_id: str,
    rule_name: str,
    payment_id: str,
    amount: int,
    currency: str,
    country: str | None,
    card_brand: str | None,
    livemode: bool,
) -> None:
    """Add one outbox event per notification (and an email job for email) to `session`;
    nothing is sent before the caller commits."""
    values = {  # what each placeholder stands for; the amount in major units (`19.99`)
        "rule_name": rule_name,
        "payment_id": payment_id,
        "amount": str(Money(amount, currency).to_decimal()),
        "currency": currency,
        "country": country or UNKNOWN,
        "card_brand": card_brand or UNKNOWN,
    }
    for notification in notifications:
        payload = {
            "rule_id": rule_id,
            "rule_name": rule_name,
            "payment_id": payment_id,
            "amount": amount,
            "currency": currency,
            "channel": notification.channel,
            "subject": fill(notification.subject, values) if notification.subject else None,
            "message": fill(notification.message, values),
            "recipients": list(notification.recipients),
        }
        event = events.emit(
            session,
            EVENT,
            organization_id=organization_id,
            client_id=client_id,
            company_id=company_id,
            livemode=livemode,
            payload=payload,
        )
        if notification.channel == "email":
            jobs.enqueue(
                session,
                EMAIL_JOB,
                {**payload, "event_id": event.id, "client_id": client_id},
            )


def email_message(payload: dict[str, Any], sender: str) -> EmailMessage:
    """The email of one queued notification (subject on one line, the message as plain text)."""
    subject = payload["subject"] or f"Routing rule {payload['rule_name']} matched a payment"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(payload["recipients"])
    message["Subject"] = " ".join(subject.split())  # no line break can reach the header
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or "avnz.invalid")
    message.set_content(payload["message"])
    return message


def _sender(target: Target) -> str:
    # Most SMTP logins are the mailbox's address; `from_email` is for those that are not.
    return str(target.settings.get("from_email") or target.credentials.get("username", ""))


def _send(target: Target, message: EmailMessage) -> None:
    with testing.smtp_session(target) as smtp:
        smtp.send_message(message)


async def _smtp_target(runtime: "Runtime", client_id: str) -> Target | None:
    async with runtime.sessions.begin() as session:
        try:
            return await integrations.client_provider_target(
                session, runtime.keyring, client_id=client_id, provider=IntegrationProvider.SMTP
            )
        except AppError as exc:  # credentials unreadable, platform integration gone
            raise jobs.JobFailed(f"The SMTP integration cannot be used: {exc.message}") from None


def handlers(runtime: "Runtime") -> dict[str, jobs.Handler]:
    async def send_email(_session: AsyncSession, payload: dict[str, Any]) -> None:
        # The job's session stays unused: the lookup is a short transaction of its own and the
        # SMTP exchange runs with none open.
        where = {"rule_id": payload["rule_id"], "event_id": payload["event_id"]}
        target = await _smtp_target(runtime, payload["client_id"])
        if target is None:
            log.warning("rules.notification_email_failed", reason="no_smtp_integration", **where)
            raise jobs.JobFailed(
                "No active SMTP integration for this client: add one under Integrations "
                "to send routing rule emails."
            )
        message = email_message(payload, _sender(target))
        timeout = testing.smtp_timeout(target) * 2
        try:
            await asyncio.wait_for(asyncio.to_thread(_send, target, message), timeout=timeout)
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("rules.notification_email_failed", error_class=type(exc).__name__, **where)
            raise
        log.info("rules.notification_email_sent", recipients=len(payload["recipients"]), **where)

    return {EMAIL_JOB: send_email}
