"""Pool pages over ASGI: the list and add modal, the detail page's members (order, weights,
active boxes), settings, failover, statistics and simulator; CSRF, roles and scope; and that
what a page shows and saves is what the pools API shows."""

import re
from typing import Any

import httpx

from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.strategies import STRATEGIES
from avnz.tenancy.models import Role
from avnz.web.pages import pools as pool_pages
from tests.factories import World
from tests.routing.factories import create_account
from tests.rules.support import POOLS, create_pool
from tests.web.conftest import SignIn, csrf_of

HTMX = {"HX-Request": "true"}


async def _accounts(client: httpx.AsyncClient, world: World, count: int = 2) -> list[str]:
    headers = world.headers(Role.COMPANY_ADMIN)
    created = [
        await create_account(client, headers, None, name=f"Account {n}") for n in range(count)
    ]
    return [account["id"] for account in created]


async def _api_pool(client: httpx.AsyncClient, world: World, pool_id: str) -> dict[str, Any]:
    response = await client.get(f"{POOLS}/{pool_id}", headers=world.headers(Role.COMPANY_ADMIN))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _pool_ids(client: httpx.AsyncClient, world: World) -> list[str]:
    listed = await client.get(POOLS, headers=world.headers(Role.COMPANY_ADMIN))
    return [pool["id"] for pool in listed.json()["data"]]


async def _token(page: httpx.AsyncClient, path: str) -> str:
    response = await page.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


# --- list and add --------------------------------------------------------------------------------


async def test_an_empty_list_offers_the_add_modal_to_writers_only(signed_in: SignIn) -> None:
    admin = await signed_in(Role.COMPANY_ADMIN)
    page = await admin.get("/pools")
    assert page.status_code == 200
    assert "No pools yet" in page.text
    assert 'data-testid="add-pool"' in page.text

    reader = await signed_in(Role.COMPANY_USER)
    read_only = await reader.get("/pools")
    assert read_only.status_code == 200
    assert 'data-testid="add-pool"' not in read_only.text
    assert 'method="post" action="/pools"' not in read_only.text


async def test_adding_a_pool_with_two_accounts_saves_them_in_order_with_their_weights(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    first, second = await _accounts(client, world)
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, "/pools")
    created = await page.post(
        "/pools",
        data={
            "csrf_token": token,
            "name": "EU cards",
            "strategy": "weighted",
            "accounts": [first, second],
            f"weight.{first}": "70",
            f"weight.{second}": "30",
        },
    )
    assert created.status_code == 303
    pool_id = created.headers["location"].rsplit("/", 1)[1]
    pool = await _api_pool(client, world, pool_id)
    assert pool["name"] == "EU cards"
    assert [
        (m["merchant_account_id"], m["weight"], m["priority"]) for m in pool["memberships"]
    ] == [(first, 70, 0), (second, 30, 1)]

    listed = await page.get("/pools")
    assert "EU cards" in listed.text
    row = re.search(rf'data-row-id="{pool_id}".*?</tr>', listed.text, re.S)
    assert row is not None and '<td class="num">2</td>' in row.group(0)


async def test_a_refused_pool_shows_the_message_at_its_field_and_saves_nothing(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, "/pools")
    refused = await page.post("/pools", data={"csrf_token": token, "name": "  "})
    assert refused.status_code == 400
    assert 'data-error-for="name"' in refused.text
    assert 'data-open-on-load="add-pool"' in refused.text
    assert await _pool_ids(client, world) == []


async def test_a_member_of_another_company_is_refused_and_the_pool_is_not_kept(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    foreign = await create_account(
        client, world.headers(Role.COMPANY_ADMIN, "b"), None, name="Other agency"
    )
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, "/pools")
    refused = await page.post(
        "/pools", data={"csrf_token": token, "name": "Mixed", "accounts": [foreign["id"]]}
    )
    assert refused.status_code == 400
    assert "No merchant account" in refused.text
    assert await _pool_ids(client, world) == []


