"""`expand[]` on a payment: its customer, payment method, refunds and routing decision in one
answer, equal to what their own reads answer; nothing extra without it."""

from typing import Any

import httpx

from avnz.tenancy.models import Role
from tests.commerce.factories import create_customer
from tests.factories import World
from tests.security.helpers import assert_error
from tests.support.payments import API, pay

EXPANSIONS = ("customer", "payment_method", "refunds", "routing_decision")


async def test_a_payment_expands_to_everything_a_client_needs(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], account: dict[str, Any]
) -> None:
    customer = await create_customer(client, headers, None)
    payment = (await pay(client, headers, customer_id=customer["id"])).json()
    url = f"{API}/payments/{payment['id']}"
    refund = await client.post(f"{url}/refunds", json={"amount": 500}, headers=headers)
    assert refund.status_code == 201, refund.text

    params = [("expand[]", name) for name in EXPANSIONS]
    response = await client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()

    async def read(path: str) -> Any:
        return (await client.get(f"{API}{path}", headers=headers)).json()

    assert body["customer"] == await read(f"/customers/{customer['id']}")
    assert body["payment_method"] == await read(f"/payment-methods/{payment['payment_method_id']}")
    assert body["refunds"] == await read(f"/payments/{payment['id']}/refunds")
    assert body["routing_decision"] == await read(f"/payments/{payment['id']}/routing")
    assert [r["amount"] for r in body["refunds"]] == [500]
    plain = await read(f"/payments/{payment['id']}")
    assert {k: v for k, v in body.items() if k not in EXPANSIONS} == plain
    assert not set(EXPANSIONS) & set(plain)


async def test_what_a_payment_lacks_expands_to_null(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], account: dict[str, Any]
) -> None:
    payment = (await pay(client, headers)).json()
    response = await client.get(
        f"{API}/payments/{payment['id']}",
        params=[("expand[]", "customer"), ("expand[]", "refunds")],
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["customer"] is None and response.json()["refunds"] == []
    assert "payment_method" not in response.json()


async def test_an_unknown_expansion_is_a_400(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], account: dict[str, Any]
) -> None:
    payment = (await pay(client, headers)).json()
    response = await client.get(
        f"{API}/payments/{payment['id']}",
        params={"expand[]": "merchant_account"},
        headers=world.headers(Role.COMPANY_ADMIN),
    )
    error = assert_error(response, 400, "validation_failed", param="expand[].0")
    assert "customer" in error["message"]
    unbracketed = await client.get(
        f"{API}/payments/{payment['id']}", params={"expand": "customer"}, headers=headers
    )
    assert_error(unbracketed, 400, "parameter_unknown", param="expand")
