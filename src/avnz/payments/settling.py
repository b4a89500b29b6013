"""Settling a payment: what a gateway's answer does to it, shared by the charge (`charge`),
its follow-ups (capture, void, refund: `follow_ups`) and the sweep of payments left in doubt.

An answer that leaves the charge in doubt is resolved by the connector's inquiry
(`after_inquiry`), never by charging again; what the inquiry cannot resolve stays `pending` for
the sweep. Money that moved follows the payment: fees, the order, the customer's purchases, the
platform's share, events.
"""

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.commerce import service as commerce
from avnz.commerce.models import OrderStatus
from avnz.core import clock
from avnz.core.cards import Brand
from avnz.core.errors import AppError, Conflict, NotFound
from avnz.gateways.base import (
    Connector,
    GatewayResult,
    GatewayState,
    Outcome,
)
from avnz.idempotency import StoredResponse
from avnz.integrations import service as integrations
from avnz.outbox import service as events
from avnz.payments.models import Payment, PaymentKind
from avnz.payments.reading import to_out
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.states import PaymentAction, PaymentStatus, next_status
from avnz.routing.accounts import usage
from avnz.routing.accounts.fees import transaction_fee
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.accounts.schemas import AccountFees
from avnz.routing.decisions.failover import is_issuer_decline
from avnz.rules.inputs import home_country
from avnz.tenancy.models import Company

if TYPE_CHECKING:
    pass

log = structlog.get_logger(__name__)


class PaymentDeclined(AppError):
    """A capture, void or refund the gateway refused; the payment is unchanged."""

    status_code = 402
    type = "payment_error"
    default_code = "gateway_declined"


def payment_answer(payment: Payment) -> StoredResponse:
    """201 for a payment with a final answer (approved or declined: read `status`), 202 while
    the gateway's answer is in doubt (it is settled by inquiry; poll or wait for the webhook)."""
    in_doubt = payment.status == PaymentStatus.PENDING or payment.pending_action is not None
    code = 202 if in_doubt else 201
    return StoredResponse(code, to_out(payment).model_dump(mode="json"))


def close_decision(payment: Payment) -> None:
    """The payment's routing decision ends with its status, now."""
    payment.routing = {
        **payment.routing,
        "final_outcome": payment.status,
        "completed_at": clock.now().isoformat(),
    }


# What an inquiry's state means for the attempt it looked up.
_FOUND: dict[GatewayState, Outcome] = {
    GatewayState.AUTHORIZED: Outcome.APPROVED,
    GatewayState.CAPTURED: Outcome.APPROVED,
    GatewayState.DECLINED: Outcome.HARD_DECLINE,
    GatewayState.NOT_FOUND: Outcome.ERROR_BEFORE_SEND,  # it never happened: nothing charged
    GatewayState.VOIDED: Outcome.ERROR_BEFORE_SEND,
}


def after_inquiry(attempt: GatewayResult, inquiry: GatewayResult) -> GatewayResult:
    """The attempt as the inquiry found it; still in doubt when the inquiry found nothing sure."""
    outcome = _FOUND.get(inquiry.state) if inquiry.state else None
    if outcome is None:
        return attempt
    return replace(
        inquiry,
        operation=attempt.operation,
        outcome=outcome,
        latency_ms=attempt.latency_ms + inquiry.latency_ms,
        transaction_id=inquiry.transaction_id or attempt.transaction_id,
    )


# --- settle ----------------------------------------------------------------------------------


def _action(payment: Payment, result: GatewayResult) -> PaymentAction | None:
    """What the gateway's answer does to a pending payment; None while it is in doubt."""
    if result.outcome is Outcome.APPROVED:
        return PaymentAction.SALE if payment.kind == PaymentKind.SALE else PaymentAction.AUTHORIZE
    if result.charge_may_exist:
        return None
    if result.outcome in (Outcome.HARD_DECLINE, Outcome.SOFT_DECLINE):
        return PaymentAction.DECLINE
    return PaymentAction.FAIL  # error before send, config error, a refusal we could read


