"""Tenant isolation of customers, products and orders: another agency's or another brand's rows
answer exactly like ids that do not exist, never appear in lists, cannot be referenced, and are
unchanged afterwards."""

from typing import Any

import httpx
import pytest

from avnz.tenancy.models import Company, Role
from tests.commerce.factories import (
    API,
    create_customer,
    create_order,
    create_product,
    order_body,
)
from tests.factories import World

MISSING = {"customer": "cus_missing", "product": "prd_missing", "order": "ord_missing"}
PATHS = {"customer": "/customers", "product": "/products", "order": "/orders"}
PATCHES = {"customer": {"name": "Taken"}, "product": {"price": 1}, "order": {"tax_amount": 1}}


async def _foreign_rows(
    client: httpx.AsyncClient, world: World, company: Company
) -> dict[str, dict[str, Any]]:
    owner = world.headers(Role.ORGANIZATION_ADMIN)
    customer = await create_customer(client, owner, company.id, email="victim@example.com")
    product = await create_product(client, owner, company.id, sku="SECRET-SKU", price=777)
    order = await create_order(client, owner, customer["id"])
    return {"customer": customer, "product": product, "order": order}


async def _owner_view(
    client: httpx.AsyncClient, world: World, rows: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    owner = world.headers(Role.ORGANIZATION_ADMIN)
    return {
        kind: (await client.get(f"{API}{PATHS[kind]}/{row['id']}", headers=owner)).json()
        for kind, row in rows.items()
    }


def _error(response: httpx.Response) -> tuple[int, str | None]:
    code = response.json()["error"]["code"] if response.status_code >= 400 else None
    return response.status_code, code


CASES = [
    ("other agency", "b", Role.CLIENT_ADMIN),
    ("other agency", "b", Role.CLIENT_USER),
    ("other agency", "b", Role.COMPANY_ADMIN),
    ("other agency", "b", Role.COMPANY_USER),
    ("other brand", "a2", Role.COMPANY_ADMIN),
    ("other brand", "a2", Role.COMPANY_USER),
]


@pytest.mark.parametrize(("case", "where", "role"), CASES, ids=[f"{c}-{r}" for c, _, r in CASES])
async def test_foreign_rows_are_invisible_and_untouchable(
    client: httpx.AsyncClient, world: World, case: str, where: str, role: Role
) -> None:
    company = world.b.company if where == "b" else world.a.other_company
    rows = await _foreign_rows(client, world, company)
    before = await _owner_view(client, world, rows)
    attacker = world.headers(role)  # a user of agency A (brand A1 for company roles)

    for kind, row in rows.items():
        base = f"{API}{PATHS[kind]}"
        for method in ("GET", "PATCH", "DELETE"):
            body = PATCHES[kind] if method == "PATCH" else None
            aimed = await client.request(method, f"{base}/{row['id']}", json=body, headers=attacker)
            missing = await client.request(
                method, f"{base}/{MISSING[kind]}", json=body, headers=attacker
            )
            assert _error(aimed) == _error(missing), (kind, method)
            assert aimed.status_code in (403, 404), (kind, method)
        listed = await client.get(base, params={"limit": 100}, headers=attacker)
        assert row["id"] not in [item["id"] for item in listed.json()["data"]]
        filtered = await client.get(
            base, params={"limit": 100, "company_id": company.id}, headers=attacker
        )
        assert filtered.json()["data"] == []

    # Referencing the foreign rows from one's own requests.
    as_parent = await client.post(
        f"{API}/orders", json=order_body(rows["customer"]["id"]), headers=attacker
    )
    assert _error(as_parent) == (404, "resource_missing")
    assert as_parent.json()["error"]["param"] == "customer_id"
    for path, body in (
        ("/customers", {"company_id": company.id, "email": "x@example.com"}),
        (
            "/products",
            {"company_id": company.id, "sku": "X", "name": "X", "price": 1, "currency": "USD"},
        ),
    ):
        created = await client.post(f"{API}{path}", json=body, headers=attacker)
        assert _error(created) == (404, "resource_missing"), path
        assert created.json()["error"]["param"] == "company_id"
    by_email = await client.get(
        f"{API}/customers", params={"email": "victim@example.com"}, headers=attacker
    )
    assert by_email.json()["data"] == []

    assert await _owner_view(client, world, rows) == before


async def test_another_brands_catalog_does_not_price_an_order(
    client: httpx.AsyncClient, world: World
) -> None:
    """A sku is looked up in the order's company only: another brand's product with the same sku
    neither names the line nor gives it a price."""
    owner = world.headers(Role.ORGANIZATION_ADMIN)
    await create_product(client, owner, world.a.other_company.id, sku="SHARED", price=999)
    customer = await create_customer(client, owner, world.a.company.id)
    response = await client.post(
        f"{API}/orders",
        json=order_body(customer["id"], line_items=[{"sku": "SHARED", "name": "Shared"}]),
        headers=owner,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "line_items.0.unit_amount"
