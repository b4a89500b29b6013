"""The access-matrix row of `/payments/{id}/routing` and the decided payment it aims at.

transactions:read sees a payment's routing decision. The payment is charged through the API in
brand A1; the payment path records its decision (written here through the same service if
it did not)."""

from typing import Any, cast

import httpx
from sqlalchemy import select

from avnz.payments.models import Payment
from avnz.routing import decisions
from avnz.routing.models import RoutingDecision
from avnz.runtime import Runtime
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


def _runtime(client: httpx.AsyncClient) -> Runtime:
    # The matrix hands makers only the client; the in-process app behind it holds the runtime.
    runtime: Runtime = cast(Any, client)._transport.app.state.runtime
    return runtime


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A sale of brand A1 at an NMI sandbox account, with its routing decision."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    company = world.a.company.id
    base_url = f"{sandbox_base_url()}/nmi"
    await create_account(client, headers, company, provider="nmi", base_url=base_url)
    paid = await pay(client, headers, company_id=company)
    assert paid.status_code == 201, paid.text
    async with _runtime(client).sessions.begin() as session:
        payment = await session.get_one(Payment, paid.json()["id"])
        decided = await session.scalar(
            select(RoutingDecision.id).where(RoutingDecision.payment_id == payment.id)
        )
        if decided is None:  # the payment path records one once it is wired to routing
            await decisions.start_decision(
                session,
                payment_id=payment.id,
                organization_id=payment.organization_id,
                client_id=payment.client_id,
                company_id=payment.company_id,
                account_id=payment.merchant_account_id,
                strategy="company_default",
                evaluation_time_ms=0.1,
            )
    return {DECIDED: payment.id}
