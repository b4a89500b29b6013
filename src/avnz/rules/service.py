"""Routing rules: create, read, change, reorder, toggle, duplicate and soft-delete them inside
the caller's scope, keeping a version snapshot of every change and the company's rule-set
version in step.

Every write first raises the company's rule-set version (`bump_rule_set`). That one upsert is
also the company's lock: on PostgreSQL a second writer of the same company waits on the row
until the first commits, then reads what it wrote (READ COMMITTED), so "highest priority + 10",
the single default rule and version numbers stay right under concurrency; on SQLite every write
transaction is IMMEDIATE, one at a time. A rule outside the caller's scope, or deleted, is
reported as missing (404).
"""

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, Select, Table, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.pools.models import AccountPool
from avnz.rules import analytics, lint
from avnz.rules.actions import InvalidActions, parse_actions
from avnz.rules.actions.base import Action, Target
from avnz.rules.conditions import InvalidConditions, parse_conditions
from avnz.rules.errors import error_paths
from avnz.rules.models import RoutingRule, RuleSetVersion, RuleVersion
from avnz.rules.schedule import Schedule
from avnz.rules.schemas import (
    ReorderRequest,
    RuleAnalyticsOut,
    RuleCreate,
    RuleDetail,
    RuleOut,
    RuleUpdate,
    RuleVersionOut,
    RuleWithWarnings,
)
from avnz.rules.variants import ABTest
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import get_visible, target_company

RESOURCE = "routing_rule"
PRIORITY_STEP = 10
RECENT_VERSIONS = 50
# What a version snapshot keeps: the rule's definition, not its counters.
DEFINITION = (
    "name",
    "description",
    "priority",
    "is_active",
    "is_default",
    "conditions",
    "actions",
    "schedule",
    "ab_test",
)
NOT_NULL = ("name", "priority", "is_active", "is_default", "conditions", "actions")
RULE_SETS: Table = cast(Table, RuleSetVersion.__table__)

# --- the company's rule-set version ----------------------------------------------------------


async def bump_rule_set(session: AsyncSession, company_id: str) -> int:
    """Raise the company's rule-set version by one (from 1 for its first change) and return it.
    One upsert statement: concurrent bumps never lose an increment, and the row stays locked
    (PostgreSQL) until the transaction ends, which serializes a company's rule changes."""
    now = clock.now()
    stmt = (
        analytics.upsert_into(session, RULE_SETS)
        .values(company_id=company_id, version=1, updated_at=now)
        .on_conflict_do_update(
            index_elements=["company_id"],
            set_={"version": RuleSetVersion.version + 1, "updated_at": now},
        )
        .returning(RuleSetVersion.version)
    )
    return int((await session.execute(stmt)).scalar_one())


# --- scope -----------------------------------------------------------------------------------


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=RoutingRule.organization_id,
        client_id=RoutingRule.client_id,
        company_id=RoutingRule.company_id,
    )


async def get_rule(*, session: AsyncSession, principal: Principal, rule_id: str) -> RoutingRule:
    rule = await session.scalar(
        select(RoutingRule).where(
            RoutingRule.id == rule_id, RoutingRule.deleted_at.is_(None), _visible(principal)
        )
    )
    if rule is None:
        raise NotFound(f"No routing rule {rule_id!r}.", param="id")
    return rule


async def _locked(session: AsyncSession, principal: Principal, rule_id: str) -> RoutingRule:
    """The rule, re-read after taking its company's lock (see the module docstring)."""
    rule = await get_rule(session=session, principal=principal, rule_id=rule_id)
    await bump_rule_set(session, rule.company_id)
    await session.refresh(rule)
    if rule.deleted_at is not None:
        raise NotFound(f"No routing rule {rule_id!r}.", param="id")
    return rule


# --- validation ------------------------------------------------------------------------------


def _invalid(errors: Sequence[tuple[str, str]]) -> InvalidRequest:
    path, message = errors[0]
    return InvalidRequest(f"{path}: {message}", code="invalid_rule", param=path)


def _check_conditions(data: list[dict[str, Any]]) -> None:
    try:
        parse_conditions({"conditions": data})
    except InvalidConditions as exc:
        raise _invalid(exc.errors) from None


def _actions(data: Any, path: str) -> list[Action]:
    try:
        return parse_actions(data, path=path)
    except InvalidActions as exc:
        raise _invalid(exc.errors) from None


def _check_model(kind: type[BaseModel], data: dict[str, Any], path: str) -> None:
    try:
        kind.model_validate(data)
    except ValidationError as exc:
        raise _invalid(error_paths(exc, root=path)) from None


