"""Test and live kept apart (issue 18): a key (or a dashboard session) sees and makes only the
objects of its mode, and a payment goes only to merchant accounts of its environment: live to
production, test to sandbox. Lists, reads, creates and payments are tried across modes."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from avnz.outbox.models import OutboxEvent
from avnz.payments import publishing
from avnz.routing.accounts.models import AccountEnvironment, MerchantAccount
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from avnz.webhooks import delivery
from avnz.webhooks.models import WebhookDelivery
from tests.factories import World
from tests.payments.test_statement_budget import (
    BUDGET_STATEMENTS,
    BUDGET_TRANSACTIONS,
    counting,
)
from tests.routing.factories import create_account
from tests.rules.support import create_pool
from tests.support.payments import API, card, ledger, payment_body

PERMISSIONS = [
    "transactions:read",
    "transactions:write",
    "transactions:refund",
    "customers:read",
    "customers:write",
    "settings:read",
    "settings:write",
]


async def _key(client: httpx.AsyncClient, world: World, mode: str) -> dict[str, str]:
    body = {
        "company_id": world.a.company.id,
        "name": f"{mode} backend",
        "mode": mode,
        "permissions": PERMISSIONS,
    }
    created = await client.post(
        f"{API}/api-keys", json=body, headers=world.headers(Role.COMPANY_ADMIN)
    )
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith(f"sk_{mode}_")
    return {"Authorization": f"Bearer {created.json()['secret']}"}


@pytest.fixture
def held_publication(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settled payments are published a minute later: off the count (as the budget test)."""
    monkeypatch.setattr(publishing, "SOON_SECONDS", 60.0)


