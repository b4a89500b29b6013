"""Capture, void and refund: the follow-ups of a payment, each in the hot path's three steps
(claim in a short transaction, call the gateway with none open, settle). A follow-up whose
answer is in doubt is confirmed by the gateway's own record of the payment, never repeated."""

from dataclasses import replace

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz import idempotency
from avnz.auth.scope import Principal
from avnz.commerce.models import OrderStatus
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest
from avnz.core.ids import new_id
from avnz.core.money import Money
from avnz.gateways.base import (
    CaptureRequest,
    Connector,
    GatewayResult,
    GatewayState,
    InquireRequest,
    Operation,
    Outcome,
    RefundRequest,
    VoidRequest,
)
from avnz.idempotency import Claim
from avnz.payments.models import Payment, Refund, RefundStatus
from avnz.payments.reading import get_payment
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.schemas import (
    CaptureCreate,
    RefundCreate,
)
from avnz.payments.settling import (
    PaymentDeclined,
    connector_for,
    emit_event,
    follow_order,
    locked_payment,
    record_paid,
    release_capacity,
)
from avnz.payments.states import PaymentAction, PaymentStatus, next_status

log = structlog.get_logger(__name__)


# --- capture and void ------------------------------------------------------------------------

# For each follow-up: the gateway state that shows it happened, and the one that shows it did not.
_CONFIRMS: dict[PaymentAction, tuple[GatewayState, GatewayState]] = {
    PaymentAction.CAPTURE: (GatewayState.CAPTURED, GatewayState.AUTHORIZED),
    PaymentAction.VOID: (GatewayState.VOIDED, GatewayState.AUTHORIZED),
}


async def capture_payment(
    gateways: PaymentRuntime, principal: Principal, payment_id: str, data: CaptureCreate
) -> Payment:
    """Capture an authorization, in full or in part (once)."""
    async with gateways.sessions.begin() as session:
        payment = await get_payment(session, principal, payment_id)
        next_status(PaymentStatus(payment.status), PaymentAction.CAPTURE)
        amount = payment.amount if data.amount is None else data.amount
        if amount > payment.amount:
            raise InvalidRequest(
                f"Cannot capture {Money(amount, payment.currency)}: only "
                f"{Money(payment.amount, payment.currency)} was authorized.",
                code="amount_too_large",
                param="amount",
            )
        await _claim(session, payment, PaymentAction.CAPTURE, amount)
        connector = await connector_for(session, gateways, payment)
        request = CaptureRequest(
            transaction_id=_gateway_id(payment),
            amount=amount,
            currency=payment.currency,
            order_id=payment.id,
            idempotency_key=f"{payment.id}-capture",
        )
    result = await _confirmed(
        connector, await connector.capture(request), payment, PaymentAction.CAPTURE
    )
    return await _finish_follow_up(gateways, payment_id, PaymentAction.CAPTURE, result)


async def void_payment(gateways: PaymentRuntime, principal: Principal, payment_id: str) -> Payment:
    """Void an authorization that was not captured; its capacity goes back to the account."""
    async with gateways.sessions.begin() as session:
        payment = await get_payment(session, principal, payment_id)
        next_status(PaymentStatus(payment.status), PaymentAction.VOID)
        await _claim(session, payment, PaymentAction.VOID, None)
        connector = await connector_for(session, gateways, payment)
        request = VoidRequest(
            transaction_id=_gateway_id(payment),
            order_id=payment.id,
            idempotency_key=f"{payment.id}-void",
        )
    result = await _confirmed(connector, await connector.void(request), payment, PaymentAction.VOID)
    return await _finish_follow_up(gateways, payment_id, PaymentAction.VOID, result)


