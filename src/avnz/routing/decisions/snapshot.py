"""The numbers strategies compare, read in a fixed number of queries whatever the pool's size.

- Recent stats: ONE query over the pool's accounts' recent attempts (routing's own records: the
  newest `sample_size` per account within `lookback_hours`, a window function), folded in
  Python into approval counts (overall and per context key) and a latency EWMA. Cached per pool
  and settings for `STATS_TTL_SECONDS`: the hot path reads it from memory.
- In flight: the attempts this process has at each account's gateway right now (`InFlight`),
  as a load balancer counts its own open requests; no query.
- Live state: ONE query for the day and month buckets of every account and the circuits that
  are not plainly closed (`live`; never cached: caps and circuits move with every payment).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from avnz.core.cache import TtlCache
from avnz.gateways.base import Outcome
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import Period
from avnz.routing.accounts.schemas import AccountLimits
from avnz.routing.decisions import circuit_breaker
from avnz.routing.decisions.models import IN_DOUBT, RoutingAttempt
from avnz.routing.strategies.base import StrategyConfig

STATS_TTL_SECONDS = 2.0
APPROVED = Outcome.APPROVED.value
# Upper bounds (minor units, exclusive) of the amount bands of the adaptive context key.
AMOUNT_BANDS = (1_000, 5_000, 20_000, 100_000)


def amount_band(amount: int) -> int:
    return next((band for band, bound in enumerate(AMOUNT_BANDS) if amount < bound), 4)


def context_key(card_brand: str | None, card_country: str | None, amount: int) -> str:
    """Which transactions count as 'similar' for ADAPTIVE: brand, country, amount band."""
    return f"{card_brand or '-'}|{card_country or '-'}|{amount_band(amount)}"


@dataclass(slots=True)
class AccountStats:
    approved: int = 0
    decided: int = 0
    in_flight: int = 0
    latency_ewma_ms: float | None = None
    # context key -> [approved, refused]
    by_context: dict[str, list[int]] = field(default_factory=dict)


class InFlight:
    """Attempts this process has at each account's gateway now (LEAST_LOAD compares them)."""

    def __init__(self) -> None:
        self._open: defaultdict[str, int] = defaultdict(int)

    def started(self, account_id: str) -> None:
        self._open[account_id] += 1

    def ended(self, account_id: str) -> None:
        self._open[account_id] = max(0, self._open[account_id] - 1)

    def at(self, account_id: str) -> int:
        return self._open.get(account_id, 0)


in_flight = InFlight()


_stats_cache: TtlCache[tuple[str, int, int, float, tuple[str, ...]], dict[str, AccountStats]] = (
    TtlCache(STATS_TTL_SECONDS)
)


def clear_cache() -> None:
    """Forget every cached pool's stats (tests, or after bulk changes)."""
    _stats_cache.clear()


async def recent_stats(
    session: AsyncSession,
    pool_id: str,
    account_ids: Sequence[str],
    config: StrategyConfig,
    now: datetime,
    *,
    cached: bool = True,
) -> dict[str, AccountStats]:
    """Stats per account from its recent attempts; accounts without any get zeros. The counts
    in flight are this process's, read fresh on every call."""
    alpha = config.latency_weight()
    key = (pool_id, config.lookback_hours, config.sample_size, alpha, tuple(sorted(account_ids)))
    stats = _stats_cache.get(key) if cached else None
    if stats is None:
        stats = await _read_stats(session, account_ids, config, alpha, now)
        _stats_cache.put(key, stats)
    for account_id, entry in stats.items():
        entry.in_flight = in_flight.at(account_id)
    return stats


