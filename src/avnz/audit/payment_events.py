"""Payments, captures, voids and refunds in the audit log, written off the payment path.

The card payment has a statement budget (8 statements, 2 transactions), so its transactions
never touch the audit log. What it emits anyway is enough: every payment settles with a
`payment.*` event in the outbox, in the same transaction as the change. `audit_payment_events`
takes a batch of events the audit log has not taken (marking them in the same transaction,
`outbox.service.take_for_audit`), and records one audit row per payment event, so a payment is
audited once: never lost (the mark commits with the rows), never twice (a taken event is not
taken again). The rows carry the event's time, not the time they were written.

What a row keeps of a payment is a fixed projection of the event (ids, status, amounts, card
brand and last four, the gateway's outcome), never the customer's email or IP address.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit.models import AuditLog
from avnz.audit.service import AuditAction, Tenant, record
from avnz.core.events import Event
from avnz.outbox import service as outbox

BATCH = 500
ACTOR = "payments"  # the audit row's actor_type: the payment path, through its events


@dataclass(frozen=True, slots=True)
class _Kind:
    action: AuditAction
    resource: str


_KINDS = {
    "payment.authorized": _Kind(AuditAction.CREATE, "payment"),
    "payment.succeeded": _Kind(AuditAction.CREATE, "payment"),
    "payment.failed": _Kind(AuditAction.CREATE, "payment"),
    "payment.blocked": _Kind(AuditAction.CREATE, "payment"),
    "payment.captured": _Kind(AuditAction.CAPTURE, "payment"),
    "payment.voided": _Kind(AuditAction.VOID, "payment"),
    "payment.refunded": _Kind(AuditAction.REFUND, "refund"),
    "payment.review_required": _Kind(AuditAction.UPDATE, "payment"),
}
_PAYMENT_FIELDS = (
    "id",
    "status",
    "kind",
    "amount",
    "currency",
    "amount_captured",
    "amount_refunded",
    "customer_id",
    "order_id",
    "payment_method_id",
    "merchant_account_id",
    "provider",
)
_BLOCKED_FIELDS = ("payment_id", "code", "amount", "currency", "card_brand", "rule_id")


def _payment_values(event: Event) -> tuple[str | None, dict[str, Any]]:
    if event.name == "payment.blocked":
        payload = event.payload
        return payload.get("payment_id"), {k: payload.get(k) for k in _BLOCKED_FIELDS}
    payment = event.payload.get("payment") or {}
    values = {k: payment.get(k) for k in _PAYMENT_FIELDS}
    card = payment.get("card") or {}
    values["card"] = {"brand": card.get("brand"), "last4": card.get("last4")}
    gateway = payment.get("gateway") or {}
    values["outcome"] = gateway.get("outcome")
    values["decline_reason"] = gateway.get("decline_reason")
    if event.name == "payment.refunded":
        values["refund_amount"] = event.payload.get("refund_amount")
    return payment.get("id"), values


def audit_event(session: AsyncSession, event: Event) -> AuditLog | None:
    """The audit row of one payment event (None for events the audit log does not keep)."""
    kind = _KINDS.get(event.name)
    if kind is None:
        return None
    payment_id, values = _payment_values(event)
    resource_id = event.payload.get("refund_id") if kind.resource == "refund" else payment_id
    entry = record(
        session,
        actor=None,
        action=kind.action,
        resource=kind.resource,
        resource_id=resource_id,
        tenant=Tenant(event.organization_id, event.client_id, event.company_id),
        after=values,
        metadata={"event": event.name, "event_id": event.id, "payment_id": payment_id},
    )
    entry.actor_type = ACTOR
    entry.timestamp = event.created_at
    # The row describes the event, not the request that happened to write it.
    entry.ip_address = entry.user_agent = entry.request_id = None
    return entry


async def audit_payment_events(session: AsyncSession, limit: int = BATCH) -> int:
    """Record the payment events of one batch of untaken outbox events, in `session`'s
    transaction; returns how many events were taken (audited or not)."""
    events = await outbox.take_for_audit(session, limit)
    for event in events:
        audit_event(session, event)
    return len(events)
