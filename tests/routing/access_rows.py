"""The access-matrix rows of `/merchant-accounts` and the in-scope account they aim at.

accounts:read sees accounts (every role has it); accounts:write creates, changes, closes and
tests them (organization, client and company admins). The account lives in brand A1, so every
level can hold it in scope."""

import httpx

from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import account_body, create_account
from tests.tenancy.matrix import Endpoint, P

ACCOUNT = "merchant_account"
ROWS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/merchant-accounts",
        P.ACCOUNTS_WRITE,
        body=lambda s: account_body(s.target("company")),
        ok=201,
    ),
    Endpoint("GET", "/merchant-accounts", P.ACCOUNTS_READ, ACCOUNT),
    Endpoint("GET", "/merchant-accounts/{account_id}", P.ACCOUNTS_READ, ACCOUNT),
    Endpoint(
        "PATCH",
        "/merchant-accounts/{account_id}",
        P.ACCOUNTS_WRITE,
        ACCOUNT,
        lambda _: {"name": "Renamed MID", "status": "suspended", "status_reason": "review"},
    ),
    Endpoint("DELETE", "/merchant-accounts/{account_id}", P.ACCOUNTS_WRITE, ACCOUNT),
    Endpoint(
        "GET",
        "/merchant-accounts/{account_id}/usage",
        P.ACCOUNTS_READ,
        ACCOUNT,
        echoes="account_id",
    ),
    Endpoint(
        "GET",
        "/merchant-accounts/{account_id}/health",
        P.ACCOUNTS_READ,
        ACCOUNT,
        echoes="account_id",
    ),
    Endpoint(
        "POST",
        "/merchant-accounts/{account_id}/test",
        P.ACCOUNTS_WRITE,
        ACCOUNT,
        echoes="account_id",
    ),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A merchant account of brand A1, created through the API."""
    account = await create_account(
        client, world.headers(Role.ORGANIZATION_ADMIN), world.a.company.id
    )
    return {ACCOUNT: account["id"]}