async def locked_payment(session: AsyncSession, payment_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    if payment is None:  # written by this process moments ago; only a purge could do this
        raise NotFound(f"No payment {payment_id!r}.")
    return payment


async def settle_payment(session: AsyncSession, payment_id: str, result: GatewayResult) -> Payment:
    """Record the gateway's answer on a pending payment and follow it."""
    return await record_settlement(session, await locked_payment(session, payment_id), result)


async def record_settlement(
    session: AsyncSession, payment: Payment, result: GatewayResult
) -> Payment:
    """`settle_payment` for a payment already in the session (locked, or updated only while
    it is still pending: `Payment.status` is its version)."""
    if payment.status != PaymentStatus.PENDING:
        return payment  # the sweep settled it first; its answer stands
    _record_answer(payment, result)
    action = _action(payment, result)
    if action is None:
        log.warning("payment.in_doubt", payment_id=payment.id, outcome=result.outcome.value)
        return payment
    payment.status = next_status(PaymentStatus(payment.status), action).value
    payment.completed_at = clock.now()
    if action in (PaymentAction.SALE, PaymentAction.AUTHORIZE):
        await _approved(session, payment, result)
    else:
        await release_capacity(session, payment)
        emit_event(session, "payment.failed", payment)
    return payment


def _record_answer(payment: Payment, result: GatewayResult) -> None:
    payment.outcome = result.outcome.value
    payment.decline_reason = result.decline_reason.value if result.decline_reason else None
    payment.gateway_transaction_id = result.transaction_id or payment.gateway_transaction_id
    payment.auth_code = result.auth_code or payment.auth_code
    payment.avs_result = result.avs.value
    payment.cvv_result = result.cvv.value
    payment.raw_code = result.raw_code
    payment.raw_message = result.raw_message
    payment.gateway_latency_ms = result.latency_ms
    payment.issuer_declines += is_issuer_decline(result)


async def _approved(session: AsyncSession, payment: Payment, result: GatewayResult) -> None:
    if payment.kind == PaymentKind.SALE:
        await record_paid(session, payment, payment.amount)
        emit_event(session, "payment.succeeded", payment)
    else:
        account = await session.get_one(MerchantAccount, payment.merchant_account_id)
        company = await session.get_one(Company, payment.company_id)
        payment.fee = _fee(account, company, payment, payment.amount)
        emit_event(session, "payment.authorized", payment)


async def record_paid(session: AsyncSession, payment: Payment, amount: int) -> None:
    """Money moved: its fees, the order paid, one more purchase for the customer, and the
    platform's share when the account charges through the organization's integration."""
    payment.amount_captured = amount
    account = await session.get_one(MerchantAccount, payment.merchant_account_id)
    company = await session.get_one(Company, payment.company_id)
    payment.fee = _fee(account, company, payment, amount)
    if account.platform_integration_id and account.client_integration_id:
        payment.platform_fee = await integrations.record_platform_usage(
            session, account.client_integration_id, amount, payment.currency
        )
    await follow_order(session, payment, OrderStatus.PAID)
    if payment.customer_id:
        await commerce.record_purchase(
            session=session,
            company_id=payment.company_id,
            customer_id=payment.customer_id,
            amount_minor=payment.amount_captured,
            currency=payment.currency,
        )


async def follow_order(session: AsyncSession, payment: Payment, status: OrderStatus) -> None:
    """Move the payment's order along. The money has moved already: an order that cannot follow
    (cancelled meanwhile) is logged for a person to look at, never a reason to lose the payment."""
    if payment.order_id is None:
        return
    try:
        await commerce.mark_order(
            session=session, company_id=payment.company_id, order_id=payment.order_id, status=status
        )
    except Conflict as refused:
        log.warning("payment.order_not_updated", payment_id=payment.id, reason=refused.message)


def _fee(account: MerchantAccount, company: Company, payment: Payment, amount: int) -> int:
    international = payment.card_country is not None and payment.card_country != home_country(
        company
    )
    fees = AccountFees.model_validate(account.fees)
    brand = Brand(payment.card_brand) if payment.card_brand else None
    return transaction_fee(fees, amount, card_brand=brand, international=international)


async def release_capacity(session: AsyncSession, payment: Payment) -> None:
    """Give the account back the capacity this payment held (once)."""
    if payment.reserved_at is None:
        return
    reservation = usage.Reservation(
        account_id=payment.merchant_account_id,
        amount_minor=payment.amount,
        buckets=usage.buckets_at(payment.reserved_at),
    )
    await usage.release(session, reservation)
    payment.reserved_at = None


def emit_event(session: AsyncSession, name: str, payment: Payment, **extra: Any) -> None:
    events.emit(
        session,
        name,
        organization_id=payment.organization_id,
        client_id=payment.client_id,
        company_id=payment.company_id,
        livemode=payment.livemode,
        payload={"payment": to_out(payment).model_dump(mode="json"), **extra},
    )


async def connector_for(
    session: AsyncSession, gateways: PaymentRuntime, payment: Payment
) -> Connector:
    account = await session.get_one(MerchantAccount, payment.merchant_account_id)
    return await gateways.connector(session, account)
