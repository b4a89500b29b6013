"""The sweep: payments left `pending` (a crash between the commit and the gateway's answer, an
answer lost and not resolved at once) are settled by asking the gateway, never by charging."""

from datetime import timedelta

import structlog
from sqlalchemy import select

from avnz.core import clock
from avnz.gateways.base import (
    GatewayResult,
    InquireRequest,
    Operation,
    Outcome,
)
from avnz.payments import follow_ups
from avnz.payments.models import Payment, PaymentKind
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.settling import (
    after_inquiry,
    close_decision,
    connector_for,
    settle_payment,
)
from avnz.payments.states import PaymentStatus

log = structlog.get_logger(__name__)

# A payment still pending after this long was orphaned (a crash, a lost answer): the sweep
# inquires. Longer than any connector call can take (connect + read timeouts), so the sweep
# never races a request that is still waiting for its gateway.
STALE_AFTER = timedelta(minutes=2)


# --- the sweep -------------------------------------------------------------------------------


async def resolve_stale(gateways: PaymentRuntime, *, limit: int = 50) -> int:
    """Inquire the gateway about payments left pending (a crash between the commit and the
    answer, an answer lost and not resolved at once), and about captures and voids left in
    doubt, and settle them. Returns how many it looked at."""
    cutoff = clock.now() - STALE_AFTER
    async with gateways.sessions.begin() as session:
        stale = list(
            (
                await session.scalars(
                    select(Payment.id)
                    .where(Payment.status == PaymentStatus.PENDING, Payment.created_at < cutoff)
                    .order_by(Payment.created_at)
                    .limit(limit)
                )
            ).all()
        )
        busy = list(
            (
                await session.scalars(
                    select(Payment.id)
                    .where(Payment.pending_action.is_not(None), Payment.updated_at < cutoff)
                    .order_by(Payment.updated_at)
                    .limit(limit)
                )
            ).all()
        )
    for payment_id in stale:
        await _resolve_one(gateways, payment_id)
    for payment_id in busy:  # a capture or void whose answer never came
        await follow_ups.resolve_follow_up(gateways, payment_id)
    return len(stale) + len(busy)


async def _resolve_one(gateways: PaymentRuntime, payment_id: str) -> None:
    async with gateways.sessions.begin() as session:
        payment = await session.get_one(Payment, payment_id)
        connector = await connector_for(session, gateways, payment)
        lookup = InquireRequest(payment.gateway_transaction_id, payment.id)
        payment.inquiries += 1
    operation = Operation.SALE if payment.kind == PaymentKind.SALE else Operation.AUTHORIZE
    unknown = GatewayResult(operation, Outcome.TIMEOUT_AFTER_SEND)
    result = after_inquiry(unknown, await connector.inquire(lookup))
    async with gateways.sessions.begin() as session:
        settled = await settle_payment(session, payment_id, result)
        if settled.status != PaymentStatus.PENDING:
            close_decision(settled)
    log.info("payment.resolved", payment_id=payment_id, status=settled.status)
