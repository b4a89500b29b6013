"""Usage counters per account and period bucket, and capacity reservations that cannot race.

A bucket is (account, period, period start): the UTC day, the ISO week's Monday, the month's
first day, January 1st. A new period is a new row, so counters start from zero without a reset
job. Reserving is one conditional UPDATE of the four buckets, which counts the transaction in
each row only if the result stays within that row's caps; the database decides, not Python:

- PostgreSQL: the UPDATE takes the row locks; a concurrent UPDATE waits, then re-checks its
  WHERE against the committed rows (READ COMMITTED re-evaluation), so caps hold.
- SQLite: every transaction begins IMMEDIATE (one writer at a time), so the check-and-add of
  one transaction cannot interleave with another's.

The rows are visited in primary-key order by every reservation, so two reservations never wait
on each other in opposite orders. When a bucket refuses, the increments made to the others are
given back in the same transaction, which goes on (e.g. to try another account).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, cast

from sqlalchemy import BigInteger, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core.clock import as_utc
from avnz.core.errors import AppError, InvalidRequest
from avnz.core.money import Money
from avnz.routing.accounts.models import MerchantAccount, MerchantAccountUsage, Period
from avnz.routing.accounts.schemas import AccountLimits

USAGE: Table = cast(Table, MerchantAccountUsage.__table__)
PERIODS: tuple[Period, ...] = (Period.DAY, Period.WEEK, Period.MONTH, Period.YEAR)
ADJECTIVE: dict[Period, str] = {
    Period.DAY: "daily",
    Period.WEEK: "weekly",
    Period.MONTH: "monthly",
    Period.YEAR: "yearly",
}

# INSERT … ON CONFLICT DO NOTHING, in each supported database's dialect.
_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


class LimitExceeded(AppError):
    """The account cannot take this transaction: an amount bound or a period cap."""

    status_code: ClassVar[int] = 422
    default_code: ClassVar[str] = "limit_exceeded"

    def __init__(
        self, message: str, *, limit: str, period: Period | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        self.limit = limit  # which limit: e.g. "daily_transaction_limit"
        self.period = period


@dataclass(frozen=True, slots=True)
class Bucket:
    period: Period
    period_start: date

    @property
    def period_end(self) -> date:
        """The first day of the next period (exclusive)."""
        return period_end(self.period, self.period_start)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Capacity taken on an account; `release` gives exactly this back."""

    account_id: str
    amount_minor: int
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True, slots=True)
class BucketUsage:
    bucket: Bucket
    transaction_count: int
    volume_minor: int


def period_start(period: Period, day: date) -> date:
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return date(day.year, 1, 1)


def period_end(period: Period, start: date) -> date:
    if period is Period.DAY:
        return start + timedelta(days=1)
    if period is Period.WEEK:
        return start + timedelta(days=7)
    if period is Period.MONTH:
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def buckets_at(at: datetime) -> tuple[Bucket, ...]:
    """The four buckets that a transaction at `at` (UTC) counts in."""
    day = as_utc(at).astimezone(UTC).date()
    return tuple(Bucket(period, period_start(period, day)) for period in PERIODS)


def check_amount(limits: AccountLimits, amount_minor: int, currency: str) -> None:
    """Refuse an amount outside the account's per-transaction bounds."""
    if amount_minor < 0:
        raise InvalidRequest("The amount must not be negative.", param="amount")
    low, high = limits.min_transaction_amount, limits.max_transaction_amount
    if low is not None and amount_minor < low:
        raise LimitExceeded(
            f"The amount {Money(amount_minor, currency)} is below this account's minimum "
            f"of {Money(low, currency)}.",
            limit="min_transaction_amount",
            param="amount",
        )
    if high is not None and amount_minor > high:
        raise LimitExceeded(
            f"The amount {Money(amount_minor, currency)} is above this account's maximum "
            f"of {Money(high, currency)}.",
            limit="max_transaction_amount",
            param="amount",
        )


def _key(account_id: str, bucket: Bucket) -> Any:
    return and_(
        USAGE.c.account_id == account_id,
        USAGE.c.period == bucket.period,
        USAGE.c.period_start == bucket.period_start,
    )


