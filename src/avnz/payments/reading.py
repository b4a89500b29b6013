"""Payments as the API shows them: lookups within the caller's scope, lists with filters."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal, mode_clause, scope_clause
from avnz.core.errors import NotFound
from avnz.core.pagination import Page, PageParams, paginate
from avnz.payments.models import Payment, Refund
from avnz.payments.schemas import (
    GatewayOut,
    PaymentCardOut,
    PaymentOut,
)
from avnz.payments.states import PaymentStatus
from avnz.routing.decisions.schemas import RoutingAttemptOut, RoutingDecisionOut

# --- reading ---------------------------------------------------------------------------------


async def get_payment(session: AsyncSession, principal: Principal, payment_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id, _visible(principal))
    )
    if payment is None:
        raise NotFound(f"No payment {payment_id!r}.", param="id")
    return payment


def _visible(principal: Principal) -> Any:
    """The caller's payments: in their scope and their mode (test or live)."""
    return scope_clause(
        principal,
        organization_id=Payment.organization_id,
        client_id=Payment.client_id,
        company_id=Payment.company_id,
    ) & mode_clause(principal, Payment.livemode)


def decision_out(payment: Payment) -> RoutingDecisionOut:
    """The payment's routing decision and its attempts, as the payment keeps them; 404 for a
    payment that was never routed (one written before decisions were kept, say)."""
    routing = payment.routing or {}
    if "decision_id" not in routing:
        raise NotFound(f"No routing decision for payment {payment.id!r}.", param="payment_id")
    attempts = [RoutingAttemptOut.model_validate(attempt) for attempt in routing["attempts"]]
    return RoutingDecisionOut(
        id=routing["decision_id"],
        payment_id=payment.id,
        company_id=payment.company_id,
        pool_id=routing.get("pool_id"),
        selected_account_id=routing["selected_account_id"],
        final_account_id=routing.get("final_account_id"),
        strategy=routing["strategy"],
        probability=routing.get("probability"),
        evaluation_time_ms=routing.get("evaluation_ms", 0.0),
        failover_attempts=max(0, len(attempts) - 1),
        failed_over=len(attempts) > 1,
        final_outcome=routing.get("final_outcome"),
        rule_id=routing.get("rule_id"),
        rule_version=routing.get("rule_version"),
        condition_results=routing.get("condition_results"),
        created_at=payment.created_at,
        completed_at=routing.get("completed_at"),
        attempts=attempts,
    )


def to_out(payment: Payment) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        organization_id=payment.organization_id,
        client_id=payment.client_id,
        company_id=payment.company_id,
        customer_id=payment.customer_id,
        order_id=payment.order_id,
        payment_method_id=payment.payment_method_id,
        merchant_account_id=payment.merchant_account_id,
        provider=payment.provider,
        livemode=payment.livemode,
        kind=payment.kind,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        amount_captured=payment.amount_captured,
        amount_refunded=payment.amount_refunded,
        fee=payment.fee,
        platform_fee=payment.platform_fee,
        surcharge_amount=payment.surcharge_amount,
        discount_amount=payment.discount_amount,
        review=payment.review,
        card=PaymentCardOut(
            brand=payment.card_brand,
            bin=payment.card_bin,
            last4=payment.card_last4,
            country=payment.card_country,
        ),
        gateway=GatewayOut(
            outcome=payment.outcome,
            decline_reason=payment.decline_reason,
            transaction_id=payment.gateway_transaction_id,
            auth_code=payment.auth_code,
            avs_result=payment.avs_result,
            cvv_result=payment.cvv_result,
            raw_code=payment.raw_code,
            raw_message=payment.raw_message,
            latency_ms=payment.gateway_latency_ms,
        ),
        routing=payment.routing,
        pending_action=payment.pending_action,
        description=payment.description,
        metadata=payment.metadata_,
        processing_ms=payment.processing_ms,
        created_at=payment.created_at,
        completed_at=payment.completed_at,
    )


@dataclass(frozen=True, slots=True)
class PaymentFilters:
    company_id: str | None = None
    status: PaymentStatus | None = None
    merchant_account_id: str | None = None
    customer_id: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None
    amount_gte: int | None = None
    amount_lte: int | None = None
    card_brand: str | None = None
    # An exact id: the payment's, its customer's, or the gateway's transaction id.
    search: str | None = None


async def list_payments(
    session: AsyncSession, principal: Principal, page: PageParams, filters: PaymentFilters
) -> Page[Payment]:
    return await paginate(session, payments_query(principal, filters), Payment.id, page)


def payments_query(principal: Principal, filters: PaymentFilters) -> Select[Payment]:
    """The visible payments matching `filters`, unordered (lists and exports add their own)."""
    stmt = select(Payment).where(_visible(principal))
    conditions = {
        Payment.company_id: filters.company_id,
        Payment.status: filters.status,
        Payment.merchant_account_id: filters.merchant_account_id,
        Payment.customer_id: filters.customer_id,
        Payment.card_brand: filters.card_brand,
    }
    for column, value in conditions.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.created_gte is not None:
        stmt = stmt.where(Payment.created_at >= filters.created_gte)
    if filters.created_lte is not None:
        stmt = stmt.where(Payment.created_at <= filters.created_lte)
    if filters.amount_gte is not None:
        stmt = stmt.where(Payment.amount >= filters.amount_gte)
    if filters.amount_lte is not None:
        stmt = stmt.where(Payment.amount <= filters.amount_lte)
    if filters.search:
        stmt = stmt.where(
            or_(
                Payment.id == filters.search,
                Payment.customer_id == filters.search,
                Payment.gateway_transaction_id == filters.search,
            )
        )
    return stmt


async def list_refunds(
    session: AsyncSession, principal: Principal, payment_id: str
) -> list[Refund]:
    payment = await get_payment(session, principal, payment_id)
    refunds = await session.scalars(
        select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id)
    )
    return list(refunds.all())
