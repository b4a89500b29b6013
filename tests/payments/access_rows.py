"""The access-matrix rows of `/payments` and `/stats`, and the payments they aim at.

transactions:read sees payments, transactions:write charges, captures and voids (the company
user cannot), transactions:refund refunds (the admin roles). The payments live in brand A1."""

from typing import Any

import httpx

from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.payments import API, payment_body
from tests.support.sandboxes import sandbox_base_url
from tests.tenancy.matrix import Endpoint, P, Scene

CAPTURED, AUTHORIZED = "payment", "authorized_payment"


def _charge(scene: Scene) -> dict[str, Any]:
    return payment_body(company_id=scene.target("company"))


ROWS: list[Endpoint] = [
    # A charge needs an account to go to: the one the payments' scene makes.
    Endpoint("POST", "/payments", P.TRANSACTIONS_WRITE, body=_charge, ok=201, needs=(CAPTURED,)),
    Endpoint("GET", "/payments", P.TRANSACTIONS_READ, CAPTURED),
    Endpoint("GET", "/payments/{payment_id}", P.TRANSACTIONS_READ, CAPTURED),
    Endpoint("POST", "/payments/{payment_id}/capture", P.TRANSACTIONS_WRITE, AUTHORIZED, ok=201),
    Endpoint("POST", "/payments/{payment_id}/void", P.TRANSACTIONS_WRITE, AUTHORIZED, ok=201),
    Endpoint(
        "POST",
        "/payments/{payment_id}/refunds",
        P.TRANSACTIONS_REFUND,
        CAPTURED,
        ok=201,
        echoes=None,
    ),
    Endpoint("GET", "/payments/{payment_id}/refunds", P.TRANSACTIONS_READ, CAPTURED, echoes=None),
    Endpoint("GET", "/stats/summary", P.TRANSACTIONS_READ, echoes=None),
    Endpoint("GET", "/stats/chart", P.TRANSACTIONS_READ, echoes=None),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """Brand A1's NMI account at the sandbox, a sale and an authorization on it."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    company = world.a.company.id
    base_url = f"{sandbox_base_url()}/nmi"
    await create_account(client, headers, company, provider="nmi", base_url=base_url)
    made = {}
    for kind, capture in ((CAPTURED, True), (AUTHORIZED, False)):
        body = payment_body(company_id=company, capture=capture)
        response = await client.post(f"{API}/payments", json=body, headers=headers)
        assert response.status_code == 201, response.text
        made[kind] = response.json()["id"]
    return made