async def resolve_follow_up(gateways: PaymentRuntime, payment_id: str) -> None:
    """Settle a capture or void whose answer never came (its server died, or it stayed in
    doubt) by asking the gateway what it did; still in doubt, `pending_action` stays."""
    async with gateways.sessions.begin() as session:
        payment = await session.get_one(Payment, payment_id)
        if payment.pending_action is None:
            return
        action = PaymentAction(payment.pending_action)
        connector = await connector_for(session, gateways, payment)
    unknown = GatewayResult(Operation(action.value), Outcome.TIMEOUT_AFTER_SEND)
    result = await _confirmed(connector, unknown, payment, action)
    async with gateways.sessions.begin() as session:
        await _settle_follow_up(session, await locked_payment(session, payment_id), action, result)


async def _finish_follow_up(
    gateways: PaymentRuntime, payment_id: str, action: PaymentAction, result: GatewayResult
) -> Payment:
    async with gateways.sessions.begin() as session:
        payment = await locked_payment(session, payment_id)
        await _settle_follow_up(session, payment, action, result)
    if not result.approved and not result.charge_may_exist:
        raise PaymentDeclined(_refusal(action, result))
    return payment


async def _settle_follow_up(
    session: AsyncSession, payment: Payment, action: PaymentAction, result: GatewayResult
) -> None:
    if payment.pending_action != action.value:
        return  # settled already (by the sweep)
    if result.charge_may_exist:
        log.warning("payment.follow_up_in_doubt", payment_id=payment.id, action=action.value)
        return  # pending_action stays: the sweep inquires
    amount, payment.pending_action, payment.pending_amount = payment.pending_amount, None, None
    if not result.approved:
        return
    payment.status = next_status(PaymentStatus(payment.status), action).value
    payment.completed_at = clock.now()
    if action is PaymentAction.CAPTURE:
        # Some gateways give the capture an id of its own (Payflow's delayed capture): refunds
        # credit the capture, not the authorization.
        payment.gateway_transaction_id = result.transaction_id or payment.gateway_transaction_id
        await record_paid(session, payment, amount if amount is not None else payment.amount)
        emit_event(session, "payment.captured", payment)
    else:
        await release_capacity(session, payment)
        emit_event(session, "payment.voided", payment)


async def _claim(
    session: AsyncSession, payment: Payment, action: PaymentAction, amount: int | None
) -> None:
    """Mark the follow-up as sent, unless another one is already on its way (409)."""
    claimed = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status == payment.status,
            Payment.pending_action.is_(None),
        )
        .values(pending_action=action.value, pending_amount=amount, updated_at=clock.now())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "Another capture, void or refund of this payment is in progress; try again shortly.",
            code="payment_busy",
        )


async def _confirmed(
    connector: Connector, result: GatewayResult, payment: Payment, action: PaymentAction
) -> GatewayResult:
    """A follow-up whose answer was lost, as the gateway's own record of the payment tells."""
    if not result.charge_may_exist:
        return result
    inquiry = await connector.inquire(InquireRequest(_gateway_id(payment), payment.id))
    done, untouched = _CONFIRMS[action]
    if inquiry.state is done:
        return replace(result, outcome=Outcome.APPROVED, decline_reason=None, retryable=False)
    if inquiry.state is untouched:
        return replace(result, outcome=Outcome.GATEWAY_ERROR, request_sent=False)
    return result


def _refusal(action: PaymentAction, result: GatewayResult) -> str:
    reason = result.decline_reason.value if result.decline_reason else result.outcome.value
    detail = f": {result.raw_message}" if result.raw_message else ""
    return f"The gateway refused the {action.value} ({reason}){detail}."


def _gateway_id(payment: Payment) -> str:
    if payment.gateway_transaction_id is None:  # an approved payment always has one
        raise Conflict("This payment has no gateway transaction id.", code="no_gateway_id")
    return payment.gateway_transaction_id


# --- refunds ---------------------------------------------------------------------------------