async def test_changes_need_the_csrf_token_and_the_write_permission(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    admin = await signed_in(Role.COMPANY_ADMIN)
    forged = await admin.post("/pools", data={"name": "Forged"})
    assert forged.status_code == 403
    assert "The form has expired" in forged.text

    reader = await signed_in(Role.COMPANY_USER)
    token = await _token(reader, "/pools")
    denied = await reader.post("/pools", data={"csrf_token": token, "name": "Nope"})
    assert denied.status_code == 403
    assert await _pool_ids(client, world) == []


# --- detail ---------------------------------------------------------------------------------------


async def test_the_detail_page_shows_members_in_failover_order_as_the_api_does(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    accounts = await _accounts(client, world, 3)
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN), accounts)
    page = await signed_in(Role.COMPANY_USER)
    shown = await page.get(f"/pools/{pool['id']}")
    assert shown.status_code == 200
    order = re.findall(r'data-account-id="([^"]+)"', shown.text)
    api = await _api_pool(client, world, pool["id"])
    assert order == [m["merchant_account_id"] for m in api["memberships"]]
    assert "No payments in this range" in shown.text
    # Read-only: no drag handle, no enabled slider, no settings button.
    assert "data-sortable" not in shown.text
    assert "Save settings" not in shown.text


async def test_dragging_and_sliding_saves_priorities_weights_and_active_flags(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    first, second = await _accounts(client, world)
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN), [first, second])
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, f"/pools/{pool['id']}")
    saved = await page.post(
        f"/pools/{pool['id']}/members",
        data={
            "csrf_token": token,
            "account_id": [second, first],
            f"weight.{second}": "25",
            f"weight.{first}": "75",
            f"active.{second}": "on",
        },
        headers=HTMX,
    )
    assert saved.status_code == 200
    assert saved.text.lstrip().startswith('<form id="members"')
    assert re.findall(r'data-account-id="([^"]+)"', saved.text) == [second, first]
    api = await _api_pool(client, world, pool["id"])
    assert [
        (m["merchant_account_id"], m["priority"], m["weight"], m["is_active"])
        for m in api["memberships"]
    ] == [(second, 0, 25, True), (first, 1, 75, False)]


async def test_a_stale_member_list_or_a_bad_weight_changes_nothing(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    first, second = await _accounts(client, world)
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN), [first, second])
    before = await _api_pool(client, world, pool["id"])
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, f"/pools/{pool['id']}")
    stale = await page.post(
        f"/pools/{pool['id']}/members",
        data={"csrf_token": token, "account_id": [second], f"weight.{second}": "5"},
        headers=HTMX,
    )
    assert stale.status_code == 409
    assert "reload" in stale.text
    heavy = await page.post(
        f"/pools/{pool['id']}/members",
        data={
            "csrf_token": token,
            "account_id": [second, first],
            f"weight.{second}": "500",
            f"weight.{first}": "10",
        },
        headers=HTMX,
    )
    assert heavy.status_code == 400
    assert f"weight.{second}" in heavy.text
    assert (await _api_pool(client, world, pool["id"]))["memberships"] == before["memberships"]


async def test_adding_and_removing_a_member(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    first, second = await _accounts(client, world)
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN), [first])
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, f"/pools/{pool['id']}")
    added = await page.post(
        f"/pools/{pool['id']}/accounts",
        data={"csrf_token": token, "merchant_account_id": second, "weight": "40"},
    )
    assert added.status_code == 303
    members = (await _api_pool(client, world, pool["id"]))["memberships"]
    assert [(m["merchant_account_id"], m["weight"]) for m in members] == [
        (first, 100),
        (second, 40),
    ]

    removed = await page.post(
        f"/pools/{pool['id']}/accounts/{first}/remove", data={"csrf_token": token}, headers=HTMX
    )
    assert removed.headers["HX-Redirect"] == f"/pools/{pool['id']}#members"
    members = (await _api_pool(client, world, pool["id"]))["memberships"]
    assert [m["merchant_account_id"] for m in members] == [second]


