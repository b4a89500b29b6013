"""Rule analytics: hits per rule, UTC day and A/B arm, and the outcomes of the payments a rule
routed; the all-time hit count and last hit on the rule itself.

The payment path calls `record_payment`. Each count is one upsert (INSERT … ON CONFLICT DO
UPDATE SET n = n + 1) or one UPDATE, so the database adds, not Python: no count
is lost however many payments hit a rule at once, on SQLite or PostgreSQL.
"""

from collections import defaultdict
from collections.abc import Callable
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
    at = clock.as_utc(at).astimezone(UTC)
    counts = {
        "add_hits": int(hit),
        "add_successes": int(succeeded is True),
        "add_failures": int(succeeded is False),
    }
    if not any(counts.values()):
        return
    count = _count_statement(session.get_bind().dialect.name)
    await session.execute(count, {"rule": rule_id, "day": at.date(), "arm": Arm(arm), **counts})
    if hit:
        await session.execute(_HIT, {"rule": rule_id, "moment": at})


# Built once (per database dialect): the payment path runs them for every matched payment.
_COUNTED = ("hits", "successes", "failures")
_COUNT: dict[str, Any] = {}
_MOMENT = bindparam("moment", type_=RULES.c.last_hit_at.type)
_HIT = (
    update(RULES)
    .where(RULES.c.id == bindparam("rule"))
    .values(
        hit_count=RULES.c.hit_count + 1,
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
