"""The compiled rule sets of this process, one per company, kept fresh by the rule-set version.

`RuleCache.rule_set` is what the payment path calls. It reads the company's rule-set version
(one primary-key lookup, `routing_rule_sets`; or the payment path reads it along a statement of
its own, `RULE_SET_VERSION`, and passes it in) and recompiles only when that number moved, so a
change made through any process takes effect on the next payment in every process.

A stored rule that no longer parses (data written by a newer release, say) is skipped and logged:
one bad row never stops a company's payments.
"""

import structlog
from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.rules.actions import InvalidActions
from avnz.rules.conditions import InvalidConditions
from avnz.rules.engine import RuleSet, compile_rule, evaluation_order
from avnz.rules.models import RoutingRule, RuleSetVersion
from avnz.rules.schedule import zone_of

log = structlog.get_logger(__name__)

# Built once: every payment reads it, on its own or as a scalar subquery riding along another
# statement (bind the company's id as `rules_company`).
RULE_SET_VERSION = (
    select(RuleSetVersion.version)
    .where(RuleSetVersion.company_id == bindparam("rules_company"))
    .scalar_subquery()
)
_VERSION = select(RULE_SET_VERSION)


async def rule_set_version(session: AsyncSession, company_id: str) -> int:
    version = await session.scalar(_VERSION, {"rules_company": company_id})
    return version or 0


async def active_rules(session: AsyncSession, company_id: str) -> list[RoutingRule]:
    rows = await session.scalars(
        select(RoutingRule).where(
            RoutingRule.company_id == company_id,
            RoutingRule.is_active.is_(True),
            RoutingRule.deleted_at.is_(None),
        )
    )
    return evaluation_order(list(rows))


async def load_rule_set(
    session: AsyncSession, company_id: str, timezone: str, version: int
) -> RuleSet:
    compiled = []
    for row in await active_rules(session, company_id):
        try:
            compiled.append(compile_rule(row))
        except (InvalidConditions, InvalidActions, ValidationError) as exc:
            log.error("rules.rule_skipped", rule_id=row.id, company_id=company_id, error=str(exc))
    return RuleSet(company_id, version, timezone, zone_of(timezone), tuple(compiled))


class RuleCache:
    """Compiled rule sets of this process, one per company, keyed by the rule-set version."""

    def __init__(self) -> None:
        self._sets: dict[str, RuleSet] = {}

    async def rule_set(
        self, session: AsyncSession, company_id: str, timezone: str, version: int | None = None
    ) -> RuleSet:
        """The company's compiled rules at `version` (read here when not given)."""
        # The version is read before the rules: a change that lands in between is compiled
        # under the older number and simply compiled again on the next call.
        if version is None:
            version = await rule_set_version(session, company_id)
        cached = self._sets.get(company_id)
        if cached is not None and cached.version == version and cached.timezone == timezone:
            return cached
        rule_set = await load_rule_set(session, company_id, timezone, version)
        self._sets[company_id] = rule_set
        return rule_set

    def clear(self) -> None:
        self._sets.clear()