@pytest.fixture
async def test_key(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    return await _key(client, world, "test")


@pytest.fixture
async def live_key(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    return await _key(client, world, "live")


async def _production(runtime: Runtime, account_id: str) -> None:
    """Make an account a production one, still aimed at the local sandbox (as a gateway's own
    host would answer): the ORM change moves the company's configuration version."""
    async with runtime.sessions.begin() as session:
        account = await session.get_one(MerchantAccount, account_id)
        account.environment = AccountEnvironment.PRODUCTION


async def _nmi_account(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str, name: str
) -> dict[str, Any]:
    return await create_account(
        client, headers, None, name=name, provider="nmi", base_url=f"{sandboxes}/nmi"
    )


@pytest.fixture
async def accounts(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str, runtime: Runtime
) -> dict[str, dict[str, Any]]:
    """Brand A1's sandbox NMI account and its production one (added second)."""
    sandbox = await _nmi_account(client, headers, sandboxes, "Sandbox")
    production = await _nmi_account(client, headers, sandboxes, "Production")
    await _production(runtime, production["id"])
    return {"sandbox": sandbox, "production": production}


async def _pay(client: httpx.AsyncClient, key: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(f"{API}/payments", json=payment_body(**body), headers=key)


# --- pay -------------------------------------------------------------------------------------


async def test_each_mode_pays_through_the_accounts_of_its_environment(
    client: httpx.AsyncClient,
    test_key: dict[str, str],
    live_key: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    live = await _pay(client, live_key)
    test = await _pay(client, test_key)
    assert live.status_code == test.status_code == 201, live.text + test.text
    assert (live.json()["livemode"], live.json()["status"]) == (True, "captured")
    assert live.json()["merchant_account_id"] == accounts["production"]["id"]
    assert accounts["sandbox"]["id"] in live.json()["routing"]["skipped"]
    assert (test.json()["livemode"], test.json()["status"]) == (False, "captured")
    assert test.json()["merchant_account_id"] == accounts["sandbox"]["id"]
    assert "sandbox account" in live.json()["routing"]["skipped"][accounts["sandbox"]["id"]]


async def test_a_live_key_never_charges_through_a_sandbox_account(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    live_key: dict[str, str],
    sandboxes: str,
) -> None:
    sandbox = await _nmi_account(client, headers, sandboxes, "Sandbox only")
    before = len(await ledger(sandboxes))
    routed = await _pay(client, live_key)
    pinned = await _pay(client, live_key, merchant_account_id=sandbox["id"])
    for refused in (routed, pinned):
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "no_eligible_account"
        assert "live payments go to production accounts only" in error["message"]
    assert len(await ledger(sandboxes)) == before  # nothing reached the gateway
    listed = await client.get(f"{API}/payments", headers=live_key)
    assert listed.json()["data"] == []


async def test_a_test_key_never_charges_through_a_production_account(
    client: httpx.AsyncClient,
    test_key: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    pinned = await _pay(client, test_key, merchant_account_id=accounts["production"]["id"])
    assert pinned.status_code == 422, pinned.text
    assert "test payments go to sandbox accounts only" in pinned.json()["error"]["message"]


async def test_a_pool_of_both_environments_serves_each_mode_its_own(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    test_key: dict[str, str],
    live_key: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    ids = [accounts["sandbox"]["id"], accounts["production"]["id"]]
    pool = await create_pool(client, headers, ids, strategy="round_robin", is_default=True)
    for _ in range(3):  # round robin would alternate; the mode decides instead
        live = (await _pay(client, live_key)).json()
        test = (await _pay(client, test_key)).json()
        assert live["routing"]["pool_id"] == test["routing"]["pool_id"] == pool["id"]
        assert live["merchant_account_id"] == accounts["production"]["id"]
        assert test["merchant_account_id"] == accounts["sandbox"]["id"]


# --- list and read ---------------------------------------------------------------------------


async def test_payments_and_refunds_are_listed_and_read_in_their_mode_only(
    client: httpx.AsyncClient,
    test_key: dict[str, str],
    live_key: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    live = (await _pay(client, live_key)).json()
    test = (await _pay(client, test_key)).json()
    for key, mine, other in ((live_key, live, test), (test_key, test, live)):
        listed = await client.get(f"{API}/payments", headers=key)
        assert [p["id"] for p in listed.json()["data"]] == [mine["id"]]
        assert (await client.get(f"{API}/payments/{mine['id']}", headers=key)).status_code == 200
        for path in ("", "/refunds", "/routing"):
            read = await client.get(f"{API}/payments/{other['id']}{path}", headers=key)
            assert read.status_code == 404, (path, read.text)
        # Moving money on the other mode's payment is as missing as reading it.
        refund = await client.post(f"{API}/payments/{other['id']}/refunds", json={}, headers=key)
        void = await client.post(f"{API}/payments/{other['id']}/void", headers=key)
        assert refund.status_code == void.status_code == 404
    refund = await client.post(f"{API}/payments/{live['id']}/refunds", json={}, headers=live_key)
    assert refund.status_code == 201, refund.text
    assert refund.json()["livemode"] is True
    listed = await client.get(f"{API}/payments/{live['id']}/refunds", headers=live_key)
    assert [r["livemode"] for r in listed.json()] == [True]


async def test_a_live_payment_cannot_use_a_test_card_customer_or_order(
    client: httpx.AsyncClient,
    test_key: dict[str, str],
    live_key: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    customer = await client.post(
        f"{API}/customers", json={"email": "pat@example.com"}, headers=test_key
    )
    method = await client.post(f"{API}/payment-methods", json={"card": card()}, headers=test_key)
    assert customer.status_code == method.status_code == 201, customer.text + method.text
    assert customer.json()["livemode"] is method.json()["livemode"] is False
    order = await client.post(
        f"{API}/orders",
        json={
            "customer_id": customer.json()["id"],
            "line_items": [{"sku": "S1", "name": "Serum", "quantity": 1, "unit_amount": 1999}],
            "currency": "USD",
        },
        headers=test_key,
    )
    assert order.status_code == 201, order.text
    assert order.json()["livemode"] is False
    with_method = await client.post(
        f"{API}/payments",
        json={"amount": 1999, "currency": "USD", "payment_method_id": method.json()["id"]},
        headers=live_key,
    )
    assert with_method.status_code == 404
    assert with_method.json()["error"]["param"] == "payment_method_id"
    with_customer = await _pay(client, live_key, customer_id=customer.json()["id"])
    assert with_customer.status_code == 404
    assert with_customer.json()["error"]["param"] == "customer_id"
    with_order = await client.post(
        f"{API}/payments",
        json={"order_id": order.json()["id"], "card": card()},
        headers=live_key,
    )
    assert with_order.status_code == 404
    assert with_order.json()["error"]["param"] == "order_id"
    # The same card, customer and order in test mode pay.
    paid = await client.post(
        f"{API}/payments",
        json={"amount": 1999, "currency": "USD", "payment_method_id": method.json()["id"]},
        headers=test_key,
    )
    assert paid.status_code == 201, paid.text


async def test_customers_and_cards_are_created_listed_and_read_per_mode(
    client: httpx.AsyncClient, test_key: dict[str, str], live_key: dict[str, str]
) -> None:
    made: dict[str, dict[str, str]] = {}
    for mode, key in (("test", test_key), ("live", live_key)):
        # The same email in both modes: two customers, no clash.
        customer = await client.post(
            f"{API}/customers", json={"email": "sam@example.com"}, headers=key
        )
        method = await client.post(f"{API}/payment-methods", json={"card": card()}, headers=key)
        assert customer.status_code == method.status_code == 201, customer.text + method.text
        assert customer.json()["livemode"] is method.json()["livemode"] is (mode == "live")
        made[mode] = {"customers": customer.json()["id"], "payment-methods": method.json()["id"]}
    for mode, key in (("test", test_key), ("live", live_key)):
        other = made["live" if mode == "test" else "test"]
        for kind, mine in made[mode].items():
            listed = await client.get(f"{API}/{kind}", headers=key)
            assert [row["id"] for row in listed.json()["data"]] == [mine]
            missing = await client.get(f"{API}/{kind}/{other[kind]}", headers=key)
            assert missing.status_code == 404


# --- webhooks and events ---------------------------------------------------------------------


async def test_events_reach_only_the_endpoints_of_their_mode(
    client: httpx.AsyncClient,
    runtime: Runtime,
    test_key: dict[str, str],
    live_key: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    endpoints = {}
    for mode, key in (("test", test_key), ("live", live_key)):
        created = await client.post(
            f"{API}/webhook-endpoints",
            json={"url": f"http://127.0.0.1:9/{mode}", "events": ["*"]},
            headers=key,
        )
        assert created.status_code == 201, created.text
        assert created.json()["livemode"] is (mode == "live")
        endpoints[mode] = created.json()["id"]
    listed = await client.get(f"{API}/webhook-endpoints", headers=live_key)
    assert [e["id"] for e in listed.json()["data"]] == [endpoints["live"]]
    hidden = await client.get(f"{API}/webhook-endpoints/{endpoints['test']}", headers=live_key)
    assert hidden.status_code == 404
    live = (await _pay(client, live_key)).json()
    test = (await _pay(client, test_key)).json()
    async with runtime.sessions.begin() as session:
        await delivery.fan_out(session)
    async with runtime.sessions() as session:
        events = {e.id: e for e in await session.scalars(select(OutboxEvent))}
        sent = list(await session.scalars(select(WebhookDelivery)))
    by_payment = {e.payload["payment"]["id"]: e for e in events.values() if "payment" in e.payload}
    assert by_payment[live["id"]].livemode is True
    assert by_payment[test["id"]].livemode is False
    assert sent and all(
        events[d.event_id].livemode is (d.endpoint_id == endpoints["live"]) for d in sent
    )
    assert {d.endpoint_id for d in sent} == set(endpoints.values())
    body = delivery.envelope(by_payment[live["id"]])
    assert b'"livemode":true' in body


# --- users: the mode a request asks for ------------------------------------------------------


async def test_a_user_works_in_test_mode_unless_the_request_asks_for_live(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    live_key: dict[str, str],
    accounts: dict[str, dict[str, Any]],
) -> None:
    live_user = {**headers, "Avnz-Mode": "live"}
    test = (await _pay(client, headers)).json()
    live = (await _pay(client, live_user)).json()
    assert (test["livemode"], live["livemode"]) == (False, True)
    assert live["merchant_account_id"] == accounts["production"]["id"]
    in_test = await client.get(f"{API}/payments", headers=headers)
    in_live = await client.get(f"{API}/payments", headers=live_user)
    assert [p["id"] for p in in_test.json()["data"]] == [test["id"]]
    assert [p["id"] for p in in_live.json()["data"]] == [live["id"]]
    wrong = await client.get(f"{API}/payments", headers={**headers, "Avnz-Mode": "prod"})
    assert wrong.status_code == 400
    assert (wrong.json()["error"]["code"], wrong.json()["error"]["param"]) == (
        "invalid_mode",
        "Avnz-Mode",
    )
    # A key has its own mode; asking it for the other is refused, not ignored.
    mismatch = await client.get(f"{API}/payments", headers={**live_key, "Avnz-Mode": "test"})
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["code"] == "livemode_mismatch"


async def test_an_idempotency_key_in_live_mode_is_not_the_same_key_in_test_mode(
    client: httpx.AsyncClient, headers: dict[str, str], accounts: dict[str, dict[str, Any]]
) -> None:
    keyed = {**headers, "Idempotency-Key": "order-77"}
    test = await _pay(client, keyed)
    live = await _pay(client, {**keyed, "Avnz-Mode": "live"})
    assert test.status_code == live.status_code == 201, test.text + live.text
    assert "Idempotent-Replayed" not in live.headers
    assert (test.json()["livemode"], live.json()["livemode"]) == (False, True)
    assert test.json()["id"] != live.json()["id"]


# --- the budget ------------------------------------------------------------------------------


async def test_a_live_payment_costs_no_statement_more(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    live_key: dict[str, str],
    runtime: Runtime,
    sandboxes: str,
    held_publication: None,
) -> None:
    """The mode comes from the key and the accounts are filtered in memory: a live payment
    through a pool (beside a sandbox account it must skip) stays within the card budget."""
    production = [await _nmi_account(client, headers, sandboxes, n) for n in ("P1", "P2")]
    sandbox = await _nmi_account(client, headers, sandboxes, "S1")
    for account in production:
        await _production(runtime, account["id"])
    ids = [a["id"] for a in (*production, sandbox)]
    await create_pool(client, headers, ids, strategy="round_robin", is_default=True)
    for n in range(3):  # warm the caches and open today's usage rows of both accounts
        warm = await client.post(
            f"{API}/payments",
            json=payment_body(),
            headers={**live_key, "Idempotency-Key": f"live-warm-{n}"},
        )
        assert warm.status_code == 201, warm.text
    with counting(runtime) as seen:
        paid = await client.post(
            f"{API}/payments",
            json=payment_body(),
            headers={**live_key, "Idempotency-Key": "live-counted"},
        )
    assert paid.status_code == 201, paid.text
    assert paid.json()["livemode"] is True
    assert paid.json()["merchant_account_id"] in {a["id"] for a in production}
    assert len(seen.statements) <= BUDGET_STATEMENTS, "\n".join(seen.statements)
    assert seen.commits <= BUDGET_TRANSACTIONS
