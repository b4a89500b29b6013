"""Rule lint: what is probably wrong with a company's routing rules, said so a person can act.

- `never_matches`: the conditions contradict each other (`rules.analysis.never_matches`);
- `shadowed`: an active rule evaluated earlier matches everything this one matches, so this one
  never runs. Only a rule always in force when this one is counts: one with no schedule or the
  very same schedule. The default rule is evaluated last, so it shadows nothing;
- `schedule_ended`: the schedule's `ends_at` has passed;
- `inactive_target`, `capped_target`, `empty_pool`: an action (of the rule or of its A/B
  variant) routes to an account that is not active or has reached a cap of the current period,
  or to a pool that is inactive, has no active account, or whose active accounts are all capped.

Lint reads and never writes. A stored rule that no longer parses is left out, as the engine
leaves it out.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.money import Money
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.accounts.schemas import AccountLimits
from avnz.routing.pools.models import AccountPool, PoolMembership
from avnz.rules import analysis
from avnz.rules.actions import InvalidActions
from avnz.rules.actions.base import Action
from avnz.rules.conditions import InvalidConditions
from avnz.rules.engine import CompiledRule, compile_rule, evaluation_order
from avnz.rules.models import RoutingRule
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import get_visible

Code = Literal[
    "never_matches", "shadowed", "schedule_ended", "inactive_target", "capped_target", "empty_pool"
]


class LintWarning(BaseModel):
    code: Code
    rule_id: str
    message: str
    path: str | None = None  # the part of the rule at fault, e.g. "actions.0.account_id"
    related_id: str | None = None  # the other rule, account or pool involved


class LintOut(BaseModel):
    data: list[LintWarning]
    count: int


@dataclass(frozen=True, slots=True)
class _Rule:
    row: RoutingRule
    compiled: CompiledRule
    analysed: analysis.Analysed


@dataclass(slots=True)
class _Targets:
    """The company's accounts and pools, and the cap an account has reached (read once each)."""

    session: AsyncSession
    now: datetime
    accounts: dict[str, MerchantAccount]
    pools: dict[str, AccountPool]
    members: dict[str, list[MerchantAccount]]  # pool id -> accounts of its active memberships
    caps: dict[str, str | None] = field(default_factory=dict)

    async def reached_cap(self, account: MerchantAccount) -> str | None:
        """`daily transaction limit of 100` when a cap of the current period is reached."""
        if account.id not in self.caps:
            self.caps[account.id] = await _reached_cap(self.session, account, self.now)
        return self.caps[account.id]


async def _reached_cap(
    session: AsyncSession, account: MerchantAccount, now: datetime
) -> str | None:
    limits = AccountLimits.model_validate(account.limits)
    if not any(cap is not None for period in usage.PERIODS for cap in limits.caps(period)):
        return None
    for bucket in await usage.current(session, account.id, now):
        count_cap, volume_cap = limits.caps(bucket.bucket.period)
        adjective = usage.ADJECTIVE[bucket.bucket.period]
        resets = f"resets {bucket.bucket.period_end.isoformat()}"
        if count_cap is not None and bucket.transaction_count >= count_cap:
            return f"its {adjective} transaction limit of {count_cap} ({resets})"
        if volume_cap is not None and bucket.volume_minor >= volume_cap:
            limit = Money(volume_cap, account.currency)
            return f"its {adjective} volume limit of {limit} ({resets})"
    return None


async def _targets(session: AsyncSession, company_id: str, now: datetime) -> _Targets:
    accounts = (
        await session.scalars(
            select(MerchantAccount).where(MerchantAccount.company_id == company_id)
        )
    ).all()
    pools = (
        await session.scalars(select(AccountPool).where(AccountPool.company_id == company_id))
    ).all()
    rows = await session.execute(
        select(PoolMembership.pool_id, MerchantAccount)
        .join(MerchantAccount, MerchantAccount.id == PoolMembership.merchant_account_id)
        .where(
            MerchantAccount.company_id == company_id,
            PoolMembership.is_active.is_(True),
            MerchantAccount.status == AccountStatus.ACTIVE,
        )
    )
    members: dict[str, list[MerchantAccount]] = {}
    for pool_id, account in rows:
        members.setdefault(pool_id, []).append(account)
    return _Targets(
        session,
        now,
        {account.id: account for account in accounts},
        {pool.id: pool for pool in pools},
        members,
    )


# --- one rule --------------------------------------------------------------------------------


def _never(rule: _Rule) -> LintWarning | None:
    reason = rule.analysed.never_matches()
    if reason is None:
        return None
    return LintWarning(
        code="never_matches",
        rule_id=rule.row.id,
        message=f"This rule can never match: {reason}. Fix or remove the contradicting conditions.",
        path="conditions",
    )


def _shadower(rule: _Rule, earlier: Sequence[_Rule]) -> LintWarning | None:
    for other in earlier:
        schedule = other.compiled.schedule
        if not other.row.is_active or other.row.is_default:
            continue
        if schedule is not None and schedule != rule.compiled.schedule:
            continue
        if rule.analysed.covered_by(other.compiled.nodes):
            return LintWarning(
                code="shadowed",
                rule_id=rule.row.id,
                message=(
                    f"Rule {other.row.name!r} ({other.row.id}, priority {other.row.priority}) "
                    "runs first and matches every transaction this rule matches, so this rule "
                    "never runs. Give this rule a lower priority number or narrow the other rule."
                ),
                path="priority",
                related_id=other.row.id,
            )
    return None


def _ended(rule: _Rule, now: datetime) -> LintWarning | None:
    schedule = rule.compiled.schedule
    if schedule is None or not schedule.has_ended(now):
        return None
    assert schedule.ends_at is not None
    return LintWarning(
        code="schedule_ended",
        rule_id=rule.row.id,
        message=(
            f"The schedule ended at {schedule.ends_at.isoformat()}: this rule no longer runs. "
            "Extend its end or delete the rule."
        ),
        path="schedule.ends_at",
    )


