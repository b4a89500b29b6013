"""`/account-pools`: create, list, read, change and deactivate pools; memberships with their
rules (same company, no duplicates, weights and priorities in range); one default pool per
company; the audit trail; stats from real payments; accounts in active pools cannot be closed."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit.models import AuditLog
from avnz.payments.publishing import publisher_for
from avnz.routing.pools.models import AccountPool, PoolMembership
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.payments import pay

POOLS = "/api/v1/account-pools"


async def create_pool(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(POOLS, json={"name": "Main", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], pool_id: str, account_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{POOLS}/{pool_id}/accounts",
        json={"merchant_account_id": account_id, **body},
        headers=headers,
    )


async def test_create_read_list_and_update_a_pool(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    pool = await create_pool(
        client,
        headers,
        strategy="lowest_latency",
        configuration={"ewma_alpha": 0.5},
        failover_config={"max_attempts": 2},
    )
    assert pool["company_id"] == world.a.company.id
    assert pool["id"].startswith("pool_")
    assert pool["configuration"] == {"ewma_alpha": 0.5}
    assert pool["failover_config"]["max_attempts"] == 2
    assert pool["failover_config"]["time_budget_ms"] == 60_000
    assert pool["failover_config"]["retry_soft_declines"] is False
    assert pool["memberships"] == []

    listed = await client.get(POOLS, params={"strategy": "lowest_latency"}, headers=headers)
    assert [item["id"] for item in listed.json()["data"]] == [pool["id"]]
    none = await client.get(POOLS, params={"strategy": "weighted"}, headers=headers)
    assert none.json()["data"] == []

    changed = await client.patch(
        f"{POOLS}/{pool['id']}",
        json={"name": "Renamed", "strategy": "adaptive", "configuration": {"exploration": 0.1}},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["strategy"]) == ("Renamed", "adaptive")
    assert changed.json()["configuration"] == {"exploration": 0.1}


async def test_configuration_is_checked_against_the_strategy(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    wrong = await client.post(
        POOLS,
        json={"name": "P", "strategy": "weighted", "configuration": {"exploration": 0.1}},
        headers=headers,
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["param"] == "configuration.exploration"
    pool = await create_pool(
        client, headers, strategy="adaptive", configuration={"exploration": 0.2}
    )
    # Switching strategy re-checks the configuration the pool has.
    switched = await client.patch(
        f"{POOLS}/{pool['id']}", json={"strategy": "capacity"}, headers=headers
    )
    assert switched.status_code == 400
    out_of_range = await client.post(
        POOLS,
        json={"name": "P", "strategy": "adaptive", "configuration": {"exploration": 0.9}},
        headers=headers,
    )
    assert out_of_range.status_code == 400
    too_many = await client.post(
        POOLS, json={"name": "P", "failover_config": {"max_attempts": 6}}, headers=headers
    )
    assert too_many.status_code == 400


async def test_one_default_pool_per_company(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.CLIENT_ADMIN)
    first = await create_pool(client, headers, company_id=world.a.company.id, is_default=True)
    second = await client.post(
        POOLS,
        json={"name": "Other", "company_id": world.a.company.id, "is_default": True},
        headers=headers,
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "default_pool_exists"
    # Another brand of the same client has its own default.
    await create_pool(client, headers, company_id=world.a.other_company.id, is_default=True)
    plain = await create_pool(client, headers, company_id=world.a.company.id)
    promoted = await client.patch(
        f"{POOLS}/{plain['id']}", json={"is_default": True}, headers=headers
    )
    assert promoted.status_code == 409
    # Deactivating the default frees the place.
    deleted = await client.delete(f"{POOLS}/{first['id']}", headers=headers)
    assert deleted.json()["is_active"] is False
    assert deleted.json()["is_default"] is False
    promoted = await client.patch(
        f"{POOLS}/{plain['id']}", json={"is_default": True}, headers=headers
    )
    assert promoted.status_code == 200, promoted.text
    defaults = await session.scalars(
        select(AccountPool.id).where(
            AccountPool.company_id == world.a.company.id, AccountPool.is_default.is_(True)
        )
    )
    assert list(defaults) == [plain["id"]]


async def test_memberships_add_change_and_remove(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    first = await create_account(client, headers, None, name="First")
    second = await create_account(client, headers, None, name="Second")
    pool = await create_pool(client, headers)
    added = await add(client, headers, pool["id"], first["id"], weight=70, priority=5)
    assert added.status_code == 201, added.text
    added = await add(client, headers, pool["id"], second["id"], weight=30, priority=1)
    members = added.json()["memberships"]
    # Failover order: lower priority first.
    assert [m["merchant_account_id"] for m in members] == [second["id"], first["id"]]
    assert members[1]["weight"] == 70
    assert members[1]["account_name"] == "First"

    duplicate = await add(client, headers, pool["id"], first["id"])
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "already_in_pool"
    for bad in ({"weight": 101}, {"weight": -1}, {"priority": -1}):
        response = await add(client, headers, pool["id"], second["id"], **bad)
        assert response.status_code == 400, bad

    changed = await client.patch(
        f"{POOLS}/{pool['id']}/accounts/{first['id']}",
        json={"priority": 0, "weight": 0, "is_active": False},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    member = changed.json()["memberships"][0]
    assert (member["merchant_account_id"], member["weight"], member["is_active"]) == (
        first["id"],
        0,
        False,
    )
    bad_weight = await client.patch(
        f"{POOLS}/{pool['id']}/accounts/{first['id']}", json={"weight": 200}, headers=headers
    )
    assert bad_weight.status_code == 400

    removed = await client.delete(f"{POOLS}/{pool['id']}/accounts/{first['id']}", headers=headers)
    assert [m["merchant_account_id"] for m in removed.json()["memberships"]] == [second["id"]]
    again = await client.delete(f"{POOLS}/{pool['id']}/accounts/{first['id']}", headers=headers)
    assert again.status_code == 404


async def test_a_pool_takes_only_its_own_company_accounts(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.headers(Role.CLIENT_ADMIN)
    pool = await create_pool(client, admin, company_id=world.a.company.id)
    sister = await create_account(client, admin, world.a.other_company.id)
    refused = await add(client, admin, pool["id"], sister["id"])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "account_not_in_company"
    stranger = await create_account(
        client, world.headers(Role.CLIENT_ADMIN, "b"), world.b.company.id
    )
    hidden = await add(client, admin, pool["id"], stranger["id"])
    assert hidden.status_code == 404


async def test_another_tenants_pool_is_missing(client: httpx.AsyncClient, world: World) -> None:
    pool = await create_pool(client, world.headers(Role.COMPANY_ADMIN))
    other = world.headers(Role.COMPANY_ADMIN, "b")
    for method, path in (
        ("GET", f"{POOLS}/{pool['id']}"),
        ("PATCH", f"{POOLS}/{pool['id']}"),
        ("DELETE", f"{POOLS}/{pool['id']}"),
        ("GET", f"{POOLS}/{pool['id']}/stats"),
    ):
        response = await client.request(
            method, path, json={} if method == "PATCH" else None, headers=other
        )
        assert response.status_code == 404, (method, path)
    listed = await client.get(POOLS, headers=other)
    assert listed.json()["data"] == []


async def test_changes_are_audited(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    account_ = await create_account(client, headers, None)
    pool = await create_pool(client, headers)
    await add(client, headers, pool["id"], account_["id"])
    await client.delete(f"{POOLS}/{pool['id']}", headers=headers)
    entries = (
        await session.scalars(
            select(AuditLog).where(AuditLog.resource_id == pool["id"]).order_by(AuditLog.id)
        )
    ).all()
    assert [(e.action, (e.metadata_ or {}).get("operation")) for e in entries] == [
        ("CREATE", None),
        ("UPDATE", "add_account"),
        ("DELETE", None),
    ]


async def test_an_account_in_an_active_pool_cannot_be_closed(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    account_ = await create_account(client, headers, None)
    pool = await create_pool(client, headers)
    await add(client, headers, pool["id"], account_["id"])
    refused = await client.delete(f"/api/v1/merchant-accounts/{account_['id']}", headers=headers)
    assert refused.status_code == 409
    assert pool["id"] in refused.json()["error"]["message"]
    # An inactive membership (or pool) no longer holds it.
    await client.patch(
        f"{POOLS}/{pool['id']}/accounts/{account_['id']}",
        json={"is_active": False},
        headers=headers,
    )
    closed = await client.delete(f"/api/v1/merchant-accounts/{account_['id']}", headers=headers)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    memberships = await session.scalars(
        select(PoolMembership).where(PoolMembership.merchant_account_id == account_["id"])
    )
    assert len(list(memberships)) == 1


async def test_stats_count_real_payments_per_account(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    sandboxes: str,
    runtime: Runtime,
) -> None:
    second = await create_account(
        client, headers, None, name="Second", provider="nmi", base_url=f"{sandboxes}/nmi"
    )
    outside = await create_account(
        client, headers, None, name="Outside", provider="nmi", base_url=f"{sandboxes}/nmi"
    )
    pool = await create_pool(client, headers)
    for member in (account, second):
        assert (await add(client, headers, pool["id"], member["id"])).status_code == 201
    for amount, target in ((1999, account), (2500, account), (50, account), (1000, second)):
        response = await pay(client, headers, amount=amount, merchant_account_id=target["id"])
        assert response.status_code in (201, 402), response.text
    await pay(client, headers, amount=7000, merchant_account_id=outside["id"])
    await publisher_for(
        runtime.sessions
    ).drain()  # routing learns of settled payments right after they settle

    stats = await client.get(f"{POOLS}/{pool['id']}/stats", headers=headers)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["payments"] == 4  # the outside account's payment is not the pool's
    first, other = body["accounts"]
    assert (first["account_id"], first["payments"], first["approved"], first["declined"]) == (
        account["id"],
        3,
        2,
        1,
    )
    assert first["success_rate"] == round(2 / 3, 4)
    assert first["volume"] == [{"currency": "USD", "amount": 1999 + 2500}]
    assert first["share"] == 0.75
    assert (other["payments"], other["share"], other["volume"][0]["amount"]) == (1, 0.25, 1000)

    future = await client.get(
        f"{POOLS}/{pool['id']}/stats",
        params={"created_from": "2999-01-01T00:00:00Z"},
        headers=headers,
    )
    assert future.json()["payments"] == 0
    assert future.json()["accounts"][0]["success_rate"] is None
