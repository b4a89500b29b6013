"""The access-matrix row of `/payments/{id}/routing` and the decided payment it aims at.

transactions:read sees a payment's routing decision. The payment is charged through the API in
brand A1; the payment path keeps its decision on the payment."""

import httpx

from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.payments import pay
from tests.support.sandboxes import sandbox_base_url
from tests.tenancy.matrix import Endpoint, P

DECIDED = "decided_payment"
ROWS: list[Endpoint] = [
    Endpoint(
        "GET", "/payments/{payment_id}/routing", P.TRANSACTIONS_READ, DECIDED, echoes="payment_id"
    ),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A sale of brand A1 at an NMI sandbox account, with its routing decision."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    company = world.a.company.id
    base_url = f"{sandbox_base_url()}/nmi"
    await create_account(client, headers, company, provider="nmi", base_url=base_url)
    paid = await pay(client, headers, company_id=company)
    assert paid.status_code == 201, paid.text
    assert "decision_id" in paid.json()["routing"]
    return {DECIDED: paid.json()["id"]}