async def _ensure_rows(session: AsyncSession, account_id: str, buckets: Sequence[Bucket]) -> None:
    """Insert the missing bucket rows at zero; existing rows (and their locks) are untouched."""
    insert = _INSERTS[session.get_bind().dialect.name]
    rows = [
        {
            "account_id": account_id,
            "period": bucket.period,
            "period_start": bucket.period_start,
            "transaction_count": 0,
            "volume_minor": 0,
        }
        for bucket in buckets
    ]
    await session.execute(
        insert(USAGE)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["account_id", "period", "period_start"])
    )


async def _refusal(
    session: AsyncSession, account: MerchantAccount, bucket: Bucket, amount_minor: int
) -> LimitExceeded:
    """Say which cap of `bucket` refused the reservation (read in the same transaction)."""
    limits = AccountLimits.model_validate(account.limits)
    count_cap, volume_cap = limits.caps(bucket.period)
    row = (
        await session.execute(
            select(USAGE.c.transaction_count, USAGE.c.volume_minor).where(_key(account.id, bucket))
        )
    ).one()
    adjective = ADJECTIVE[bucket.period]
    if count_cap is not None and row.transaction_count + 1 > count_cap:
        return LimitExceeded(
            f"The {adjective} transaction limit of {count_cap} is reached on this account.",
            limit=f"{adjective}_transaction_limit",
            period=bucket.period,
        )
    assert volume_cap is not None
    return LimitExceeded(
        f"The {adjective} volume limit of {Money(volume_cap, account.currency)} would be "
        f"exceeded ({Money(row.volume_minor, account.currency)} used, this transaction "
        f"{Money(amount_minor, account.currency)}).",
        limit=f"{adjective}_volume_limit",
        period=bucket.period,
    )


async def reserve(
    session: AsyncSession, account: MerchantAccount, amount_minor: int, at: datetime
) -> Reservation:
    """Count one transaction of `amount_minor` (the account's currency) in every bucket of `at`,
    or raise LimitExceeded and change nothing. Caps hold under any concurrency.

    One conditional UPDATE of the four buckets together (`_ADD`), each row checked against its
    own caps. Fewer than four rows counted means a bucket is full or has no row yet (its period
    just began): the counted ones are given back, the missing rows created at zero, and the
    UPDATE tried once more before the full bucket is named."""
    limits = AccountLimits.model_validate(account.limits)
    check_amount(limits, amount_minor, account.currency)
    buckets = buckets_at(at)
    for first_try in (True, False):
        counted = await _add(session, account.id, limits, buckets, amount_minor)
        if len(counted) == len(buckets):
            return Reservation(account_id=account.id, amount_minor=amount_minor, buckets=buckets)
        await release(session, Reservation(account.id, amount_minor, counted))
        if first_try:
            await _ensure_rows(session, account.id, buckets)
    full = next(bucket for bucket in buckets if bucket not in counted)
    raise await _refusal(session, account, full, amount_minor)


def _bucket_match(period: Period) -> Any:
    """The WHERE of one bucket in `_ADD` and `_RELEASE`: its period and its start."""
    return and_(
        USAGE.c.period == period,
        USAGE.c.period_start == bindparam(f"{period}_start", type_=USAGE.c.period_start.type),
    )


def _within_caps(period: Period) -> Any:
    """The bucket's row stays within its caps after the transaction (a missing cap is NULL,
    which COALESCE turns into "no limit")."""
    count_cap = bindparam(f"{period}_count_cap", type_=BigInteger)
    volume_cap = bindparam(f"{period}_volume_cap", type_=BigInteger)
    return and_(
        _bucket_match(period),
        USAGE.c.transaction_count + 1 <= func.coalesce(count_cap, USAGE.c.transaction_count + 1),
        USAGE.c.volume_minor + _AMOUNT <= func.coalesce(volume_cap, USAGE.c.volume_minor + _AMOUNT),
    )


