"""What the payments domain tells other domains about past payments, read from its own tables
(they never read them): the money each account's payments moved (account health) and the
payments as the rule engine saw them (the rule simulator)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.commerce.models import Customer, Order
from avnz.payments.models import Payment, PaymentMethod
from avnz.routing.accounts.health import MoneyWindow
from avnz.rules.inputs import CardFacts, Transaction
from avnz.rules.simulation import PastPayment


async def money_windows(
    session: AsyncSession, account_ids: Sequence[str], since: datetime
) -> dict[str, MoneyWindow]:
    """Per account: captured and refunded amounts and chargebacks of its payments since `since`,
    in one aggregate query (`routing.accounts.health.MoneyWindows`)."""
    if not account_ids:
        return {}
    rows = await session.execute(
        select(
            Payment.merchant_account_id,
            func.coalesce(func.sum(Payment.amount_captured), 0),
            func.coalesce(func.sum(Payment.amount_refunded), 0),
            func.coalesce(func.sum(case((Payment.chargeback_at.is_not(None), 1), else_=0)), 0),
        )
        .where(Payment.merchant_account_id.in_(list(account_ids)), Payment.created_at >= since)
        .group_by(Payment.merchant_account_id)
    )
    return {
        account_id: MoneyWindow(int(captured), int(refunded), int(chargebacks))
        for account_id, captured, refunded, chargebacks in rows
    }


async def rule_history(
    session: AsyncSession, company_id: str, since: datetime, until: datetime, limit: int
) -> list[PastPayment]:
    """The company's payments of [since, until) in creation order, at most `limit`, rebuilt as
    the rule engine saw them (`rules.simulation.PaymentHistory`). Their customers and orders
    are loaded in two queries so the replay finds them in the session."""
    rows = (
        await session.execute(
            select(Payment, PaymentMethod)
            .outerjoin(PaymentMethod, PaymentMethod.id == Payment.payment_method_id)
            .where(
                Payment.company_id == company_id,
                Payment.created_at >= since,
                Payment.created_at < until,
            )
            .order_by(Payment.created_at, Payment.id)
            .limit(limit)
        )
    ).all()
    customer_ids = {p.customer_id for p, _ in rows if p.customer_id}
    order_ids = {p.order_id for p, _ in rows if p.order_id}
    if customer_ids:
        await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    if order_ids:
        await session.scalars(select(Order).where(Order.id.in_(order_ids)))
    return [await _past(session, payment, method) for payment, method in rows]


async def _past(
    session: AsyncSession, payment: Payment, method: PaymentMethod | None
) -> PastPayment:
    billing = (method.billing_address if method else None) or {}
    state = billing.get("state")
    transaction = Transaction(
        amount=payment.amount - payment.surcharge_amount + payment.discount_amount,
        currency=payment.currency,
        moment=payment.created_at,
        card=CardFacts(
            brand=payment.card_brand,
            card_type=method.card_type if method else None,
            bin=payment.card_bin,
            issuing_country=payment.card_country,
        ),
        country=billing.get("country"),
        state=str(state).upper() if state else None,
        customer_id=payment.customer_id,
        order=await session.get(Order, payment.order_id) if payment.order_id else None,
        is_3ds_enrolled="three_d_secure" in payment.routing,
    )
    return PastPayment(
        id=payment.id,
        created_at=payment.created_at,
        amount=payment.amount,
        currency=payment.currency,
        customer_id=payment.customer_id,
        transaction=transaction,
        actual_rule_id=payment.routing.get("rule_id"),
        actual_pool_id=payment.routing.get("pool_id"),
        actual_account_id=payment.merchant_account_id,
    )