async def _check_targets(
    session: AsyncSession, company_id: str, actions: Sequence[Action], path: str
) -> None:
    """Every pool or account an action names is one of the rule's company (inactive ones are
    allowed: lint warns about them); 404 naming the action's field otherwise."""
    for index, action in enumerate(actions):
        for target in action.targets():
            if not await _is_company_target(session, company_id, target):
                thing = "account pool" if target.kind == "pool" else "merchant account"
                raise NotFound(f"No {thing} {target.id!r}.", param=f"{path}.{index}.{target.field}")


async def _is_company_target(session: AsyncSession, company_id: str, target: Target) -> bool:
    if target.kind == "pool":
        found = await session.scalar(
            select(AccountPool.id).where(
                AccountPool.id == target.id, AccountPool.company_id == company_id
            )
        )
    else:
        found = await session.scalar(
            select(MerchantAccount.id).where(
                MerchantAccount.id == target.id,
                MerchantAccount.company_id == company_id,
                MerchantAccount.status != AccountStatus.CLOSED,
            )
        )
    return found is not None


async def _check_actions(session: AsyncSession, company_id: str, data: Any, path: str) -> None:
    await _check_targets(session, company_id, _actions(data, path), path)


async def validate_definition(
    session: AsyncSession, company_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """`fields` (a subset of the definition) as stored, or a 400 naming the first bad path (404
    for an action's pool or account outside the company). What the client sent is what is
    stored, once it validates: the parsers' normalised dumps do not all parse again (weekdays
    and risk levels become numbers), and the engine parses the stored JSON on every compile."""
    if "conditions" in fields:
        _check_conditions(fields["conditions"])
    if "actions" in fields:
        await _check_actions(session, company_id, fields["actions"], "actions")
    if fields.get("schedule") is not None:
        _check_model(Schedule, fields["schedule"], "schedule")
    ab_test = fields.get("ab_test")
    if ab_test is not None:
        # Its actions first, through the action parser, so errors name `ab_test.actions.N.x`.
        if "actions" in ab_test:
            await _check_actions(session, company_id, ab_test["actions"], "ab_test.actions")
        _check_model(ABTest, ab_test, "ab_test")
    return fields


# --- versions and audit ----------------------------------------------------------------------


def _definition(rule: RoutingRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in DEFINITION}


def _write_version(session: AsyncSession, principal: Principal, rule: RoutingRule) -> None:
    session.add(
        RuleVersion(
            id=new_id("rulev"),
            rule_id=rule.id,
            company_id=rule.company_id,
            version=rule.version,
            snapshot=_definition(rule),
            created_by=principal.id,
            created_at=clock.now(),
        )
    )


def _next_version(session: AsyncSession, principal: Principal, rule: RoutingRule) -> None:
    """The rule changed: number it one higher and keep a snapshot of what it is now."""
    rule.version += 1
    rule.updated_by = principal.id
    _write_version(session, principal, rule)


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    rule: RoutingRule,
    before: dict[str, Any] | None = None,
    **metadata: str,
) -> None:
    """An audit entry of the rule as it is now; `metadata` says which operation, if not plain."""
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=RESOURCE,
        resource_id=rule.id,
        tenant=audit.Tenant(rule.organization_id, rule.client_id, rule.company_id),
        before=before,
        after=audit.snapshot(rule),
        metadata=metadata or None,
    )


async def _flush(session: AsyncSession) -> None:
    """Flush; the one-default-rule index answers 409 if a race got past the company lock."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("A concurrent change made this conflict; retry.", code="conflict") from None


async def _clear_default(
    session: AsyncSession, principal: Principal, company_id: str, keep: str | None
) -> None:
    """Unset the company's default rule (other than `keep`): a new version of it, audited."""
    stmt = select(RoutingRule).where(
        RoutingRule.company_id == company_id,
        RoutingRule.is_default.is_(True),
        RoutingRule.deleted_at.is_(None),
    )
    if keep is not None:
        stmt = stmt.where(RoutingRule.id != keep)
    for rule in await session.scalars(stmt):
        before = audit.snapshot(rule)
        rule.is_default = False
        _next_version(session, principal, rule)
        _audit(
            session, principal, audit.AuditAction.UPDATE, rule, before, operation="unset_default"
        )
    await session.flush()  # before another rule takes the default: the unique index


async def _next_priority(session: AsyncSession, company_id: str) -> int:
    highest = await session.scalar(
        select(func.max(RoutingRule.priority)).where(
            RoutingRule.company_id == company_id, RoutingRule.deleted_at.is_(None)
        )
    )
    return (highest or 0) + PRIORITY_STEP


# --- writes ----------------------------------------------------------------------------------