async def refund_payment(
    gateways: PaymentRuntime,
    principal: Principal,
    payment_id: str,
    data: RefundCreate,
    claim: Claim | None = None,
) -> Refund:
    """Refund captured money, in full or in parts that never add up to more than was captured.
    With a `claim` (held: `run_claiming(lazy=False)`), the refund is its recovery point."""
    if claim is not None and claim.resumes is not None:
        # A retry of a request that died after writing its refund: that refund, as it is.
        async with gateways.sessions.begin() as session:
            return await session.get_one(Refund, claim.resumes)
    async with gateways.sessions.begin() as session:
        payment = await get_payment(session, principal, payment_id)
        next_status(PaymentStatus(payment.status), PaymentAction.REFUND_PART)
        refund = await _open_refund(session, principal, payment, data)
        if claim is not None:  # committed with the refund
            await idempotency.take(session, claim, refund.id)
        connector = await connector_for(session, gateways, payment)
        request = RefundRequest(
            transaction_id=_gateway_id(payment),
            amount=refund.amount,
            currency=payment.currency,
            order_id=refund.id,
            card_last4=payment.card_last4,
            reason=data.reason,
            idempotency_key=refund.id,
        )
    result = await connector.refund(request)
    async with gateways.sessions.begin() as session:
        refund = await session.get_one(Refund, refund.id)
        await _settle_refund(session, refund, result)
    if refund.status == RefundStatus.FAILED:
        raise PaymentDeclined(_refusal(PaymentAction.REFUND_PART, result))
    return refund


async def _open_refund(
    session: AsyncSession, principal: Principal, payment: Payment, data: RefundCreate
) -> Refund:
    refundable = payment.amount_captured - payment.amount_refunded
    amount = refundable if data.amount is None else data.amount
    if amount > refundable or amount <= 0:
        raise InvalidRequest(
            f"Cannot refund {Money(amount, payment.currency)}: "
            f"{Money(refundable, payment.currency)} of the "
            f"{Money(payment.amount_captured, payment.currency)} captured is still refundable.",
            code="amount_too_large",
            param="amount",
        )
    # Counted before the call, in one conditional UPDATE: concurrent refunds cannot overdraw.
    counted = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.amount_refunded + amount <= Payment.amount_captured,
            Payment.status.in_([PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED]),
        )
        .values(amount_refunded=Payment.amount_refunded + amount, updated_at=clock.now())
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "Another refund of this payment took what was left; fetch it and try again.",
            code="payment_busy",
        )
    refund = Refund(
        id=new_id("rfd"),
        organization_id=payment.organization_id,
        client_id=payment.client_id,
        company_id=payment.company_id,
        payment_id=payment.id,
        livemode=payment.livemode,
        amount=amount,
        currency=payment.currency,
        reason=data.reason,
        metadata_=data.metadata,
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(refund)
    return refund


async def _settle_refund(session: AsyncSession, refund: Refund, result: GatewayResult) -> None:
    refund.outcome = result.outcome.value
    refund.decline_reason = result.decline_reason.value if result.decline_reason else None
    refund.gateway_refund_id = result.transaction_id
    refund.raw_code, refund.raw_message = result.raw_code, result.raw_message
    if result.charge_may_exist:
        log.warning("refund.in_doubt", refund_id=refund.id)
        return  # stays pending and keeps its amount counted: it can never be refunded twice
    payment = await locked_payment(session, refund.payment_id)
    if not result.approved:
        refund.status = RefundStatus.FAILED.value
        payment.amount_refunded -= refund.amount
        return
    refund.status = RefundStatus.SUCCEEDED.value
    fully = payment.amount_refunded >= payment.amount_captured
    action = PaymentAction.REFUND_ALL if fully else PaymentAction.REFUND_PART
    payment.status = next_status(PaymentStatus(payment.status), action).value
    await follow_order(
        session, payment, OrderStatus.REFUNDED if fully else OrderStatus.PARTIALLY_REFUNDED
    )
    emit_event(
        session, "payment.refunded", payment, refund_id=refund.id, refund_amount=refund.amount
    )
