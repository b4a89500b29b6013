"""What the payments domain tells the disputes domain, and what it lets it write: the payment a
gateway's dispute names, the payment's chargeback mark (read by account health through
`history.money_windows`), and how many payments an account settled per card brand."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.payments.models import Payment


@dataclass(frozen=True, slots=True)
class DisputedPayment:
    id: str
    organization_id: str
    client_id: str
    company_id: str
    merchant_account_id: str
    provider: str
    card_brand: str | None
    amount: int
    currency: str


async def find(
    session: AsyncSession,
    *,
    references: Sequence[str],
    merchant_account_id: str | None = None,
    company_id: str | None = None,
) -> DisputedPayment | None:
    """The payment whose id or gateway transaction id is one of `references`, within the given
    account or company (one of them is required: a dispute never reaches across tenants)."""
    if merchant_account_id is None and company_id is None:
        raise ValueError("a merchant account or a company is required")
    wanted = [ref for ref in references if ref]
    if not wanted:
        return None
    stmt = select(Payment).where(
        Payment.gateway_transaction_id.in_(wanted) | Payment.id.in_(wanted)
    )
    if merchant_account_id is not None:
        stmt = stmt.where(Payment.merchant_account_id == merchant_account_id)
    if company_id is not None:
        stmt = stmt.where(Payment.company_id == company_id)
    payment = await session.scalar(stmt.limit(1))
    if payment is None:
        return None
    return DisputedPayment(
        id=payment.id,
        organization_id=payment.organization_id,
        client_id=payment.client_id,
        company_id=payment.company_id,
        merchant_account_id=payment.merchant_account_id,
        provider=payment.provider,
        card_brand=payment.card_brand,
        amount=payment.amount,
        currency=payment.currency,
    )


async def mark_charged_back(session: AsyncSession, *, payment_id: str, at: datetime) -> None:
    """Record the first chargeback of a payment; a later report of the same one keeps the first
    moment (the networks count a dispute once, whatever its outcome)."""
    await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.chargeback_at.is_(None))
        .values(chargeback_at=at)
    )


async def settled_by_brand(
    session: AsyncSession, *, merchant_account_id: str, since: datetime, until: datetime
) -> dict[str, int]:
    """Per card brand, the account's payments that took money in [since, until)."""
    rows = await session.execute(
        select(Payment.card_brand, func.count())
        .where(
            Payment.merchant_account_id == merchant_account_id,
            Payment.created_at >= since,
            Payment.created_at < until,
            Payment.amount_captured > 0,
        )
        .group_by(Payment.card_brand)
    )
    return {str(brand or "unknown"): int(count) for brand, count in rows}