async def _insert(
    session: AsyncSession, principal: Principal, company: Company, definition: dict[str, Any]
) -> RoutingRule:
    """A new rule at version 1 (its snapshot written), at the end of the order unless it says."""
    if definition.get("priority") is None:
        definition["priority"] = await _next_priority(session, company.id)
    if definition.get("is_default"):
        await _clear_default(session, principal, company.id, None)
    rule = RoutingRule(
        id=new_id("rule"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        version=1,
        hit_count=0,
        created_by=principal.id,
        updated_by=principal.id,
        **definition,
    )
    session.add(rule)
    await _flush(session)
    _write_version(session, principal, rule)
    return rule


async def create_rule(
    *, session: AsyncSession, principal: Principal, data: RuleCreate
) -> RoutingRule:
    """A new rule in a company the caller can see; setting it default unsets the other."""
    company = await target_company(session, principal, data.company_id)
    fields = data.model_dump(exclude={"company_id"})
    fields["metadata_"] = fields.pop("metadata")
    definition = await validate_definition(session, company.id, fields)
    await bump_rule_set(session, company.id)
    rule = await _insert(session, principal, company, definition)
    _audit(session, principal, audit.AuditAction.CREATE, rule)
    return rule


async def update_rule(
    *, session: AsyncSession, principal: Principal, rule_id: str, data: RuleUpdate
) -> RoutingRule:
    """Change the given fields; a real change is a new version. Sending what the rule already
    says changes nothing (no version, no rule-set bump)."""
    rule = await get_rule(session=session, principal=principal, rule_id=rule_id)
    fields = data.model_dump(exclude_unset=True)
    for name in (*NOT_NULL, "metadata"):
        if name in fields and fields[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)
    if "metadata" in fields:  # the column's attribute; `metadata` is the ORM's own
        fields["metadata_"] = fields.pop("metadata")
    changes = await validate_definition(session, rule.company_id, fields)
    if all(getattr(rule, name) == value for name, value in changes.items()):
        return rule
    rule = await _locked(session, principal, rule_id)
    before = audit.snapshot(rule)
    if changes.get("is_default") and not rule.is_default:
        await _clear_default(session, principal, rule.company_id, rule.id)
    for name, value in changes.items():
        setattr(rule, name, value)
    _next_version(session, principal, rule)
    await _flush(session)
    _audit(session, principal, audit.AuditAction.UPDATE, rule, before)
    return rule


async def delete_rule(*, session: AsyncSession, principal: Principal, rule_id: str) -> RoutingRule:
    """Soft-delete: the rule stops running and disappears from the API; decisions that name it
    (and its versions) stay. Its last version records it inactive."""
    rule = await _locked(session, principal, rule_id)
    before = audit.snapshot(rule)
    rule.deleted_at = clock.now()
    rule.is_active = False
    rule.is_default = False
    _next_version(session, principal, rule)
    await session.flush()
    _audit(session, principal, audit.AuditAction.DELETE, rule, before)
    return rule


async def toggle_rule(*, session: AsyncSession, principal: Principal, rule_id: str) -> RoutingRule:
    """Flip is_active: a new version."""
    rule = await _locked(session, principal, rule_id)
    before = audit.snapshot(rule)
    rule.is_active = not rule.is_active
    _next_version(session, principal, rule)
    await session.flush()
    _audit(session, principal, audit.AuditAction.UPDATE, rule, before, operation="toggle")
    return rule


async def duplicate_rule(
    *, session: AsyncSession, principal: Principal, rule_id: str
) -> RoutingRule:
    """An inactive, non-default copy named "Copy of …", last in the order, at version 1."""
    source = await _locked(session, principal, rule_id)
    company = await get_visible(session, principal, Company, source.company_id)
    definition = _definition(source) | {
        "name": f"Copy of {source.name}"[:200],
        "priority": None,
        "is_active": False,
        "is_default": False,
    }
    rule = await _insert(session, principal, company, definition)
    _audit(session, principal, audit.AuditAction.CREATE, rule, duplicated_from=source.id)
    return rule


def _check_order(rule_ids: list[str], existing: set[str]) -> None:
    repeated = sorted(rule_id for rule_id, seen in Counter(rule_ids).items() if seen > 1)
    problems = {
        "missing": sorted(existing - set(rule_ids)),
        "not rules of this company": sorted(set(rule_ids) - existing),
        "listed more than once": repeated,
    }
    found = [f"{what}: {', '.join(ids)}" for what, ids in problems.items() if ids]
    if found:
        raise InvalidRequest(
            "rule_ids must list every rule of the company exactly once; " + "; ".join(found) + ".",
            code="invalid_rule_order",
            param="rule_ids",
        )


async def reorder_rules(
    *, session: AsyncSession, principal: Principal, data: ReorderRequest
) -> list[RoutingRule]:
    """Give the company's rules the priorities 10, 20, 30… in the order listed; each rule whose
    priority moves gets a new version."""
    company = await target_company(session, principal, data.company_id)
    await bump_rule_set(session, company.id)
    rules = {
        rule.id: rule
        for rule in await session.scalars(
            select(RoutingRule).where(
                RoutingRule.company_id == company.id, RoutingRule.deleted_at.is_(None)
            )
        )
    }
    _check_order(data.rule_ids, set(rules))
    for position, rule_id in enumerate(data.rule_ids, start=1):
        rule = rules[rule_id]
        if rule.priority != position * PRIORITY_STEP:
            before = audit.snapshot(rule)
            rule.priority = position * PRIORITY_STEP
            _next_version(session, principal, rule)
            _audit(session, principal, audit.AuditAction.UPDATE, rule, before, operation="reorder")
    await session.flush()
    return [rules[rule_id] for rule_id in data.rule_ids]


# --- reads -----------------------------------------------------------------------------------


async def _priority_page(
    session: AsyncSession,
    principal: Principal,
    stmt: Select[RoutingRule],
    page: PageParams,
) -> Page[RoutingRule]:
    """A page in (priority, id) order; the cursor is the id of a rule, whose priority it is
    looked up by: the last of the previous page (`starting_after`) or the first of the next
    (`ending_before`)."""
    name, rule_id = (
        ("ending_before", page.ending_before)
        if page.ending_before
        else ("starting_after", page.starting_after)
    )
    if rule_id:
        cursor = await session.scalar(
            select(RoutingRule.priority).where(RoutingRule.id == rule_id, _visible(principal))
        )
        if cursor is None:
            raise InvalidRequest(
                f"{name} is not a routing rule you can see.", code="invalid_cursor", param=name
            )
        if page.ending_before:
            stmt = stmt.where(
                or_(
                    RoutingRule.priority < cursor,
                    and_(RoutingRule.priority == cursor, RoutingRule.id < rule_id),
                )
            )
        else:
            stmt = stmt.where(
                or_(
                    RoutingRule.priority > cursor,
                    and_(RoutingRule.priority == cursor, RoutingRule.id > rule_id),
                )
            )
    if page.ending_before:
        stmt = stmt.order_by(RoutingRule.priority.desc(), RoutingRule.id.desc())
    else:
        stmt = stmt.order_by(RoutingRule.priority, RoutingRule.id)
    rows = list((await session.scalars(stmt.limit(page.limit + 1))).all())
    return Page.of(rows, page)


async def list_rules(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    is_active: bool | None,
    is_default: bool | None,
    company_id: str | None,
    q: str | None,
) -> Page[RoutingRule]:
    """Live rules in scope, in priority order (then id)."""
    stmt = select(RoutingRule).where(_visible(principal), RoutingRule.deleted_at.is_(None))
    if is_active is not None:
        stmt = stmt.where(RoutingRule.is_active.is_(is_active))
    if is_default is not None:
        stmt = stmt.where(RoutingRule.is_default.is_(is_default))
    if company_id:
        stmt = stmt.where(RoutingRule.company_id == company_id)
    if q:
        stmt = stmt.where(RoutingRule.name.icontains(q, autoescape=True))
    return await _priority_page(session, principal, stmt, page)


async def list_versions(
    *, session: AsyncSession, principal: Principal, rule_id: str, page: PageParams
) -> Page[RuleVersion]:
    """The rule's versions, newest first."""
    rule = await get_rule(session=session, principal=principal, rule_id=rule_id)
    return await paginate(
        session, select(RuleVersion).where(RuleVersion.rule_id == rule.id), RuleVersion.id, page
    )


async def analytics_for(
    *,
    session: AsyncSession,
    principal: Principal,
    rule_id: str,
    since: date | None,
    until: date | None,
) -> RuleAnalyticsOut:
    """The rule's analytics over [since, until] (by default the last 30 days)."""
    since, until = analytics.analytics_range(since, until)
    rule = await get_rule(session=session, principal=principal, rule_id=rule_id)
    return await analytics.rule_analytics(session, rule, since=since, until=until)


async def rule_detail(*, session: AsyncSession, rule: RoutingRule) -> RuleDetail:
    """The rule, its newest versions and its last 30 days of analytics."""
    versions = await session.scalars(
        select(RuleVersion)
        .where(RuleVersion.rule_id == rule.id)
        .order_by(RuleVersion.version.desc())
        .limit(RECENT_VERSIONS)
    )
    since, until = analytics.analytics_range(None, None)
    return RuleDetail(
        **dict(RuleOut.model_validate(rule)),
        versions=[RuleVersionOut.model_validate(version) for version in versions],
        analytics=await analytics.rule_analytics(session, rule, since=since, until=until),
    )


async def with_warnings(*, session: AsyncSession, rule: RoutingRule) -> RuleWithWarnings:
    """The rule and what rule lint says about it."""
    warnings = await lint.warnings_for(session, rule)
    return RuleWithWarnings(**dict(RuleOut.model_validate(rule)), warnings=warnings)