async def _account_warning(
    targets: _Targets, rule_id: str, account_id: str, path: str
) -> LintWarning | None:
    account = targets.accounts.get(account_id)
    if account is None or account.status is not AccountStatus.ACTIVE:
        state = "no longer exists" if account is None else f"is {account.status.value}"
        return LintWarning(
            code="inactive_target",
            rule_id=rule_id,
            message=(
                f"Merchant account {account_id} {state}: payments this action routes there "
                "cannot go through it. Reactivate the account or route elsewhere."
            ),
            path=path,
            related_id=account_id,
        )
    cap = await targets.reached_cap(account)
    if cap is None:
        return None
    return LintWarning(
        code="capped_target",
        rule_id=rule_id,
        message=(
            f"Merchant account {account.name!r} ({account.id}) has reached {cap}: payments "
            "routed there are refused. Raise the limit or route to a pool with spare capacity."
        ),
        path=path,
        related_id=account.id,
    )


async def _pool_warning(
    targets: _Targets, rule_id: str, pool_id: str, path: str
) -> LintWarning | None:
    pool = targets.pools.get(pool_id)
    if pool is None or not pool.is_active:
        return LintWarning(
            code="inactive_target",
            rule_id=rule_id,
            message=(
                f"Account pool {pool_id} is inactive or gone: this action cannot route there. "
                "Reactivate the pool or route to another."
            ),
            path=path,
            related_id=pool_id,
        )
    members = targets.members.get(pool_id, [])
    if not members:
        return LintWarning(
            code="empty_pool",
            rule_id=rule_id,
            message=(
                f"Account pool {pool.name!r} ({pool.id}) has no active merchant account. "
                "Add or reactivate one, or route elsewhere."
            ),
            path=path,
            related_id=pool.id,
        )
    caps = [await targets.reached_cap(account) for account in members]
    if any(cap is None for cap in caps):
        return None
    return LintWarning(
        code="capped_target",
        rule_id=rule_id,
        message=(
            f"Every active account of pool {pool.name!r} ({pool.id}) has reached a cap of the "
            "current period. Raise a limit or add an account with spare capacity."
        ),
        path=path,
        related_id=pool.id,
    )


async def _action_warnings(
    targets: _Targets, rule_id: str, actions: Sequence[Action], prefix: str
) -> list[LintWarning]:
    found = []
    for index, action in enumerate(actions):
        for target in action.targets():
            check = _account_warning if target.kind == "account" else _pool_warning
            path = f"{prefix}.{index}.{target.field}"
            warning = await check(targets, rule_id, target.id, path)
            if warning is not None:
                found.append(warning)
    return found


async def _rule_warnings(
    rule: _Rule, earlier: Sequence[_Rule], targets: _Targets
) -> list[LintWarning]:
    never = _never(rule)
    # A rule that matches nothing is trivially "covered" by any other: one warning is enough.
    shadow = _shadower(rule, earlier) if never is None else None
    found = [warning for warning in (never, shadow, _ended(rule, targets.now)) if warning]
    found += await _action_warnings(targets, rule.row.id, rule.compiled.actions, "actions")
    if rule.compiled.ab_test is not None:
        variant = rule.compiled.ab_test.actions
        found += await _action_warnings(targets, rule.row.id, variant, "ab_test.actions")
    return found


# --- a company -------------------------------------------------------------------------------


def _parsed(rows: Sequence[RoutingRule]) -> list[_Rule]:
    """The rules that parse, in the engine's evaluation order."""
    parsed = []
    for row in evaluation_order(rows):
        try:
            compiled = compile_rule(row)
        except (InvalidConditions, InvalidActions, ValidationError):
            continue  # the engine skips (and logs) it too
        parsed.append(_Rule(row, compiled, analysis.analyse(compiled.nodes)))
    return parsed


async def _lint(
    session: AsyncSession, rows: Sequence[RoutingRule], only: str | None, now: datetime | None
) -> list[LintWarning]:
    if not rows:
        return []
    targets = await _targets(session, rows[0].company_id, now or clock.now())
    rules = _parsed(rows)
    found = []
    for position, rule in enumerate(rules):
        if only is None or rule.row.id == only:
            found += await _rule_warnings(rule, rules[:position], targets)
    return found


async def _company_rules(session: AsyncSession, company_id: str) -> list[RoutingRule]:
    return list(
        (
            await session.scalars(
                select(RoutingRule).where(
                    RoutingRule.company_id == company_id, RoutingRule.deleted_at.is_(None)
                )
            )
        ).all()
    )


async def lint_company(
    session: AsyncSession, company_id: str, *, now: datetime | None = None
) -> list[LintWarning]:
    """Every warning about the company's rules (deleted ones left out), in evaluation order."""
    return await _lint(session, await _company_rules(session, company_id), None, now)


async def warnings_for(
    session: AsyncSession, rule: RoutingRule, *, now: datetime | None = None
) -> list[LintWarning]:
    """The warnings about one rule, judged among the other rules of its company."""
    others = [row for row in await _company_rules(session, rule.company_id) if row.id != rule.id]
    rows = others if rule.deleted_at is not None else [*others, rule]
    return await _lint(session, rows, rule.id, now)


async def lint_visible_company(
    *, session: AsyncSession, principal: Principal, company_id: str, now: datetime | None = None
) -> LintOut:
    """The warnings of a company the principal can see; 404 for any other company."""
    company = await get_visible(session, principal, Company, company_id, param="company_id")
    warnings = await lint_company(session, company.id, now=now)
    return LintOut(data=warnings, count=len(warnings))
