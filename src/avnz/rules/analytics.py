"""Rule analytics: hits per rule, UTC day and A/B arm, and the outcomes of the payments a rule
routed; the all-time hit count and last hit on the rule itself.

Counted off the payment path: the payments domain publishes its settled payments in batches
(`count_payments`, in the same transaction that marks them published, so none is counted twice
or lost), and a refused payment counts at once (`record_payment`). Each count is one upsert
(INSERT … ON CONFLICT DO UPDATE SET n = n + k) or one UPDATE, so the database adds, not
Python: no count is lost however many processes count at once, on SQLite or PostgreSQL.
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.errors import InvalidRequest
from avnz.rules.models import Arm, RoutingRule, RuleDailyStats
from avnz.rules.schemas import ArmStats, DayStats, RuleAnalyticsOut

STATS: Table = cast(Table, RuleDailyStats.__table__)
RULES: Table = cast(Table, RoutingRule.__table__)
DEFAULT_DAYS = 30
MAX_DAYS = 366

# INSERT … ON CONFLICT, in each supported database's dialect.
_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def upsert_into(session: AsyncSession, table: Table) -> Any:
    """An INSERT on `table` that supports `on_conflict_do_update` in the session's database."""
    return _INSERTS[session.get_bind().dialect.name](table)


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """A payment a rule matched at `at`, in arm `arm`; `succeeded` None while in doubt."""

    rule_id: str
    arm: str
    at: datetime
    succeeded: bool | None


async def record_payment(
    session: AsyncSession,
    *,
    rule_id: str,
    arm: str,
    at: datetime,
    hit: bool,
    succeeded: bool | None,
) -> None:
    """Count a payment the rule matched at `at`, in that UTC day and arm: its hit (`hit`; also
    on the rule: hit_count, and last_hit_at unless a later hit is already recorded) and its
    outcome once known (`succeeded`), in one upsert."""
    counts = {
        "add_hits": int(hit),
        "add_successes": int(succeeded is True),
        "add_failures": int(succeeded is False),
    }
    await _add(session, rule_id, Arm(arm), clock.as_utc(at).astimezone(UTC), counts)


async def count_payments(session: AsyncSession, outcomes: Sequence[RuleOutcome]) -> None:
    """Count each payment's hit and outcome for its rule: one upsert and one UPDATE per (rule,
    day, arm), however many payments there are."""
    groups: dict[tuple[str, date, Arm], dict[str, int]] = defaultdict(
        lambda: {"add_hits": 0, "add_successes": 0, "add_failures": 0}
    )
    latest: dict[tuple[str, date, Arm], datetime] = {}
    for outcome in outcomes:
        at = clock.as_utc(outcome.at).astimezone(UTC)
        key = (outcome.rule_id, at.date(), Arm(outcome.arm))
        counts = groups[key]
        counts["add_hits"] += 1
        counts["add_successes"] += outcome.succeeded is True
        counts["add_failures"] += outcome.succeeded is False
        latest[key] = max(latest.get(key, at), at)
    for key, counts in sorted(groups.items()):
        rule_id, _day, arm = key
        await _add(session, rule_id, arm, latest[key], counts)


async def _add(
    session: AsyncSession, rule_id: str, arm: Arm, at: datetime, counts: dict[str, int]
) -> None:
    """Add `counts` to the rule's (day of `at`, arm) row, and its hits to the rule itself."""
    if not any(counts.values()):
        return
    count = _count_statement(session.get_bind().dialect.name)
    await session.execute(count, {"rule": rule_id, "day": at.date(), "arm": arm, **counts})
    if counts["add_hits"]:
        hits = {"rule": rule_id, "moment": at, "hits": counts["add_hits"]}
        await session.execute(_HIT, hits)


# Built once (per database dialect): every publication of payments runs them.
_COUNTED = ("hits", "successes", "failures")
_COUNT: dict[str, Any] = {}
_MOMENT = bindparam("moment", type_=RULES.c.last_hit_at.type)
_HIT = (
    update(RULES)
    .where(RULES.c.id == bindparam("rule"))
    .values(
        hit_count=RULES.c.hit_count + bindparam("hits", type_=RULES.c.hit_count.type),
        last_hit_at=case(
            (RULES.c.last_hit_at.is_(None) | (RULES.c.last_hit_at < _MOMENT), _MOMENT),
            else_=RULES.c.last_hit_at,
        ),
    )
)


def _count_statement(dialect: str) -> Any:
    """INSERT the (rule, day, arm) row with these counts, or add them to the row there."""
    if dialect not in _COUNT:
        insert = _INSERTS[dialect](STATS).values(
            rule_id=bindparam("rule"),
            day=bindparam("day"),
            arm=bindparam("arm"),
            **{column: bindparam(f"add_{column}") for column in _COUNTED},
        )
        _COUNT[dialect] = insert.on_conflict_do_update(
            index_elements=["rule_id", "day", "arm"],
            set_={column: STATS.c[column] + insert.excluded[column] for column in _COUNTED},
        )
    return _COUNT[dialect]


def analytics_range(since: date | None, until: date | None) -> tuple[date, date]:
    """The range asked for, by default the last 30 UTC days; 400 when it is reversed or longer
    than 366 days."""
    until = until or clock.now().astimezone(UTC).date()
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise InvalidRequest("since must not be after until.", param="since")
    if (until - since).days + 1 > MAX_DAYS:
        raise InvalidRequest(f"The range may span at most {MAX_DAYS} days.", param="since")
    return since, until


def _rate(successes: int, failures: int) -> float | None:
    outcomes = successes + failures
    return round(successes / outcomes, 4) if outcomes else None


async def rule_analytics(
    session: AsyncSession, rule: RoutingRule, *, since: date, until: date
) -> RuleAnalyticsOut:
    """Hits and outcomes of the rule for every day of [since, until], and per arm."""
    rows = await session.execute(
        select(STATS).where(STATS.c.rule_id == rule.id, STATS.c.day.between(since, until))
    )
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    per_arm: dict[Arm, list[int]] = {Arm.CONTROL: [0, 0, 0]}
    if rule.ab_test is not None:
        per_arm[Arm.VARIANT] = [0, 0, 0]
    for row in rows:
        for totals in (per_day[row.day], per_arm.setdefault(Arm(row.arm), [0, 0, 0])):
            totals[0] += row.hits
            totals[1] += row.successes
            totals[2] += row.failures
    days = [since + timedelta(days=offset) for offset in range((until - since).days + 1)]
    return RuleAnalyticsOut(
        rule_id=rule.id,
        since=since,
        until=until,
        hit_count=rule.hit_count,
        last_hit_at=rule.last_hit_at,
        days=[
            DayStats(day=day, hits=h, successes=s, failures=f, success_rate=_rate(s, f))
            for day in days
            for h, s, f in [per_day.get(day, [0, 0, 0])]
        ],
        arms=[
            ArmStats(arm=arm, hits=h, successes=s, failures=f, success_rate=_rate(s, f))
            for arm, (h, s, f) in sorted(per_arm.items())
        ],
    )
