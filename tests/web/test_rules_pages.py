"""Routing rule pages over ASGI: the list (priority order, badges, lint, toggles, reorder), the
builder's JSON saves with errors at their paths, the tester and the draft test, the history and
analytics page; CSRF, roles and scope; and that pages save and show what the rules API does."""

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from avnz.core import clock
from avnz.rules.actions import action_types
from avnz.rules.conditions import condition_types
from avnz.tenancy.models import Role
from avnz.web.pages import rule_view
from tests.factories import World
from tests.routing.factories import create_account
from tests.rules.support import RULES, create_pool, create_rule
from tests.web.conftest import SignIn, csrf_of

HTMX = {"HX-Request": "true"}
EU_VISA = [
    {"type": "geography", "field": "is_eu", "operator": "is", "value": True},
    {"type": "payment_method", "field": "card_brand", "operator": "equals", "value": "visa"},
]


async def _pool(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    account = await create_account(client, world.headers(Role.COMPANY_ADMIN), None)
    return await create_pool(client, world.headers(Role.COMPANY_ADMIN), [account["id"]])


async def _api_rules(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    listed = await client.get(RULES, headers=world.headers(Role.COMPANY_ADMIN))
    assert listed.status_code == 200, listed.text
    rules: list[dict[str, Any]] = listed.json()["data"]
    return rules


async def _token(page: httpx.AsyncClient, path: str = "/routing/rules") -> str:
    response = await page.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


def _builder_data(html: str) -> dict[str, Any]:
    found = re.search(r'id="rule-builder-data">(.*?)</script>', html, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


async def _save(
    page: httpx.AsyncClient, token: str, body: dict[str, Any], url: str = "/routing/rules"
) -> httpx.Response:
    return await page.post(url, json=body, headers={"X-CSRF-Token": token})


# --- the list -------------------------------------------------------------------------------------


async def test_an_empty_list_invites_writers_to_build_the_first_rule(signed_in: SignIn) -> None:
    admin = await signed_in(Role.COMPANY_ADMIN)
    page = await admin.get("/routing/rules")
    assert page.status_code == 200
    assert "No routing rules yet" in page.text
    assert 'data-testid="new-rule"' in page.text

    reader = await signed_in(Role.COMPANY_USER)
    read_only = await reader.get("/routing/rules")
    assert read_only.status_code == 200
    assert 'data-testid="new-rule"' not in read_only.text
    assert (await reader.get("/routing/rules/new")).status_code == 403


async def test_the_list_shows_rules_in_priority_order_in_words_with_badges_and_lint(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    empty = await create_pool(client, headers, [])
    later = await create_rule(client, headers, name="Later", priority=50, conditions=EU_VISA)
    first = await create_rule(
        client,
        headers,
        name="First",
        priority=10,
        actions=[{"type": "route_to_pool", "pool_id": empty["id"]}],
        schedule={"ends_at": (clock.now() - timedelta(days=1)).isoformat()},
        ab_test={"share": 0.2, "actions": [{"type": "require_3ds"}]},
    )
    page = await signed_in(Role.COMPANY_USER)
    shown = await page.get("/routing/rules")
    assert re.findall(r'data-rule-id="([^"]+)"', shown.text) == [first["id"], later["id"]]
    assert "Card brand is visa" in shown.text
    assert "In the EU: yes" in shown.text
    assert f"Route to pool {empty['name']}" in shown.text
    badges = re.search(
        rf'data-rule-id="{first["id"]}".*?rule-badges">(.*?)'
        r'<span class="(?:badge badge-warn|rule-hits)',
        shown.text,
        re.S,
    )
    assert badges is not None
    assert re.findall(r'data-status="([^"]+)"', badges.group(1)) == ["active", "ended", "a/b"]
    assert 'data-code="empty_pool"' in shown.text
    assert 'data-code="schedule_ended"' in shown.text
    # Read-only: no toggle and no drag handle.
    assert "/toggle" not in shown.text
    assert "data-sortable" not in shown.text


async def test_a_toggle_flips_the_rule_and_redraws_the_list(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    rule = await create_rule(client, world.headers(Role.COMPANY_ADMIN), name="Flip me")
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page)
    flipped = await page.post(
        f"/routing/rules/{rule['id']}/toggle", headers={**HTMX, "X-CSRF-Token": token}
    )
    assert flipped.status_code == 200
    assert flipped.text.lstrip().startswith('<div id="rules-list"')
    (saved,) = await _api_rules(client, world)
    assert (saved["is_active"], saved["version"]) == (False, 2)

    forged = await page.post(f"/routing/rules/{rule['id']}/toggle", headers=HTMX)
    assert forged.status_code == 403
    assert (await _api_rules(client, world))[0]["is_active"] is False


async def test_dragging_saves_the_new_order_and_a_partial_order_is_refused(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    a = await create_rule(client, headers, name="A")
    b = await create_rule(client, headers, name="B")
    c = await create_rule(client, headers, name="C")
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page)
    moved = await page.post(
        "/routing/rules/order",
        data={
            "csrf_token": token,
            "company_id": world.a.company.id,
            "rule_id": [c["id"], a["id"], b["id"]],
        },
        headers=HTMX,
    )
    assert moved.status_code == 200
    assert [r["name"] for r in await _api_rules(client, world)] == ["C", "A", "B"]
    assert re.findall(r'data-rule-id="([^"]+)"', moved.text) == [c["id"], a["id"], b["id"]]

    partial = await page.post(
        "/routing/rules/order",
        data={"csrf_token": token, "company_id": world.a.company.id, "rule_id": [b["id"]]},
        headers=HTMX,
    )
    assert partial.status_code == 400
    assert "missing" in partial.text
    assert [r["name"] for r in await _api_rules(client, world)] == ["C", "A", "B"]


# --- the builder ----------------------------------------------------------------------------------


async def test_the_builder_offers_every_condition_field_and_action_with_the_companys_pools(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    pool = await _pool(client, world)
    await create_rule(client, world.headers(Role.COMPANY_ADMIN), priority=30)
    page = await signed_in(Role.COMPANY_ADMIN)
    shown = await page.get("/routing/rules/new")
    assert shown.status_code == 200
    data = _builder_data(shown.text)
    reference = data["reference"]
    assert data["definition"]["priority"] == 40  # suggested: after the last rule
    assert {kind: set(fields) for kind, fields in reference["catalog"].items()} == {
        name: {spec.name for spec in kind.FIELDS} for name, kind in condition_types().items()
    }
    assert set(reference["actions"]) == set(action_types())
    assert [pool["id"], pool["name"]] in reference["pools"]
    assert ["DE", "Germany"] in reference["countries"]


async def test_saving_a_built_rule_stores_what_the_api_reads_back(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    pool = await _pool(client, world)
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, "/routing/rules/new")
    saved = await _save(
        page,
        token,
        {
            "company_id": world.a.company.id,
            "name": "EU Visa",
            "priority": 10,
            "is_active": True,
            "conditions": [
                *EU_VISA,
                {
                    "type": "amount",
                    "field": "amount",
                    "operator": "between",
                    "currency": "EUR",
                    "value": ["12.50", "1000"],
                },
            ],
            "actions": [
                {"type": "route_to_pool", "pool_id": pool["id"]},
                {"type": "surcharge", "percent": "1.5", "flat": "0.30", "currency": "EUR"},
            ],
            "schedule": {
                "days_of_week": ["mon", "fri"],
                "windows": [{"start": "22:00", "end": "02:00"}],
            },
            "ab_test": None,
        },
    )
    assert saved.status_code == 200, saved.text
    (rule,) = await _api_rules(client, world)
    assert saved.json()["url"] == f"/routing/rules/{rule['id']}"
    assert rule["conditions"][2]["value"] == [1250, 100000]
    assert rule["actions"][1]["flat"] == 30
    assert rule["schedule"]["days_of_week"] == ["mon", "fri"]

    edit = await page.get(f"/routing/rules/{rule['id']}/edit")
    definition = _builder_data(edit.text)["definition"]
    assert definition["conditions"][2]["value"] == ["12.50", "1000.00"]
    assert definition["actions"][1]["flat"] == "0.30"


async def test_an_error_deep_in_the_tree_comes_back_at_its_path_and_nothing_is_saved(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, "/routing/rules/new")
    refused = await _save(
        page,
        token,
        {
            "company_id": world.a.company.id,
            "name": "Broken",
            "conditions": [
                EU_VISA[0],
                {
                    "type": "group",
                    "logic": "OR",
                    "children": [
                        {"type": "geography", "field": "country", "operator": "in", "value": ["XX"]}
                    ],
                },
            ],
            "actions": [{"type": "block", "reason": "x"}],
        },
    )
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert list(errors) == ["conditions.1.children.0.value"]
    assert "XX" in errors["conditions.1.children.0.value"]

    money = await _save(
        page,
        token,
        {
            "company_id": world.a.company.id,
            "name": "Bad amount",
            "conditions": [
                {
                    "type": "amount",
                    "field": "amount",
                    "operator": "gt",
                    "currency": "USD",
                    "value": "1.005",
                }
            ],
            "actions": [{"type": "block", "reason": "x"}],
        },
    )
    assert money.status_code == 400
    assert list(money.json()["errors"]) == ["conditions.0.value"]
    assert await _api_rules(client, world) == []


async def test_saving_needs_the_csrf_header_and_routing_write(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    body = {"name": "Nope", "actions": [{"type": "block", "reason": "x"}]}
    admin = await signed_in(Role.COMPANY_ADMIN)
    assert (await admin.post("/routing/rules", json=body)).status_code == 403
    reader = await signed_in(Role.COMPANY_USER)
    token = await _token(reader)
    assert (await _save(reader, token, body)).status_code == 403
    assert await _api_rules(client, world) == []


async def test_editing_makes_a_new_version_shown_in_the_history(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    rule = await create_rule(
        client, world.headers(Role.COMPANY_ADMIN), name="Old", conditions=EU_VISA
    )
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, f"/routing/rules/{rule['id']}/edit")
    edited = await _save(
        page,
        token,
        {
            "name": "New",
            "conditions": EU_VISA[:1],
            "actions": [{"type": "require_3ds"}],
            "schedule": None,
            "ab_test": None,
        },
        url=f"/routing/rules/{rule['id']}",
    )
    assert edited.status_code == 200, edited.text
    detail = await page.get(f"/routing/rules/{rule['id']}")
    assert detail.status_code == 200
    assert re.findall(r"<strong>Version (\d+)</strong>", detail.text) == ["2", "1"]
    assert "Require 3-D Secure" in detail.text
    chart = re.search(r'id="rule-days">(.*?)</script>', detail.text, re.S)
    assert chart is not None and len(json.loads(chart.group(1))["labels"]) == 30


async def test_duplicate_and_delete(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    rule = await create_rule(client, world.headers(Role.COMPANY_ADMIN), name="Original")
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, f"/routing/rules/{rule['id']}")
    copied = await page.post(f"/routing/rules/{rule['id']}/duplicate", data={"csrf_token": token})
    assert copied.status_code == 303
    names = {r["name"]: r for r in await _api_rules(client, world)}
    assert names["Copy of Original"]["is_active"] is False
    assert copied.headers["location"] == f"/routing/rules/{names['Copy of Original']['id']}/edit"
    deleted = await page.post(f"/routing/rules/{rule['id']}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert [r["name"] for r in await _api_rules(client, world)] == ["Copy of Original"]


async def test_another_agencys_rule_is_not_found(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    rule = await create_rule(client, world.headers(Role.COMPANY_ADMIN, "b"))
    page = await signed_in(Role.COMPANY_ADMIN)
    assert (await page.get(f"/routing/rules/{rule['id']}")).status_code == 404
    assert (await page.get(f"/routing/rules/{rule['id']}/edit")).status_code == 404


# --- the tester -----------------------------------------------------------------------------------


async def test_the_tester_shows_the_matched_rule_its_actions_and_the_breakdown(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    pool = await _pool(client, world)
    headers = world.headers(Role.COMPANY_ADMIN)
    await create_rule(
        client,
        headers,
        name="US only",
        priority=10,
        conditions=[{"type": "geography", "field": "country", "operator": "equals", "value": "US"}],
    )
    await create_rule(
        client,
        headers,
        name="EU Visa",
        priority=20,
        conditions=EU_VISA,
        actions=[{"type": "route_to_pool", "pool_id": pool["id"]}],
    )
    page = await signed_in(Role.COMPANY_USER)
    token = await _token(page, "/routing/tester")
    sample = {
        "csrf_token": token,
        "amount": "25.00",
        "currency": "EUR",
        "country": "DE",
        "card_brand": "visa",
    }
    shown = await page.post("/routing/tester", data=sample, headers=HTMX)
    assert shown.status_code == 200, shown.text
    assert re.search(r'data-testid="matched-rule">Matched <strong>EU Visa</strong>', shown.text)
    assert f"Route to pool {pool['name']}" in shown.text
    assert 'data-testid="final-amount">Final amount €25.00' in shown.text
    assert re.findall(r'data-matched="(\w+)"', shown.text) == ["false", "true"]
    assert '<li class="fail" data-path="conditions.0">✗ Country is United States' in shown.text
    assert '<li class="pass" data-path="conditions.1">✓ Card brand is visa' in shown.text

    api = await client.post(
        f"{RULES}/test",
        json={
            "transaction": {
                "amount": 2500,
                "currency": "EUR",
                "country": "DE",
                "card_brand": "visa",
            }
        },
        headers=world.headers(Role.COMPANY_USER),
    )
    assert api.json()["matched_rule"]["name"] == "EU Visa"

    other = await page.post("/routing/tester", data={**sample, "card_brand": "amex"}, headers=HTMX)
    assert 'data-testid="no-match"' in other.text


async def test_a_bad_sample_is_named_and_the_draft_test_runs_an_unsaved_rule(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, "/routing/tester")
    bad = await page.post(
        "/routing/tester", data={"csrf_token": token, "amount": "", "currency": "USD"}
    )
    assert bad.status_code == 400
    assert 'data-error-for="transaction.amount"' in bad.text

    draft = await page.post(
        "/routing/tester/draft",
        json={
            "company_id": world.a.company.id,
            "rule": {
                "name": "Unsaved",
                "conditions": EU_VISA,
                "actions": [{"type": "block", "reason": "test"}],
            },
            "sample": {"amount": "10.00", "currency": "EUR", "country": "FR", "card_brand": "visa"},
        },
        headers={"X-CSRF-Token": token},
    )
    assert draft.status_code == 200, draft.text
    assert "Matched <strong>Unsaved</strong>" in draft.text
    assert "Block: test" in draft.text
    assert await _api_rules(client, world) == []

    broken = await page.post(
        "/routing/tester/draft",
        json={
            "company_id": world.a.company.id,
            "rule": {
                "conditions": [
                    {"type": "geography", "field": "country", "operator": "equals", "value": "ZZ"}
                ],
                "actions": [],
            },
            "sample": {"amount": "10.00", "currency": "EUR"},
        },
        headers={"X-CSRF-Token": token},
    )
    assert broken.status_code == 400
    assert 'data-error-for="rule.conditions.0.value"' in broken.text


# --- what the pages say, unit by unit -----------------------------------------------------------


def test_every_action_parameter_has_an_input() -> None:
    catalog = rule_view.action_catalog()
    assert set(catalog) == set(action_types())
    for name, action in action_types().items():
        assert {f["name"] for f in catalog[name]} == set(action.model_fields) - {"type"}, name


@pytest.mark.parametrize(
    ("leaf", "words"),
    [
        (
            {"type": "geography", "field": "country", "operator": "in", "value": ["DE", "FR"]},
            "Country is one of Germany, France",
        ),
        (
            {
                "type": "amount",
                "field": "amount",
                "operator": "gte",
                "currency": "JPY",
                "value": 500,
            },
            "Amount is at least 500 JPY",
        ),
        (
            {"type": "time", "field": "day_of_week", "operator": "in", "value": [0, 6]},
            "Day of week is one of mon, sun",
        ),
        (
            {"type": "customer", "field": "risk_level", "operator": "gte", "value": 2},
            "Risk level is at least high",
        ),
        (
            {"type": "payment_method", "field": "is_tokenized", "operator": "is", "value": False},
            "Tokenized: no",
        ),
    ],
)
def test_conditions_in_words(leaf: dict[str, Any], words: str) -> None:
    assert rule_view.leaf_words(leaf) == words


def test_stored_weekdays_and_risk_levels_are_edited_by_name() -> None:
    stored = {
        "conditions": [
            {
                "type": "group",
                "logic": "OR",
                "children": [
                    {"type": "time", "field": "day_of_week", "operator": "in", "value": [0, 5]},
                    {"type": "customer", "field": "risk_level", "operator": "lte", "value": 1},
                    {"type": "time", "field": "day_of_week", "operator": "equals", "value": "tue"},
                ],
            },
        ],
        "actions": [{"type": "discount", "flat": 150, "currency": "USD"}],
    }
    edited = rule_view.for_builder(stored)
    values = [child["value"] for child in edited["conditions"][0]["children"]]
    assert values == [["mon", "sat"], "medium", "tue"]
    assert edited["actions"][0]["flat"] == "1.50"
    assert rule_view.from_builder(edited)["actions"][0]["flat"] == 150


async def test_an_agency_admin_sees_the_rules_of_the_brand_picked(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    await create_rule(client, world.headers(Role.COMPANY_ADMIN), name="First brand rule")
    other = await create_rule(
        client,
        world.headers(Role.CLIENT_ADMIN),
        name="Second brand rule",
        company_id=world.a.other_company.id,
    )
    page = await signed_in(Role.CLIENT_ADMIN)
    shown = await page.get("/routing/rules", params={"company_id": world.a.other_company.id})
    assert re.findall(r'data-rule-id="([^"]+)"', shown.text) == [other["id"]]
    builder = await page.get("/routing/rules/new", params={"company_id": world.a.other_company.id})
    assert _builder_data(builder.text)["company_id"] == world.a.other_company.id
    assert (
        await page.get("/routing/rules", params={"company_id": world.b.company.id})
    ).status_code == 404


async def test_a_reader_sees_a_rules_history_without_the_buttons_that_change_it(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    rule = await create_rule(client, world.headers(Role.COMPANY_ADMIN), name="Readable")
    page = await signed_in(Role.COMPANY_USER)
    shown = await page.get(f"/routing/rules/{rule['id']}")
    assert shown.status_code == 200
    assert "Version 1" in shown.text
    assert 'data-testid="edit-rule"' not in shown.text
    assert "/duplicate" not in shown.text
