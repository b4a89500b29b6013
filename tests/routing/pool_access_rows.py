"""The access-matrix rows of `/account-pools` and the in-scope pool they aim at.

pools:read sees pools, their stats and simulations (every role has it); pools:write creates,
changes and deactivates pools and their memberships. The pool lives in brand A1, with one
member account and a spare account of the same brand to add."""

import httpx

from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.tenancy.matrix import Endpoint, P

POOL, MEMBER, SPARE = "pool", "pool_member", "pool_spare"
ROWS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/account-pools",
        P.POOLS_WRITE,
        body=lambda s: {"company_id": s.target("company"), "name": "EU traffic"},
        ok=201,
    ),
    Endpoint("GET", "/account-pools", P.POOLS_READ, POOL),
    Endpoint("GET", "/account-pools/{pool_id}", P.POOLS_READ, POOL),
    Endpoint(
        "PATCH",
        "/account-pools/{pool_id}",
        P.POOLS_WRITE,
        POOL,
        lambda _: {"name": "Renamed pool", "strategy": "round_robin"},
    ),
    Endpoint("DELETE", "/account-pools/{pool_id}", P.POOLS_WRITE, POOL),
    Endpoint(
        "POST",
        "/account-pools/{pool_id}/accounts",
        P.POOLS_WRITE,
        POOL,
        lambda s: {"merchant_account_id": s.target(SPARE), "weight": 30},
        ok=201,
    ),
    Endpoint(
        "PATCH",
        "/account-pools/{pool_id}/accounts/{account_id}",
        P.POOLS_WRITE,
        POOL,
        lambda _: {"weight": 10, "priority": 2},
        more=(MEMBER,),
    ),
    Endpoint(
        "DELETE",
        "/account-pools/{pool_id}/accounts/{account_id}",
        P.POOLS_WRITE,
        POOL,
        more=(MEMBER,),
    ),
    Endpoint("GET", "/account-pools/{pool_id}/stats", P.POOLS_READ, POOL, echoes="pool_id"),
    Endpoint(
        "POST",
        "/account-pools/{pool_id}/simulate",
        P.POOLS_READ,
        POOL,
        lambda _: {"transactions": 20, "seed": 1},
        echoes="pool_id",
    ),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A (non-default) pool of brand A1 with one member account, and a spare account."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    company = world.a.company.id
    member = await create_account(client, headers, company, name="Pool member")
    spare = await create_account(client, headers, company, name="Pool spare")
    created = await client.post(
        "/api/v1/account-pools",
        json={"company_id": company, "name": "Main pool", "strategy": "weighted"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    pool = created.json()["id"]
    added = await client.post(
        f"/api/v1/account-pools/{pool}/accounts",
        json={"merchant_account_id": member["id"]},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    return {POOL: pool, MEMBER: member["id"], SPARE: spare["id"]}
