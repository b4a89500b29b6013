"""`/routing-rules/test` (one sample transaction: the matched rule, every rule's condition
results, the actions; touches nothing) and `/routing-rules/simulate` (replaying real payments
through the current rules)."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.outbox.models import OutboxEvent
from avnz.rules.models import RoutingRule, RuleDailyStats
from avnz.tenancy.models import Role
from tests.factories import World
from tests.rules.support import GERMANY, RULES, create_pool, create_rule
from tests.support.payments import pay

VISA = {"type": "payment_method", "field": "card_brand", "operator": "equals", "value": "visa"}
SAMPLE = {"amount": 1999, "currency": "USD", "country": "DE", "card_brand": "visa"}


async def tester(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(f"{RULES}/test", json={"transaction": SAMPLE, **body}, headers=headers)


async def test_the_tester_shows_the_match_every_rule_and_the_actions(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    visa_us = {"type": "group", "logic": "AND", "children": [VISA, {**GERMANY, "value": "US"}]}
    first = await create_rule(client, headers, name="US Visa", conditions=[visa_us])
    second = await create_rule(
        client,
        headers,
        name="German fee",
        conditions=[GERMANY],
        actions=[{"type": "surcharge", "percent": "2"}],
    )
    response = await tester(client, headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["matched_rule"] == {
        "id": second["id"],
        "name": "German fee",
        "version": 1,
        "priority": 20,
        "arm": "control",
    }
    assert body["actions"] == [
        {"type": "surcharge", "percent": "2", "flat": None, "currency": None, "cap": None}
    ]
    assert (body["directive"]["surcharge"], body["directive"]["final_amount"]) == (40, 2039)
    by_id = {rule["rule_id"]: rule for rule in body["rules"]}
    assert [rule["rule_id"] for rule in body["rules"]] == [first["id"], second["id"]]
    group = by_id[first["id"]]["conditions"][0]
    assert (group["type"], group["operator"], group["result"]) == ("group", "AND", False)
    assert [child["result"] for child in group["children"]] == [True, False]
    assert by_id[first["id"]]["matched"] is False
    assert by_id[second["id"]]["matched"] is True
    assert body["evaluation_us"] > 0

    # Nothing was touched: no hit, no counters, no events.
    await session.rollback()
    assert await session.scalar(select(func.sum(RoutingRule.hit_count))) == 0
    assert await session.scalar(select(func.count()).select_from(RuleDailyStats)) == 0
    assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


async def test_no_match_is_the_default_routing(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    await create_rule(client, headers, conditions=[{**GERMANY, "value": "FR"}])
    body = (await tester(client, headers)).json()
    assert (body["matched_rule"], body["directive"], body["actions"]) == (None, None, [])
    assert [rule["matched"] for rule in body["rules"]] == [False]


async def test_a_draft_rule_is_tested_alone_and_validated_like_a_saved_one(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    await create_rule(client, headers, name="Saved")  # matches everything, but is not tested
    draft = {"conditions": [VISA], "actions": [{"type": "require_3ds"}]}
    body = (await tester(client, headers, rule=draft)).json()
    assert body["matched_rule"]["name"] == "Draft rule"
    assert [r["code"] for r in body["directive"]["refusals"]] == ["authentication_required"]
    assert [rule["name"] for rule in body["rules"]] == ["Draft rule"]

    bad = {"conditions": [{**VISA, "value": "tesla"}], "actions": [{"type": "require_3ds"}]}
    refused = await tester(client, headers, rule=bad)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "rule.conditions.0.value"
    no_actions = await tester(client, headers, rule={"conditions": [], "actions": []})
    assert no_actions.json()["error"]["param"].startswith("rule.actions")
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(RoutingRule)) == 1


async def test_the_tester_reads_a_real_customer_of_the_company_only(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    vip = {"type": "customer", "field": "type", "operator": "equals", "value": "vip"}
    await create_rule(client, headers, conditions=[vip])
    sample = {**SAMPLE, "customer": {"type": "VIP"}}
    matched = await client.post(f"{RULES}/test", json={"transaction": sample}, headers=headers)
    assert matched.json()["matched_rule"] is not None
    other = world.headers(Role.COMPANY_ADMIN, "b")
    created = await client.post(
        "/api/v1/customers", json={"email": "x@b.example.com"}, headers=other
    )
    assert created.status_code == 201, created.text
    stranger = {**SAMPLE, "customer_id": created.json()["id"]}
    refused = await client.post(f"{RULES}/test", json={"transaction": stranger}, headers=headers)
    assert refused.status_code == 404
    assert refused.json()["error"]["param"] == "transaction.customer_id"


async def test_bad_samples_are_refused_with_the_field(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    for transaction, field in (
        ({**SAMPLE, "currency": "DOLLARS"}, "currency"),
        ({**SAMPLE, "amount": 0}, "amount"),
        ({**SAMPLE, "bin": "41"}, "bin"),
        ({**SAMPLE, "at": "2026-01-01T00:00:00"}, "at"),
    ):
        response = await client.post(
            f"{RULES}/test", json={"transaction": transaction}, headers=headers
        )
        assert response.status_code in (400, 422), response.text
        assert field in response.json()["error"]["param"]


async def test_the_simulator_replays_payments_through_the_current_rules(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
) -> None:
    for country in ("DE", "DE", "US"):
        paid = await pay(client, headers, billing_address={"country": country})
        assert paid.status_code == 201
    pool = await create_pool(client, headers, [account["id"]])
    rule = await create_rule(
        client,
        headers,
        name="DE to pool",
        conditions=[GERMANY],
        actions=[{"type": "route_to_pool", "pool_id": pool["id"]}],
    )
    now = clock.now()
    window = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(minutes=1)).isoformat(),
    }
    response = await client.post(f"{RULES}/simulate", json=window, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["matched"], body["unmatched"], body["changed"]) == (3, 2, 1, 2)
    assert (body["truncated"], body["would_block"]) == (False, 0)
    assert body["actions"] == {"route_to_pool": 2}
    assert body["by_rule"] == [
        {"rule_id": rule["id"], "name": "DE to pool", "would_match": 2, "actually_matched": 0}
    ]
    assert {d["simulated_pool_id"] for d in body["differences"]} == {pool["id"]}
    assert all(d["actual_rule_id"] is None for d in body["differences"])

    one = await client.post(f"{RULES}/simulate", json={**window, "limit": 1}, headers=headers)
    assert (one.json()["total"], one.json()["truncated"]) == (1, True)


async def test_payments_the_rule_already_routed_are_unchanged(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
) -> None:
    await create_rule(
        client,
        headers,
        conditions=[GERMANY],
        actions=[{"type": "add_metadata", "metadata": {"a": "b"}}],
    )
    await pay(client, headers, billing_address={"country": "DE"})
    now = clock.now()
    window = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(minutes=1)).isoformat(),
    }
    body = (await client.post(f"{RULES}/simulate", json=window, headers=headers)).json()
    assert (body["total"], body["matched"], body["changed"]) == (1, 1, 0)
    assert body["by_rule"][0]["would_match"] == body["by_rule"][0]["actually_matched"] == 1


async def test_simulation_ranges_are_checked(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    for window, param in (
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}, "until"),
    ):
        response = await client.post(f"{RULES}/simulate", json=window, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["param"] == param
