"""The access-matrix rows of `/disputes` and an account's dispute monitoring, and the in-scope
dispute they aim at (brand A1's, on a payment of its NMI account).

transactions:read lists and reads disputes; transactions:write imports a gateway's export;
accounts:read sees an account's standing in the networks' programs."""

import httpx

from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.payments import payment_body
from tests.support.sandboxes import sandbox_base_url
from tests.tenancy.matrix import Endpoint, P

DISPUTE, ACCOUNT = "dispute", "merchant_account"
HEADER = "provider,dispute_id,transaction_id,status,amount,currency\n"
ROWS: list[Endpoint] = [
    Endpoint("GET", "/disputes", P.TRANSACTIONS_READ, DISPUTE),
    Endpoint("GET", "/disputes/{dispute_id}", P.TRANSACTIONS_READ, DISPUTE),
    Endpoint(
        "POST",
        "/disputes/import",
        P.TRANSACTIONS_WRITE,
        body=lambda s: {"company_id": s.target("company"), "csv": HEADER},
        echoes=None,
    ),
    Endpoint(
        "GET",
        "/merchant-accounts/{account_id}/dispute-monitoring",
        P.ACCOUNTS_READ,
        ACCOUNT,
        echoes="merchant_account_id",
    ),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A dispute of brand A1: a sale on an NMI account, disputed through the CSV import."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    company = world.a.company.id
    base_url = f"{sandbox_base_url()}/nmi"
    account = await create_account(client, headers, company, provider="nmi", base_url=base_url)
    body = payment_body(company_id=company, merchant_account_id=account["id"])
    payment = await client.post("/api/v1/payments", json=body, headers=headers)
    assert payment.status_code == 201, payment.text
    row = f"nmi,matrix-1,{payment.json()['id']},open,1999,USD\n"
    imported = await client.post(
        "/api/v1/disputes/import",
        json={"company_id": company, "csv": HEADER + row},
        headers=headers,
    )
    assert imported.json()["created"] == 1, imported.text
    listed = await client.get("/api/v1/disputes", headers=headers)
    return {DISPUTE: listed.json()["data"][0]["id"]}