async def _read_stats(
    session: AsyncSession,
    account_ids: Sequence[str],
    config: StrategyConfig,
    alpha: float,
    now: datetime,
) -> dict[str, AccountStats]:
    stats = {account_id: AccountStats() for account_id in account_ids}
    if not account_ids:
        return stats
    rank = (
        func.row_number()
        .over(
            partition_by=RoutingAttempt.account_id,
            order_by=(RoutingAttempt.created_at.desc(), RoutingAttempt.id.desc()),
        )
        .label("rank")
    )
    recent = (
        select(
            RoutingAttempt.account_id,
            RoutingAttempt.outcome,
            RoutingAttempt.latency_ms,
            RoutingAttempt.card_brand,
            RoutingAttempt.card_country,
            RoutingAttempt.amount,
            rank,
        )
        .where(
            RoutingAttempt.account_id.in_(account_ids),
            RoutingAttempt.created_at >= now - timedelta(hours=config.lookback_hours),
        )
        .subquery()
    )
    rows = await session.execute(
        select(recent)
        .where(recent.c.rank <= config.sample_size)
        .order_by(recent.c.account_id, recent.c.rank.desc())  # oldest first: EWMA
    )
    for account_id, outcome, latency, brand, country, amount, _ in rows:
        entry = stats[account_id]
        previous = entry.latency_ewma_ms
        entry.latency_ewma_ms = (
            latency if previous is None else alpha * latency + (1 - alpha) * previous
        )
        if outcome in IN_DOUBT:
            continue
        approved = outcome == APPROVED
        entry.decided += 1
        entry.approved += approved
        tally = entry.by_context.setdefault(context_key(brand, country, amount), [0, 0])
        tally[0 if approved else 1] += 1
    return stats


@dataclass(frozen=True, slots=True)
class Live:
    """What moves with every payment: today's and this month's usage of each account
    (account -> period -> (transactions, volume)) and the accounts' circuits."""

    used: dict[str, dict[Period, tuple[int, int]]]
    circuits: circuit_breaker.Circuits


_USAGE, _CIRCUITS = usage.USAGE, circuit_breaker.CIRCUITS
_ACCOUNTS: BindParameter[str] = bindparam("accounts", expanding=True)
_DAY_TYPE = _USAGE.c.period_start.type
# Built once: every payment's plan reads both in this one statement, rows told apart by `kind`.
_LIVE = union_all(
    select(
        literal("usage").label("kind"),
        _USAGE.c.account_id,
        cast(_USAGE.c.period, String(8)).label("period"),
        cast(_USAGE.c.transaction_count, BigInteger).label("count"),
        cast(_USAGE.c.volume_minor, BigInteger).label("volume"),
        cast(null(), _CIRCUITS.c.excluded_until.type).label("excluded_until"),
    ).where(
        _USAGE.c.account_id.in_(_ACCOUNTS),
        or_(
            and_(
                _USAGE.c.period == Period.DAY,
                _USAGE.c.period_start == bindparam("day", type_=_DAY_TYPE),
            ),
            and_(
                _USAGE.c.period == Period.MONTH,
                _USAGE.c.period_start == bindparam("month", type_=_DAY_TYPE),
            ),
        ),
    ),
    select(
        literal("circuit"),
        _CIRCUITS.c.account_id,
        cast(null(), String(8)),
        cast(_CIRCUITS.c.consecutive_failures, BigInteger),
        cast(null(), BigInteger),
        _CIRCUITS.c.excluded_until,
    ).where(
        _CIRCUITS.c.account_id.in_(_ACCOUNTS),
        or_(_CIRCUITS.c.consecutive_failures > 0, _CIRCUITS.c.excluded_until.is_not(None)),
    ),
)


async def live(session: AsyncSession, account_ids: Sequence[str], at: datetime) -> Live:
    """The accounts' usage in the buckets of `at` and their circuits, in one query."""
    used: dict[str, dict[Period, tuple[int, int]]] = defaultdict(dict)
    if not account_ids:
        return Live(used, circuit_breaker.Circuits())
    buckets = {b.period: b for b in usage.buckets_at(at)}
    window = {
        "accounts": list(account_ids),
        "day": buckets[Period.DAY].period_start,
        "month": buckets[Period.MONTH].period_start,
    }
    circuits: list[tuple[str, datetime | None]] = []
    for kind, account_id, period, count, volume, excluded_until in await session.execute(
        _LIVE, window
    ):
        if kind == "usage":
            used[account_id][Period(period)] = (int(count), int(volume))
        else:
            circuits.append((account_id, excluded_until))
    return Live(used, circuit_breaker.circuits_of(circuits, at))


def headroom(
    limits: AccountLimits, period: Period, used: tuple[int, int], amount: int
) -> float | None:
    """The share of the period's tightest cap left after this transaction (negative: it does
    not fit); None when the period has no cap."""
    count_cap, volume_cap = limits.caps(period)
    count, volume = used
    shares = []
    if count_cap is not None:
        shares.append((count_cap - count - 1) / count_cap if count_cap else -1.0)
    if volume_cap is not None:
        shares.append((volume_cap - volume - amount) / volume_cap if volume_cap else -1.0)
    return min(shares) if shares else None