async def test_settings_and_failover_are_saved_and_a_bad_value_is_shown_at_its_input(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN), [])
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, f"/pools/{pool['id']}")
    settings = await page.post(
        f"/pools/{pool['id']}",
        data={
            "csrf_token": token,
            "name": "Renamed",
            "strategy": "round_robin",
            "is_active": "on",
            "is_default": "on",
        },
    )
    assert settings.status_code == 303
    failover = await page.post(
        f"/pools/{pool['id']}/failover",
        data={
            "csrf_token": token,
            "failover_enabled": "on",
            "failover_config.max_attempts": "2",
            "failover_config.time_budget_ms": "30000",
            "failover_config.retry_soft_declines": "on",
            "failover_config.exclusion_seconds": "600",
            "failover_config.failure_threshold": "4",
            "failover_config.card_retry_budget": "6",
        },
    )
    assert failover.status_code == 303
    api = await _api_pool(client, world, pool["id"])
    assert (api["name"], api["strategy"], api["is_default"]) == ("Renamed", "round_robin", True)
    assert api["failover_config"]["max_attempts"] == 2
    assert api["failover_config"]["retry_soft_declines"] is True

    refused = await page.post(
        f"/pools/{pool['id']}/failover",
        data={"csrf_token": token, "failover_config.max_attempts": "9"},
    )
    assert refused.status_code == 400
    assert 'data-error-for="failover_config.max_attempts"' in refused.text
    assert (await _api_pool(client, world, pool["id"]))["failover_config"] == api["failover_config"]


async def test_the_simulator_shows_what_the_api_simulation_answers(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    accounts = await _accounts(client, world)
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN), accounts)
    page = await signed_in(Role.COMPANY_USER)  # pools:read may simulate, as in the API
    token = await _token(page, f"/pools/{pool['id']}")
    shown = await page.post(
        f"/pools/{pool['id']}/simulate",
        data={
            "csrf_token": token,
            "transactions": "200",
            "currency": "USD",
            "amount_min": "5.00",
            "amount_max": "50.00",
            "countries": "US, GB",
            "card_brands": ["visa", "mastercard"],
            "seed": "7",
        },
        headers=HTMX,
    )
    assert shown.status_code == 200, shown.text
    api = await client.post(
        f"{POOLS}/{pool['id']}/simulate",
        json={
            "transactions": 200,
            "currency": "USD",
            "amounts": [{"min": 500, "max": 5000}],
            "countries": {"US": 1.0, "GB": 1.0},
            "card_brands": {"visa": 1.0, "mastercard": 1.0},
            "seed": 7,
        },
        headers=world.headers(Role.COMPANY_USER),
    )
    for account in api.json()["accounts"]:
        row = re.search(rf'data-account="{account["account_id"]}">(.*?)</tr>', shown.text, re.S)
        assert row is not None
        cells = re.findall(r'<td class="num">([^<]*)', row.group(1))
        assert cells[:2] == [str(account["picked"]), str(account["served"])]


async def test_a_bad_simulation_says_which_input_is_wrong(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN), [])
    page = await signed_in(Role.COMPANY_ADMIN)
    token = await _token(page, f"/pools/{pool['id']}")
    refused = await page.post(
        f"/pools/{pool['id']}/simulate",
        data={"csrf_token": token, "transactions": "1", "amount_min": "abc"},
        headers=HTMX,
    )
    assert refused.status_code == 400
    assert 'data-error-for="amount_min"' in refused.text


async def test_another_agencys_pool_is_not_found(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN, "b"), [])
    page = await signed_in(Role.COMPANY_ADMIN)
    assert (await page.get(f"/pools/{pool['id']}")).status_code == 404


def test_every_strategy_and_failover_setting_has_its_explanation_and_input() -> None:
    assert set(pool_pages.strategy_help()) == set(STRATEGIES)
    assert all(len(text) > 20 for text in pool_pages.strategy_help().values())
    fields = pool_pages.failover_fields(FailoverConfig())
    assert [f.name for f in fields] == list(FailoverConfig.model_fields)
    attempts = next(f for f in fields if f.name == "max_attempts")
    assert (attempts.minimum, attempts.maximum, attempts.is_flag) == (1, 5, False)


async def test_an_agency_admin_picks_the_brand_a_new_pool_belongs_to(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    page = await signed_in(Role.CLIENT_ADMIN)
    listed = await page.get("/pools")
    assert f'value="{world.a.other_company.id}"' in listed.text  # a company picker
    created = await page.post(
        "/pools",
        data={
            "csrf_token": csrf_of(listed.text),
            "company_id": world.a.other_company.id,
            "name": "Second brand",
        },
    )
    assert created.status_code == 303
    pool_id = created.headers["location"].rsplit("/", 1)[1]
    pool = await client.get(f"{POOLS}/{pool_id}", headers=world.headers(Role.CLIENT_ADMIN))
    assert pool.json()["company_id"] == world.a.other_company.id
