"""Counts for the dashboard home, scoped by the caller's place in the hierarchy.

Days are UTC days. Grouping happens in SQL with a CASE over the day boundaries, so it reads
the same on SQLite and PostgreSQL and never loads the payments themselves.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.analytics.schemas import Chart, Day, Summary, Volume
from avnz.auth.scope import Principal, mode_clause, scope_clause
from avnz.commerce.models import Customer, CustomerStatus
from avnz.core import clock
from avnz.payments.models import Payment
from avnz.payments.states import PaymentStatus

# Money was taken (and may since have been refunded): gross volume counts it.
TAKEN = (
    PaymentStatus.AUTHORIZED,
    PaymentStatus.CAPTURED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
)
# The gateway approved it: the success rate counts it (a voided authorization was approved).
APPROVED = (*TAKEN, PaymentStatus.VOIDED)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=clock.now().tzinfo)


def _scoped(principal: Principal, company_id: str | None) -> list[object]:
    conditions: list[object] = [
        scope_clause(
            principal,
            organization_id=Payment.organization_id,
            client_id=Payment.client_id,
            company_id=Payment.company_id,
        ),
        mode_clause(principal, Payment.livemode),
    ]
    if company_id is not None:
        conditions.append(Payment.company_id == company_id)
    return conditions


async def _tallies(
    session: AsyncSession, principal: Principal, company_id: str | None, days: list[date]
) -> dict[date, dict[str, dict[str, int]]]:
    """day -> status -> {"count", "<currency>": approved amount}."""
    boundaries = [_midnight(day) for day in days]
    bucket = case(
        *[
            (Payment.created_at >= start, index)
            for index, start in reversed(list(enumerate(boundaries)))
        ],
        else_=-1,
    )
    stmt = (
        select(bucket, Payment.status, Payment.currency, func.count(), func.sum(Payment.amount))
        .where(
            and_(*_scoped(principal, company_id)),  # type: ignore[arg-type]
            Payment.created_at >= boundaries[0],
            Payment.created_at < boundaries[-1] + timedelta(days=1),
        )
        .group_by(bucket, Payment.status, Payment.currency)
    )
    tallies: dict[date, dict[str, dict[str, int]]] = {day: defaultdict(dict) for day in days}
    for index, status, currency, count, amount in await session.execute(stmt):
        if index < 0:
            continue
        entry = tallies[days[index]][status]
        entry["count"] = entry.get("count", 0) + count
        entry[currency] = entry.get(currency, 0) + int(amount or 0)
    return tallies


def _count(statuses: dict[str, dict[str, int]], wanted: tuple[PaymentStatus, ...]) -> int:
    return sum(statuses.get(status.value, {}).get("count", 0) for status in wanted)


def _volume(statuses: dict[str, dict[str, int]]) -> list[Volume]:
    totals: dict[str, int] = defaultdict(int)
    for status in TAKEN:
        for key, amount in statuses.get(status.value, {}).items():
            if key != "count":
                totals[key] += amount
    return [Volume(currency=c, amount=a) for c, a in sorted(totals.items())]


async def summary(session: AsyncSession, principal: Principal, company_id: str | None) -> Summary:
    today = clock.now().date()
    statuses = (await _tallies(session, principal, company_id, [today]))[today]
    approved = _count(statuses, APPROVED)
    declined = _count(statuses, (PaymentStatus.DECLINED,))
    failed = _count(statuses, (PaymentStatus.FAILED,))
    decided = approved + declined + failed
    return Summary(
        day=today,
        transactions=sum(entry.get("count", 0) for entry in statuses.values()),
        approved=approved,
        declined=declined,
        failed=failed,
        success_rate=round(approved / decided, 4) if decided else None,
        volume=_volume(statuses),
        active_customers=await _active_customers(session, principal, company_id),
    )


async def chart(
    session: AsyncSession, principal: Principal, company_id: str | None, days: int = 7
) -> Chart:
    today = clock.now().date()
    span = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    tallies = await _tallies(session, principal, company_id, span)
    return Chart(
        days=[
            Day(
                day=day,
                transactions=sum(e.get("count", 0) for e in tallies[day].values()),
                approved=_count(tallies[day], APPROVED),
                volume=_volume(tallies[day]),
            )
            for day in span
        ]
    )


async def _active_customers(
    session: AsyncSession, principal: Principal, company_id: str | None
) -> int:
    stmt = select(func.count()).where(
        scope_clause(
            principal,
            organization_id=Customer.organization_id,
            client_id=Customer.client_id,
            company_id=Customer.company_id,
        ),
        mode_clause(principal, Customer.livemode),
        Customer.status == CustomerStatus.ACTIVE,
    )
    if company_id is not None:
        stmt = stmt.where(Customer.company_id == company_id)
    return int(await session.scalar(stmt) or 0)
