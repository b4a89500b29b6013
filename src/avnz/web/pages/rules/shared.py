"""What the routing rule pages share: their addresses and permissions, the company they act on,
its pools, accounts and rules, a rule as a list row, and the JSON body the builder posts."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import InvalidRequest
from avnz.core.pagination import PageParams
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.pools import service as pools
from avnz.routing.pools.models import AccountPool
from avnz.rules import service as rules
from avnz.rules.lint import LintWarning
from avnz.rules.models import RoutingRule
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import target_company
from avnz.web.auth import page_requires
from avnz.web.pages import common
from avnz.web.pages import pools as pool_pages
from avnz.web.pages import rule_view as view
from avnz.web.pages.common import EVERYTHING

P = Permission
RoutingRead = Annotated[Principal, Depends(page_requires(P.ROUTING_READ))]
RoutingWrite = Annotated[Principal, Depends(page_requires(P.ROUTING_WRITE))]
RULES = "/routing/rules"
TESTER = "/routing/tester"
ALL_RULES = PageParams(limit=1000, starting_after=None)  # the most a reorder accepts


async def page_company(request: Request, session: AsyncSession, principal: Principal) -> Company:
    """The company asked for (`?company_id=`), else the user's own, else the first visible."""
    wanted = request.query_params.get("company_id") or principal.company_id
    if wanted is None:
        companies = await common.visible_companies(session, principal)
        wanted = companies[0].id if companies else None
    return await target_company(session, principal, wanted)


async def targets(
    session: AsyncSession, principal: Principal, company_id: str
) -> tuple[list[AccountPool], list[MerchantAccount]]:
    """The company's pools and accounts: what actions may route to."""
    pool_page = await pools.list_pools(
        session=session,
        principal=principal,
        page=EVERYTHING,
        is_active=None,
        strategy=None,
        company_id=company_id,
    )
    return pool_page.items, await pool_pages.accounts_of(session, principal, company_id)


async def target_names(
    session: AsyncSession, principal: Principal, company_id: str
) -> dict[str, str]:
    """Names of the company's pools and accounts, for actions in words."""
    company_pools, company_accounts = await targets(session, principal, company_id)
    names = {pool.id: pool.name for pool in company_pools}
    names.update({account.id: account.name for account in company_accounts})
    return names


async def all_rules(
    session: AsyncSession, principal: Principal, company_id: str
) -> list[RoutingRule]:
    page = await rules.list_rules(
        session=session,
        principal=principal,
        page=ALL_RULES,
        is_active=None,
        is_default=None,
        company_id=company_id,
        q=None,
    )
    return page.items


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: RoutingRule
    statuses: list[str]
    conditions: list[view.ConditionLine]
    actions: list[str]
    variant_actions: list[str]
    warnings: list[LintWarning] = field(default_factory=list)


def rule_row(rule: RoutingRule, names: Mapping[str, str], warnings: list[LintWarning]) -> RuleRow:
    ab_test = rule.ab_test or {}
    return RuleRow(
        rule=rule,
        statuses=view.statuses(rule, clock.now()),
        conditions=view.condition_lines(rule.conditions),
        actions=[view.action_words(a, names) for a in rule.actions],
        variant_actions=[view.action_words(a, names) for a in ab_test.get("actions", [])],
        warnings=warnings,
    )


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body
