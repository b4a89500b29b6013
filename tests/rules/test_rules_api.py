"""`/routing-rules`: create, list, read, change, reorder, toggle, duplicate and delete rules;
validation errors that name the exact bad path and change nothing; a version per change; the
company's rule-set version raised exactly once per change; one default rule per company; tenant
isolation."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit.models import AuditLog
from avnz.rules import cache, engine
from avnz.rules.models import RoutingRule, RuleVersion
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.rules.support import BLOCK, GERMANY, POOLS, RULES, create_rule

BIG = {"type": "amount", "field": "amount", "operator": "gt", "value": 10_000}


async def rule_set(session: AsyncSession, company_id: str) -> int:
    await session.rollback()  # a fresh snapshot of what the app committed
    return await cache.rule_set_version(session, company_id)


async def rule_count(session: AsyncSession) -> int:
    await session.rollback()
    return int(await session.scalar(select(func.count()).select_from(RoutingRule)) or 0)


async def versions(client: httpx.AsyncClient, headers: dict[str, str], rule_id: str) -> list[int]:
    response = await client.get(f"{RULES}/{rule_id}/versions", headers=headers)
    assert response.status_code == 200, response.text
    return [item["version"] for item in response.json()["data"]]


async def test_create_read_and_list(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    company = world.a.company.id
    group = {"type": "group", "logic": "OR", "children": [GERMANY, BIG]}
    first = await create_rule(
        client,
        headers,
        name="Block DE",
        description="Germany or big",
        conditions=[group],
        schedule={"days_of_week": ["mon", "fri"], "windows": [{"start": "22:00", "end": "02:00"}]},
    )
    assert first["id"].startswith("rule_")
    assert (first["company_id"], first["priority"], first["version"]) == (company, 10, 1)
    assert first["warnings"] == []
    assert first["conditions"][0]["children"][0]["value"] == "DE"
    assert first["schedule"]["windows"] == [{"start": "22:00", "end": "02:00"}]
    second = await create_rule(
        client, headers, name="Surcharge", actions=[{"type": "surcharge", "percent": "2.5"}]
    )
    assert second["priority"] == 20
    assert await rule_set(session, company) == 2

    listed = await client.get(RULES, headers=headers)
    assert [item["id"] for item in listed.json()["data"]] == [first["id"], second["id"]]

    detail = await client.get(f"{RULES}/{first['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [version["version"] for version in body["versions"]] == [1]
    assert body["versions"][0]["snapshot"]["name"] == "Block DE"
    assert len(body["analytics"]["days"]) == 30
    assert body["analytics"]["hit_count"] == 0

    # What was stored is what the engine can compile again.
    row = await session.get(RoutingRule, first["id"])
    assert row is not None
    compiled = engine.compile_rule(row)
    assert compiled.schedule is not None and len(compiled.actions) == 1


EVERY_SHAPE = [
    {"type": "time", "field": "day_of_week", "operator": "in", "value": ["mon", "sat"]},
    {"type": "time", "field": "hour_of_day", "operator": "between", "value": [22, 2]},
    {"type": "customer", "field": "risk_level", "operator": "gte", "value": "high"},
    {
        "type": "time",
        "field": "date_range",
        "operator": "between",
        "value": ["2026-01-01", "2026-12-31"],
    },
    {
        "type": "payment_method",
        "field": "bin_range",
        "operator": "between",
        "value": ["222100", "272099"],
    },
]
EVERY_ACTION = [
    {"type": "surcharge", "percent": "2.5", "cap": 500},
    {"type": "discount", "flat": 100, "currency": "EUR"},
    {"type": "block", "reason": "Hold", "until": "2030-01-01T00:00:00Z"},
    {"type": "flag_for_review", "reason": "Look", "hold_funds": True},
    {"type": "require_3ds"},
]


async def test_stored_rules_parse_again_exactly(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    """The engine compiles the stored JSON: every shape of value comes back parseable."""
    rule = await create_rule(
        client, world.headers(Role.COMPANY_ADMIN), conditions=EVERY_SHAPE, actions=EVERY_ACTION
    )
    assert rule["conditions"] == EVERY_SHAPE
    row = await session.get(RoutingRule, rule["id"])
    assert row is not None
    compiled = engine.compile_rule(row)
    assert len(compiled.nodes) == len(EVERY_SHAPE)
    assert [action.type for action in compiled.actions] == [a["type"] for a in EVERY_ACTION]


async def test_an_inactive_pool_is_allowed_with_a_warning(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    pool = await client.post(POOLS, json={"name": "Off", "is_active": False}, headers=headers)
    assert pool.status_code == 201, pool.text
    rule = await create_rule(
        client, headers, actions=[{"type": "route_to_pool", "pool_id": pool.json()["id"]}]
    )
    [warning] = rule["warnings"]
    assert (warning["rule_id"], warning["path"]) == (rule["id"], "actions.0.pool_id")
    assert warning["related_id"] == pool.json()["id"]
    changed = await client.patch(
        f"{RULES}/{rule['id']}", json={"actions": [BLOCK]}, headers=headers
    )
    assert changed.json()["warnings"] == []


async def test_priority_given_explicitly_and_audit_entries(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    rule = await create_rule(client, headers, company_id=world.a.company.id, priority=5)
    assert rule["priority"] == 5
    assert (await create_rule(client, headers, company_id=world.a.company.id))["priority"] == 15
    await client.patch(f"{RULES}/{rule['id']}", json={"name": "New"}, headers=headers)
    entries = await session.scalars(
        select(AuditLog.action).where(AuditLog.resource_id == rule["id"]).order_by(AuditLog.id)
    )
    assert list(entries) == ["CREATE", "UPDATE"]


async def test_company_is_required_above_company_level(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        RULES, json={"name": "R", "actions": [BLOCK]}, headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "company_id"


INVALID = [
    (
        {
            "conditions": [
                GERMANY,
                {"type": "group", "logic": "AND", "children": [{**GERMANY, "value": "XX"}]},
            ]
        },
        "conditions.1.children.0.value",
    ),
    ({"actions": [{"type": "surcharge", "percent": 300}]}, "actions.0.percent"),
    ({"actions": []}, "actions"),
    ({"actions": [BLOCK, {"type": "teleport"}]}, "actions.1"),
    ({"schedule": {"windows": [{"start": "09:00", "end": "25:00"}]}}, "schedule.windows.0.end"),
    (
        {"ab_test": {"share": 0.5, "actions": [{"type": "route_to_pool", "pool_id": "nope"}]}},
        "ab_test.actions.0.pool_id",
    ),
    ({"ab_test": {"share": 1.5, "actions": [BLOCK]}}, "ab_test.share"),
    ({"name": ""}, "name"),
    ({"priority": -1}, "priority"),
]


@pytest.mark.parametrize(("body", "param"), INVALID, ids=[param for _, param in INVALID])
async def test_invalid_rule_is_400_naming_the_path_and_changes_nothing(
    client: httpx.AsyncClient,
    world: World,
    session: AsyncSession,
    body: dict[str, Any],
    param: str,
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    response = await client.post(
        RULES, json={"name": "Bad", "actions": [BLOCK], **body}, headers=headers
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert await rule_count(session) == 0
    assert await rule_set(session, world.a.company.id) == 0


async def test_patch_with_an_invalid_field_changes_nothing(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    rule = await create_rule(client, headers)
    for body, param in [
        ({"name": "Fine", "conditions": [{**BIG, "operator": "nope"}]}, "conditions.0.operator"),
        ({"actions": None}, "actions"),
        ({"is_active": None}, "is_active"),
        (
            {"schedule": {"starts_at": "2026-01-02T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}},
            "schedule",
        ),
    ]:
        response = await client.patch(f"{RULES}/{rule['id']}", json=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param
    detail = (await client.get(f"{RULES}/{rule['id']}", headers=headers)).json()
    assert (detail["name"], detail["version"]) == ("Rule", 1)
    assert await rule_set(session, world.a.company.id) == 1


async def test_actions_must_name_pools_and_accounts_of_the_rule_company(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.headers(Role.ORGANIZATION_ADMIN)
    headers = world.headers(Role.COMPANY_ADMIN)
    ours = (
        await client.post(
            POOLS, json={"company_id": world.a.company.id, "name": "Ours"}, headers=admin
        )
    ).json()
    theirs = (
        await client.post(
            POOLS, json={"company_id": world.b.company.id, "name": "Theirs"}, headers=admin
        )
    ).json()
    foreign_account = await create_account(client, admin, world.b.company.id)
    own_account = await create_account(client, admin, world.a.company.id)

    for action, param in [
        ({"type": "route_to_pool", "pool_id": theirs["id"]}, "actions.1.pool_id"),
        ({"type": "route_to_account", "account_id": foreign_account["id"]}, "actions.1.account_id"),
    ]:
        response = await client.post(
            RULES, json={"name": "R", "actions": [BLOCK, action]}, headers=headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["param"] == param
    refused = await client.post(
        RULES,
        json={
            "name": "R",
            "actions": [BLOCK],
            "ab_test": {
                "share": 0.2,
                "actions": [{"type": "route_to_pool", "pool_id": theirs["id"]}],
            },
        },
        headers=headers,
    )
    assert refused.status_code == 404
    assert refused.json()["error"]["param"] == "ab_test.actions.0.pool_id"

    rule = await create_rule(
        client,
        headers,
        actions=[
            {"type": "route_to_pool", "pool_id": ours["id"]},
            {"type": "route_to_account", "account_id": own_account["id"]},
        ],
        ab_test={"share": 0.2, "actions": [{"type": "route_to_pool", "pool_id": ours["id"]}]},
    )
    assert rule["ab_test"]["actions"][0]["pool_id"] == ours["id"]


async def test_patch_makes_a_version_and_bumps_the_rule_set_once(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    company = world.a.company.id
    rule = await create_rule(client, headers, conditions=[GERMANY])
    assert await rule_set(session, company) == 1

    changed = await client.patch(
        f"{RULES}/{rule['id']}", json={"name": "Renamed", "conditions": [BIG]}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["version"]) == ("Renamed", 2)
    assert changed.json()["warnings"] == []
    assert await rule_set(session, company) == 2
    assert await versions(client, headers, rule["id"]) == [2, 1]

    same = await client.patch(f"{RULES}/{rule['id']}", json={"name": "Renamed"}, headers=headers)
    assert same.json()["version"] == 2
    assert await rule_set(session, company) == 2

    cleared = await client.patch(
        f"{RULES}/{rule['id']}",
        json={"schedule": None, "description": "why"},
        headers=headers,
    )
    assert cleared.json()["version"] == 3
    await session.rollback()
    snapshots = await session.scalars(
        select(RuleVersion.snapshot)
        .where(RuleVersion.rule_id == rule["id"])
        .order_by(RuleVersion.version)
    )
    assert [snapshot["name"] for snapshot in snapshots] == ["Rule", "Renamed", "Renamed"]
    assert await rule_set(session, company) == 3


async def test_one_default_rule_per_company(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    first = await create_rule(client, headers, is_default=True)
    second = await create_rule(client, headers, is_default=True)
    assert await rule_set(session, world.a.company.id) == 2
    first_now = (await client.get(f"{RULES}/{first['id']}", headers=headers)).json()
    assert (first_now["is_default"], first_now["version"]) == (False, 2)
    assert [v["snapshot"]["is_default"] for v in first_now["versions"]] == [False, True]

    await client.patch(f"{RULES}/{first['id']}", json={"is_default": True}, headers=headers)
    defaults = await client.get(RULES, params={"is_default": True}, headers=headers)
    assert [item["id"] for item in defaults.json()["data"]] == [first["id"]]
    assert await versions(client, headers, second["id"]) == [2, 1]


async def test_reorder_sets_priorities_in_steps_of_ten(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    a, b, c = [await create_rule(client, headers, name=name) for name in "abc"]
    assert [a["priority"], b["priority"], c["priority"]] == [10, 20, 30]
    before = await rule_set(session, world.a.company.id)

    response = await client.post(
        f"{RULES}/reorder", json={"rule_ids": [c["id"], a["id"], b["id"]]}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert [(r["id"], r["priority"]) for r in response.json()["data"]] == [
        (c["id"], 10),
        (a["id"], 20),
        (b["id"], 30),
    ]
    assert await rule_set(session, world.a.company.id) == before + 1
    assert await versions(client, headers, c["id"]) == [2, 1]
    listed = await client.get(RULES, headers=headers)
    assert [item["id"] for item in listed.json()["data"]] == [c["id"], a["id"], b["id"]]


@pytest.mark.parametrize("mistake", ["missing", "duplicate", "unknown", "foreign"])
async def test_reorder_must_list_every_rule_once(
    client: httpx.AsyncClient, world: World, session: AsyncSession, mistake: str
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    a, b = [await create_rule(client, headers, name=name) for name in "ab"]
    foreign = await create_rule(client, world.headers(Role.COMPANY_ADMIN, "b"))
    ids, named = {
        "missing": ([b["id"]], a["id"]),
        "duplicate": ([b["id"], a["id"], b["id"]], b["id"]),
        "unknown": ([b["id"], a["id"], "rule_nope"], "rule_nope"),
        "foreign": ([b["id"], a["id"], foreign["id"]], foreign["id"]),
    }[mistake]
    before = await rule_set(session, world.a.company.id)
    response = await client.post(f"{RULES}/reorder", json={"rule_ids": ids}, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("rule_ids", "invalid_rule_order")
    assert named in error["message"]
    assert await rule_set(session, world.a.company.id) == before
    listed = await client.get(RULES, headers=headers)
    assert [item["priority"] for item in listed.json()["data"]] == [10, 20]


async def test_toggle_duplicate_and_delete(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    company = world.a.company.id
    rule = await create_rule(
        client, headers, name="Block DE", conditions=[GERMANY], is_default=True
    )
    await create_rule(client, headers, priority=100)

    toggled = await client.post(f"{RULES}/{rule['id']}/toggle", headers=headers)
    assert toggled.status_code == 200, toggled.text
    assert (toggled.json()["is_active"], toggled.json()["version"]) == (False, 2)
    assert await rule_set(session, company) == 3

    copy = await client.post(f"{RULES}/{rule['id']}/duplicate", headers=headers)
    assert copy.status_code == 201, copy.text
    body = copy.json()
    assert body["name"] == "Copy of Block DE"
    assert (body["is_active"], body["is_default"], body["version"]) == (False, False, 1)
    assert (body["priority"], body["conditions"]) == (110, rule["conditions"])
    assert body["id"] != rule["id"]
    assert await rule_set(session, company) == 4
    assert await versions(client, headers, body["id"]) == [1]

    deleted = await client.delete(f"{RULES}/{rule['id']}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted_at"] is not None
    assert (deleted.json()["is_active"], deleted.json()["is_default"]) == (False, False)
    assert await rule_set(session, company) == 5
    assert (await client.get(f"{RULES}/{rule['id']}", headers=headers)).status_code == 404
    again = await client.delete(f"{RULES}/{rule['id']}", headers=headers)
    assert again.status_code == 404
    listed = await client.get(RULES, headers=headers)
    assert rule["id"] not in [item["id"] for item in listed.json()["data"]]
    row = await session.get(RoutingRule, rule["id"])
    assert row is not None and row.deleted_at is not None


async def test_list_filters_and_pages_in_priority_order(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    made = [
        await create_rule(client, headers, name=name, priority=priority, is_active=active)
        for name, priority, active in [
            ("EU block", 30, True),
            ("US surcharge", 10, True),
            ("eu review", 20, False),
            ("Fallback", 30, True),
            ("Big amounts", 5, True),
        ]
    ]
    expected = [r["id"] for r in sorted(made, key=lambda r: (r["priority"], r["id"]))]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["starting_after"] = cursor
        page = (await client.get(RULES, params=params, headers=headers)).json()
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == expected
    back: list[str] = []
    cursor = expected[-1]
    while True:
        params = {"limit": 2, "ending_before": cursor}
        page = (await client.get(RULES, params=params, headers=headers)).json()
        back = [item["id"] for item in page["data"]] + back
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert back == expected[:-1]

    names = await client.get(RULES, params={"q": "EU"}, headers=headers)
    assert [item["name"] for item in names.json()["data"]] == ["eu review", "EU block"]
    inactive = await client.get(RULES, params={"is_active": False}, headers=headers)
    assert [item["name"] for item in inactive.json()["data"]] == ["eu review"]
    wildcard = await client.get(RULES, params={"q": "%"}, headers=headers)
    assert wildcard.json()["data"] == []
    bad = await client.get(RULES, params={"starting_after": "rule_nope"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "starting_after"
    bad = await client.get(RULES, params={"ending_before": "rule_nope"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "ending_before"


async def test_another_company_rules_do_not_exist_for_you(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    theirs = await create_rule(client, world.headers(Role.COMPANY_ADMIN, "b"))
    headers = world.headers(Role.COMPANY_ADMIN)
    path = f"{RULES}/{theirs['id']}"
    for method, url, body in [
        ("GET", path, None),
        ("PATCH", path, {"name": "Mine"}),
        ("DELETE", path, None),
        ("POST", f"{path}/toggle", None),
        ("POST", f"{path}/duplicate", None),
        ("GET", f"{path}/analytics", None),
        ("GET", f"{path}/versions", None),
    ]:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (method, url, response.text)
    listed = await client.get(RULES, headers=headers)
    assert listed.json()["data"] == []
    other = await client.post(
        RULES,
        json={"name": "R", "actions": [BLOCK], "company_id": world.b.company.id},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert other.status_code == 404
    assert await rule_set(session, world.b.company.id) == 1
    unchanged = (await client.get(path, headers=world.headers(Role.COMPANY_ADMIN, "b"))).json()
    assert (unchanged["name"], unchanged["version"]) == ("Rule", 1)


async def test_company_users_read_but_do_not_write(client: httpx.AsyncClient, world: World) -> None:
    rule = await create_rule(client, world.headers(Role.COMPANY_ADMIN))
    headers = world.headers(Role.COMPANY_USER)
    assert (await client.get(f"{RULES}/{rule['id']}", headers=headers)).status_code == 200
    denied = await client.post(f"{RULES}/{rule['id']}/toggle", headers=headers)
    assert denied.status_code == 403
