"""Metadata on every object a merchant creates, with Stripe's limits: 50 keys, keys of 1-40
characters, string values of up to 500; what breaks a limit is a 400 naming it and stores
nothing."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from avnz.commerce.models import Customer, Product
from avnz.payments.models import PaymentMethod, Refund
from avnz.rules.models import RoutingRule
from avnz.tenancy.models import Role
from avnz.webhooks.models import WebhookEndpoint
from tests.commerce.factories import create_customer, customer_body, order_body, product_body
from tests.factories import World
from tests.rules.support import BLOCK
from tests.security.helpers import API, assert_error
from tests.support.payments import card, pay
from tests.webhooks.factories import endpoint_body

META = {"order_ref": "A-1042", "channel": "web"}

# What each kind of object is created with, the route, and its table.
BODIES: dict[str, tuple[str, Any, type]] = {
    "customer": ("/customers", lambda: customer_body(None), Customer),
    "payment_method": ("/payment-methods", lambda: {"card": card()}, PaymentMethod),
    "webhook_endpoint": ("/webhook-endpoints", lambda: endpoint_body(None), WebhookEndpoint),
    "routing_rule": ("/routing-rules", lambda: {"name": "Rule", "actions": [BLOCK]}, RoutingRule),
    "product": ("/products", lambda: product_body(None), Product),
}


def _headers(world: World) -> dict[str, str]:
    return world.headers(Role.COMPANY_ADMIN)


@pytest.mark.parametrize("kind", BODIES)
async def test_created_objects_keep_their_metadata(
    client: httpx.AsyncClient, world: World, kind: str
) -> None:
    path, body, _ = BODIES[kind]
    created = await client.post(
        f"{API}{path}", json={**body(), "metadata": META}, headers=_headers(world)
    )
    assert created.status_code == 201, created.text
    assert created.json()["metadata"] == META
    read = await client.get(f"{API}{path}/{created.json()['id']}", headers=_headers(world))
    assert read.json()["metadata"] == META
    plain = await client.post(f"{API}{path}", json=_other(kind, body()), headers=_headers(world))
    assert plain.status_code == 201, plain.text
    assert plain.json()["metadata"] == {}


def _other(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A second object of the kind that does not collide with the first."""
    if kind == "customer":
        return {**body, "email": "other@example.com"}
    if kind == "product":
        return {**body, "sku": "OTHER-1"}
    return body


LIMITS = [
    ({f"k{n}": "v" for n in range(51)}, "metadata"),
    ({"k" * 41: "v"}, f"metadata.{'k' * 41}.[key]"),
    ({"": "v"}, "metadata..[key]"),
    ({"a[b]": "v"}, "metadata.a[b].[key]"),
    ({"k": "v" * 501}, "metadata.k"),
    ({"k": 5}, "metadata.k"),
    ({"k": {"nested": "x"}}, "metadata.k"),
]


@pytest.mark.parametrize("kind", BODIES)
@pytest.mark.parametrize(("metadata", "param"), LIMITS)
async def test_metadata_past_stripes_limits_is_a_400_and_stores_nothing(
    client: httpx.AsyncClient, world: World, session, kind: str, metadata: Any, param: str
) -> None:
    path, body, table = BODIES[kind]
    response = await client.post(
        f"{API}{path}", json={**body(), "metadata": metadata}, headers=_headers(world)
    )
    assert_error(response, 400, "validation_failed", param=param)
    assert await session.scalar(select(func.count()).select_from(table)) == 0


async def test_the_limits_themselves_are_accepted(client: httpx.AsyncClient, world: World) -> None:
    metadata = {f"{n:02d}" + "k" * 38: "v" * 500 for n in range(50)}
    response = await client.post(
        f"{API}/customers", json=customer_body(None, metadata=metadata), headers=_headers(world)
    )
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == metadata


@pytest.mark.parametrize(
    ("path", "create"),
    [
        ("/customers", lambda: customer_body(None)),
        ("/webhook-endpoints", lambda: endpoint_body(None)),
        ("/routing-rules", lambda: {"name": "Rule", "actions": [BLOCK]}),
        ("/products", lambda: product_body(None)),
    ],
)
async def test_an_update_replaces_the_metadata_and_null_is_refused(
    client: httpx.AsyncClient, world: World, path: str, create: Any
) -> None:
    headers = _headers(world)
    created = await client.post(
        f"{API}{path}", json={**create(), "metadata": META}, headers=headers
    )
    url = f"{API}{path}/{created.json()['id']}"
    changed = await client.patch(url, json={"metadata": {"tier": "gold"}}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["metadata"] == {"tier": "gold"}
    cleared = await client.patch(url, json={"metadata": {}}, headers=headers)
    assert cleared.json()["metadata"] == {}
    refused = await client.patch(url, json={"metadata": None}, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "metadata"
    too_long = await client.patch(url, json={"metadata": {"k": "v" * 501}}, headers=headers)
    assert_error(too_long, 400, "validation_failed", param="metadata.k")


async def test_orders_keep_their_metadata(client: httpx.AsyncClient, world: World) -> None:
    headers = _headers(world)
    customer = await create_customer(client, headers, None)
    created = await client.post(
        f"{API}/orders", json=order_body(customer["id"], metadata=META), headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["metadata"] == META
    refused = await client.post(
        f"{API}/orders", json=order_body(customer["id"], metadata={"n": 1}), headers=headers
    )
    assert_error(refused, 400, "validation_failed", param="metadata.n")


async def test_payments_and_refunds_keep_their_metadata(
    client: httpx.AsyncClient, world: World, account: dict[str, Any], session
) -> None:
    headers = _headers(world)
    payment = await pay(client, headers, metadata={f"k{n}": "v" for n in range(50)})
    assert payment.status_code == 201, payment.text
    assert len(payment.json()["metadata"]) == 50
    url = f"{API}/payments/{payment.json()['id']}/refunds"
    too_many = await client.post(
        url, json={"amount": 100, "metadata": {f"k{n}": "v" for n in range(51)}}, headers=headers
    )
    assert_error(too_many, 400, "validation_failed", param="metadata")
    assert await session.scalar(select(func.count()).select_from(Refund)) == 0
    refund = await client.post(url, json={"amount": 100, "metadata": META}, headers=headers)
    assert refund.status_code == 201, refund.text
    assert refund.json()["metadata"] == META
    listed = await client.get(url, headers=headers)
    assert [r["metadata"] for r in listed.json()] == [META]
