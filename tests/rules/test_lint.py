"""Rule lint against a real database: each warning code, the rules it leaves alone, one rule's
warnings among its company's, and `GET /routing-rules/lint` (auth, scope, shape)."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import MerchantAccount
from avnz.rules import lint
from avnz.rules.lint import LintWarning
from avnz.rules.models import RoutingRule
from avnz.runtime import Runtime
from avnz.tenancy.models import Company, Role
from tests.factories import World
from tests.routing.factories import API as ACCOUNTS
from tests.routing.factories import create_account
from tests.rules.factories import leaf

LINT = "/api/v1/routing-rules/lint"
POOLS = "/api/v1/account-pools"
US = leaf("geography", "country", "equals", "US")
BIG = leaf("amount", "amount", "gt", 10000, currency="USD")


async def add_rule(runtime: Runtime, company: Company, **fields: Any) -> RoutingRule:
    """A rule row of `company` as the rules service stores it (committed)."""
    values: dict[str, Any] = {
        "name": "Rule",
        "priority": 10,
        "conditions": [],
        "actions": [{"type": "require_3ds"}],
        "schedule": None,
        "ab_test": None,
    }
    values.update(fields)
    async with runtime.sessions.begin() as session:
        rule = RoutingRule(
            id=new_id("rule"),
            organization_id=company.organization_id,
            client_id=company.client_id,
            company_id=company.id,
            **values,
        )
        session.add(rule)
    return rule


async def company_warnings(runtime: Runtime, company: Company) -> list[LintWarning]:
    async with runtime.sessions() as session:
        return await lint.lint_company(session, company.id)


def codes(warnings: list[LintWarning]) -> list[tuple[str, str]]:
    return [(warning.code, warning.rule_id) for warning in warnings]


async def make_pool(client: httpx.AsyncClient, world: World, *accounts: str) -> str:
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await client.post(POOLS, json={"name": "Main"}, headers=headers)
    assert created.status_code == 201, created.text
    pool: str = created.json()["id"]
    for account in accounts:
        added = await client.post(
            f"{POOLS}/{pool}/accounts", json={"merchant_account_id": account}, headers=headers
        )
        assert added.status_code == 201, added.text
    return pool


async def new_account(client: httpx.AsyncClient, world: World, name: str, **limits: int) -> str:
    """An active account of brand A1, made through the API, with these caps."""
    headers = world.headers(Role.COMPANY_ADMIN)
    account = await create_account(client, headers, world.a.company.id, name=name, limits=limits)
    return str(account["id"])


async def set_status(client: httpx.AsyncClient, world: World, account_id: str, status: str) -> None:
    patched = await client.patch(
        f"{ACCOUNTS}/{account_id}",
        json={"status": status, "status_reason": "lint test"},
        headers=world.headers(Role.COMPANY_ADMIN),
    )
    assert patched.status_code == 200, patched.text


async def use_up(runtime: Runtime, account_id: str, amount: int = 100) -> None:
    """Count one real reservation on the account, as a payment would."""
    async with runtime.sessions.begin() as session:
        account = await session.get_one(MerchantAccount, account_id)
        await usage.reserve(session, account, amount, clock.now())


# --- conditions and schedules -------------------------------------------------------------------


async def test_a_rule_with_contradicting_conditions_never_matches(
    runtime: Runtime, world: World
) -> None:
    rule = await add_rule(
        runtime,
        world.a.company,
        conditions=[US, leaf("geography", "country", "in", ["DE", "FR"])],
    )
    [warning] = await company_warnings(runtime, world.a.company)
    assert (warning.code, warning.rule_id, warning.path) == ("never_matches", rule.id, "conditions")
    assert "country equals US and country in DE, FR" in warning.message


async def test_a_rule_covered_by_an_earlier_active_rule_is_shadowed(
    runtime: Runtime, world: World
) -> None:
    company = world.a.company
    broad = await add_rule(runtime, company, name="All US", priority=10, conditions=[US])
    narrow = await add_rule(runtime, company, name="Big US", priority=20, conditions=[US, BIG])
    [warning] = await company_warnings(runtime, company)
    assert (warning.code, warning.rule_id, warning.related_id) == ("shadowed", narrow.id, broad.id)
    assert "'All US'" in warning.message and broad.id in warning.message


async def test_shadowing_needs_an_active_non_default_rule_always_in_force(
    runtime: Runtime, world: World
) -> None:
    company = world.a.company
    later = (clock.now() + timedelta(days=30)).isoformat()
    await add_rule(runtime, company, priority=1, conditions=[US], is_active=False)
    await add_rule(runtime, company, priority=2, is_default=True)  # evaluated last
    await add_rule(runtime, company, priority=3, schedule={"days_of_week": ["mon"]})
    await add_rule(runtime, company, priority=4, schedule={"ends_at": later}, conditions=[BIG])
    await add_rule(runtime, company, priority=9, conditions=[US, BIG])
    assert await company_warnings(runtime, company) == []


async def test_a_rule_with_the_same_schedule_shadows_and_the_default_rule_can_be_shadowed(
    runtime: Runtime, world: World
) -> None:
    company = world.a.company
    weekend = {"days_of_week": ["sat", "sun"]}
    first = await add_rule(runtime, company, priority=5, schedule=weekend)
    same = await add_rule(runtime, company, priority=6, schedule=weekend, conditions=[US])
    catch_all = await add_rule(runtime, company, priority=7)
    default = await add_rule(runtime, company, priority=1, is_default=True, conditions=[BIG])
    found = await company_warnings(runtime, company)
    assert codes(found) == [("shadowed", same.id), ("shadowed", default.id)]
    assert [warning.related_id for warning in found] == [first.id, catch_all.id]


async def test_an_ended_schedule_is_reported(runtime: Runtime, world: World) -> None:
    ended = (clock.now() - timedelta(hours=1)).isoformat()
    rule = await add_rule(runtime, world.a.company, schedule={"ends_at": ended})
    [warning] = await company_warnings(runtime, world.a.company)
    assert (warning.code, warning.rule_id, warning.path) == (
        "schedule_ended",
        rule.id,
        "schedule.ends_at",
    )


async def test_deleted_and_unparseable_rules_are_left_out(runtime: Runtime, world: World) -> None:
    company = world.a.company
    await add_rule(runtime, company, conditions=[US, leaf("geography", "country", "equals", "DE")])
    async with runtime.sessions.begin() as session:
        for rule in await session.scalars(select(RoutingRule)):
            rule.deleted_at = clock.now()
    await add_rule(runtime, company, conditions=[{"type": "nonsense"}])
    assert await company_warnings(runtime, company) == []


# --- targets ------------------------------------------------------------------------------------


async def test_routes_to_inactive_suspended_or_closed_accounts_are_reported(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    inactive = await new_account(client, world, "Off")
    suspended = await new_account(client, world, "Held")
    closed = await new_account(client, world, "Gone")
    healthy = await new_account(client, world, "Fine")
    await set_status(client, world, inactive, "inactive")
    await set_status(client, world, suspended, "suspended")
    rule = await add_rule(
        runtime,
        world.a.company,
        actions=[
            {"type": "route_to_account", "account_id": inactive},
            {"type": "require_3ds"},
            {"type": "route_to_account", "account_id": healthy},
            {"type": "route_to_account", "account_id": closed},
        ],
        ab_test={
            "share": 0.2,
            "actions": [{"type": "route_to_account", "account_id": suspended}],
        },
    )
    deleted = await client.delete(f"{ACCOUNTS}/{closed}", headers=world.headers(Role.COMPANY_ADMIN))
    assert deleted.status_code == 200, deleted.text
    found = await company_warnings(runtime, world.a.company)
    assert [(w.code, w.rule_id, w.path, w.related_id) for w in found] == [
        ("inactive_target", rule.id, "actions.0.account_id", inactive),
        ("inactive_target", rule.id, "actions.3.account_id", closed),
        ("inactive_target", rule.id, "ab_test.actions.0.account_id", suspended),
    ]
    assert ["is inactive" in found[0].message, "is closed" in found[1].message] == [True, True]
    assert "is suspended" in found[2].message


async def test_a_route_to_an_account_at_its_cap_is_reported(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    capped = await new_account(client, world, "Capped", daily_transaction_limit=1)
    roomy = await new_account(client, world, "Roomy", daily_transaction_limit=2)
    await add_rule(
        runtime,
        world.a.company,
        actions=[
            {"type": "route_to_account", "account_id": account} for account in (capped, roomy)
        ],
    )
    assert await company_warnings(runtime, world.a.company) == []  # nothing used yet

    await use_up(runtime, capped)
    await use_up(runtime, roomy)
    [warning] = await company_warnings(runtime, world.a.company)
    assert (warning.code, warning.related_id) == ("capped_target", capped)
    assert "daily transaction limit of 1" in warning.message


async def test_a_volume_cap_reached_is_reported_in_money(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    account = await new_account(client, world, "Monthly", monthly_volume_limit=5000)
    await add_rule(
        runtime, world.a.company, actions=[{"type": "route_to_account", "account_id": account}]
    )
    await use_up(runtime, account, amount=5000)
    [warning] = await company_warnings(runtime, world.a.company)
    assert warning.code == "capped_target"
    assert "monthly volume limit of" in warning.message and "50.00" in warning.message


async def test_pools_inactive_empty_or_all_capped_are_reported(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    off = await new_account(client, world, "Off")
    full = await new_account(client, world, "Full", daily_transaction_limit=1)
    fine = await new_account(client, world, "Fine")
    empty_pool = await make_pool(client, world, off)
    capped_pool = await make_pool(client, world, full)
    good_pool = await make_pool(client, world, full, fine)
    dead_pool = await make_pool(client, world, fine)
    await set_status(client, world, off, "inactive")
    await use_up(runtime, full)
    removed = await client.delete(f"{POOLS}/{dead_pool}", headers=world.headers(Role.COMPANY_ADMIN))
    assert removed.status_code == 200, removed.text

    rule = await add_rule(
        runtime,
        world.a.company,
        actions=[
            {"type": "route_to_pool", "pool_id": pool}
            for pool in (empty_pool, capped_pool, good_pool, dead_pool)
        ],
    )
    found = await company_warnings(runtime, world.a.company)
    assert [(w.code, w.rule_id, w.path, w.related_id) for w in found] == [
        ("empty_pool", rule.id, "actions.0.pool_id", empty_pool),
        ("capped_target", rule.id, "actions.1.pool_id", capped_pool),
        ("inactive_target", rule.id, "actions.3.pool_id", dead_pool),
    ]


async def test_warnings_for_one_rule_judge_it_among_its_company(
    runtime: Runtime, world: World
) -> None:
    company = world.a.company
    broad = await add_rule(runtime, company, priority=1)
    narrow = await add_rule(runtime, company, priority=2, conditions=[US])
    async with runtime.sessions() as session:
        stored = await session.get_one(RoutingRule, narrow.id)
        [warning] = await lint.warnings_for(session, stored)
        assert (warning.code, warning.related_id) == ("shadowed", broad.id)
        assert await lint.warnings_for(session, await session.get_one(RoutingRule, broad.id)) == []
        # an unsaved rule, as a create validates it: judged against the stored ones
        draft = RoutingRule(
            id=new_id("rule"),
            organization_id=company.organization_id,
            client_id=company.client_id,
            company_id=company.id,
            name="Draft",
            priority=0,
            is_active=True,
            is_default=False,
            conditions=[BIG, leaf("amount", "amount", "lt", 100, currency="USD")],
            actions=[{"type": "block", "reason": "test"}],
        )
        [warning] = await lint.warnings_for(session, draft)
        assert (warning.code, warning.rule_id) == ("never_matches", draft.id)


# --- the API ------------------------------------------------------------------------------------


async def test_the_lint_route_lists_the_company_warnings(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    rule = await add_rule(
        runtime, world.a.company, conditions=[US, leaf("geography", "country", "equals", "DE")]
    )
    await add_rule(
        runtime, world.b.company, conditions=[US, leaf("geography", "country", "equals", "DE")]
    )
    response = await client.get(
        LINT, params={"company_id": world.a.company.id}, headers=world.headers(Role.COMPANY_USER)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 1
    assert body["data"] == [
        {
            "code": "never_matches",
            "rule_id": rule.id,
            "message": body["data"][0]["message"],
            "path": "conditions",
            "related_id": None,
        }
    ]
    assert body["data"][0]["message"].startswith("This rule can never match")


async def test_the_lint_route_hides_other_companies_and_checks_its_input(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    for company_id in (world.a.other_company.id, world.b.company.id, "co_missing"):
        response = await client.get(LINT, params={"company_id": company_id}, headers=headers)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["param"] == "company_id"
    missing = await client.get(LINT, headers=headers)
    assert missing.status_code in (400, 422)
    assert "company_id" in missing.text and "error" in missing.json()
    too_long = await client.get(LINT, params={"company_id": "x" * 41}, headers=headers)
    assert too_long.status_code in (400, 422) and "error" in too_long.json()


async def test_the_lint_route_needs_routing_read(client: httpx.AsyncClient, world: World) -> None:
    admin = world.headers(Role.ORGANIZATION_ADMIN)
    created = await client.post(
        "/api/v1/api-keys",
        json={"company_id": world.a.company.id, "name": "Shop", "permissions": ["settings:read"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['secret']}"}
    params = {"company_id": world.a.company.id}
    denied = await client.get(LINT, params=params, headers=key)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"
    anonymous = await client.get(LINT, params=params)
    assert anonymous.status_code == 401
