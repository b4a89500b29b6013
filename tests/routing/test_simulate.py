"""`POST /account-pools/{id}/simulate`: synthetic payments through the strategy, eligibility and
caps, counted in memory: the distribution, failovers and cap blocks, and nothing written."""

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.routing.accounts.models import MerchantAccountUsage
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account

POOLS = "/api/v1/account-pools"


async def pool_with(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    strategy: str,
    members: list[tuple[dict[str, Any], dict[str, Any]]],
) -> str:
    created = await client.post(POOLS, json={"name": "Sim", "strategy": strategy}, headers=headers)
    assert created.status_code == 201, created.text
    pool_id: str = created.json()["id"]
    for account, membership in members:
        added = await client.post(
            f"{POOLS}/{pool_id}/accounts",
            json={"merchant_account_id": account["id"], **membership},
            headers=headers,
        )
        assert added.status_code == 201, added.text
    return pool_id


async def simulate(
    client: httpx.AsyncClient, headers: dict[str, str], pool_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"{POOLS}/{pool_id}/simulate", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_weighted_distribution_and_nothing_written(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    a = await create_account(client, headers, None, name="A")
    b = await create_account(client, headers, None, name="B")
    pool_id = await pool_with(
        client, headers, "weighted", [(a, {"weight": 75}), (b, {"weight": 25})]
    )
    result = await simulate(client, headers, pool_id, transactions=4000, seed=11)
    shares = {item["account_id"]: item["share"] for item in result["accounts"]}
    assert abs(shares[a["id"]] - 0.75) < 0.03
    assert abs(shares[b["id"]] - 0.25) < 0.03
    assert (result["failovers"], result["blocked_by_cap"]) == (0, 0)
    assert sum(item["served"] for item in result["accounts"]) == 4000
    again = await simulate(client, headers, pool_id, transactions=4000, seed=11)
    assert again["accounts"] == result["accounts"]  # same seed, same run
    assert await session.scalar(select(func.count()).select_from(MerchantAccountUsage)) == 0


async def test_caps_fail_over_then_block(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    capped = await create_account(
        client, headers, None, name="Capped", limits={"daily_transaction_limit": 10}
    )
    backup = await create_account(
        client, headers, None, name="Backup", limits={"daily_transaction_limit": 5}
    )
    pool_id = await pool_with(
        client, headers, "round_robin", [(capped, {"priority": 0}), (backup, {"priority": 1})]
    )
    result = await simulate(client, headers, pool_id, transactions=30, seed=3)
    served = {item["account_id"]: item["served"] for item in result["accounts"]}
    assert served == {capped["id"]: 10, backup["id"]: 5}
    assert result["blocked_by_cap"] == 15
    # Round robin alternates: the backup is full after its 5 turns (positions 1-9); its next
    # turns (11, 13) fail over to the capped account, which is full after position 14.
    assert result["failovers"] == 2
    picked = {item["account_id"]: item["picked"] for item in result["accounts"]}
    assert picked == {capped["id"]: 8, backup["id"]: 7}


async def test_eligibility_filters_synthetic_cards(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    us_only = await create_account(
        client, headers, None, name="US", restrictions={"allowed_countries": ["US"]}
    )
    pool_id = await pool_with(client, headers, "capacity", [(us_only, {})])
    result = await simulate(
        client,
        headers,
        pool_id,
        transactions=1000,
        seed=5,
        countries={"US": 1, "DE": 1},
        amounts=[{"min": 500, "max": 900}],
    )
    [account] = result["accounts"]
    assert account["served"] + result["no_eligible_account"] == 1000
    assert 400 < result["no_eligible_account"] < 600
    assert 500 * account["served"] <= account["volume"] <= 900 * account["served"]


async def test_bad_distributions_are_refused(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    pool_id = await pool_with(client, headers, "weighted", [])
    for body in (
        {"transactions": 0},
        {"transactions": 10_001},
        {"countries": {"XX": 1}},
        {"card_brands": {"visa": 0}},
        {"amounts": [{"min": 10, "max": 5}]},
    ):
        response = await client.post(f"{POOLS}/{pool_id}/simulate", json=body, headers=headers)
        assert response.status_code == 400, body
    empty = await simulate(client, headers, pool_id, transactions=5)
    assert (empty["accounts"], empty["no_eligible_account"]) == ([], 5)