# Built once: the statements are the same for every reservation, only their parameters change.
# The account's buckets are locked first, in primary-key order (PostgreSQL would otherwise visit
# them in their physical order, which updates keep changing, and two reservations could lock
# them in opposite orders: a deadlock). SQLite has one writer and no FOR UPDATE to render.
_AMOUNT = bindparam("amount", type_=BigInteger)
_LOCKED_BUCKETS = (
    select(USAGE.c.period)
    .where(USAGE.c.account_id == bindparam("account"), or_(*map(_bucket_match, PERIODS)))
    .order_by(USAGE.c.period, USAGE.c.period_start)
    .with_for_update()
    .scalar_subquery()
)
_ADD = (
    update(USAGE)
    .where(
        USAGE.c.account_id == bindparam("account"),
        USAGE.c.period.in_(_LOCKED_BUCKETS),
        or_(*map(_within_caps, PERIODS)),
    )
    .values(
        transaction_count=USAGE.c.transaction_count + 1,
        volume_minor=USAGE.c.volume_minor + _AMOUNT,
    )
    .returning(USAGE.c.period)
)
_RELEASE = (
    update(USAGE)
    .where(
        USAGE.c.account_id == bindparam("account"),
        USAGE.c.period.in_(_LOCKED_BUCKETS),
        or_(*map(_bucket_match, PERIODS)),
        USAGE.c.transaction_count >= 1,
        USAGE.c.volume_minor >= _AMOUNT,
    )
    .values(
        transaction_count=USAGE.c.transaction_count - 1,
        volume_minor=USAGE.c.volume_minor - _AMOUNT,
    )
)


def _buckets_parameters(buckets: Sequence[Bucket]) -> dict[str, Any]:
    """Each period's start; a period missing from `buckets` matches no row (no start is NULL)."""
    starts: dict[str, Any] = {f"{period}_start": None for period in PERIODS}
    starts.update({f"{bucket.period}_start": bucket.period_start for bucket in buckets})
    return starts


async def _add(
    session: AsyncSession,
    account_id: str,
    limits: AccountLimits,
    buckets: Sequence[Bucket],
    amount: int,
) -> tuple[Bucket, ...]:
    """Add the transaction to each bucket that stays within its caps; the buckets counted."""
    parameters = {"account": account_id, "amount": amount, **_buckets_parameters(buckets)}
    for period in PERIODS:
        count_cap, volume_cap = limits.caps(period)
        parameters[f"{period}_count_cap"] = count_cap
        parameters[f"{period}_volume_cap"] = volume_cap
    counted = {Period(period) for period in (await session.scalars(_ADD, parameters)).all()}
    return tuple(bucket for bucket in buckets if bucket.period in counted)


async def release(session: AsyncSession, reservation: Reservation) -> None:
    """Give back a reservation whose transaction did not go through (declined, failed before
    sending). Call it once per reservation; counters never go below zero."""
    if not reservation.buckets:
        return
    parameters = {
        "account": reservation.account_id,
        "amount": reservation.amount_minor,
        **_buckets_parameters(reservation.buckets),
    }
    await session.execute(_RELEASE, parameters)


async def current(session: AsyncSession, account_id: str, at: datetime) -> list[BucketUsage]:
    """The four buckets `at` falls in; a bucket nobody counted in yet reads as zero."""
    buckets = buckets_at(at)
    rows = await session.execute(
        select(USAGE).where(
            USAGE.c.account_id == account_id,
            USAGE.c.period_start.in_({bucket.period_start for bucket in buckets}),
        )
    )
    found = {(row.period, row.period_start): row for row in rows}
    usage = []
    for bucket in buckets:
        row = found.get((bucket.period, bucket.period_start))
        usage.append(
            BucketUsage(
                bucket,
                row.transaction_count if row is not None else 0,
                row.volume_minor if row is not None else 0,
            )
        )
    return usage


async def history(
    session: AsyncSession, account_id: str, period: Period, before: date, limit: int
) -> tuple[list[BucketUsage], bool]:
    """Past buckets of `period` that started before `before`, newest first; and whether more
    exist beyond `limit`."""
    rows = (
        await session.execute(
            select(USAGE)
            .where(
                USAGE.c.account_id == account_id,
                USAGE.c.period == period,
                USAGE.c.period_start < before,
            )
            .order_by(USAGE.c.period_start.desc())
            .limit(limit + 1)
        )
    ).all()
    items = [
        BucketUsage(
            Bucket(Period(row.period), row.period_start), row.transaction_count, row.volume_minor
        )
        for row in rows[:limit]
    ]
    return items, len(rows) > limit
