"""Customers, products and orders for tests: request bodies and creation through the API."""

from typing import Any

import httpx

API = "/api/v1"


def address(**overrides: Any) -> dict[str, Any]:
    return {
        "line1": "1 Main St",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
        "country": "US",
        **overrides,
    }


def customer_body(company_id: str | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"email": "ada@example.com", "name": "Ada Lovelace"}
    if company_id is not None:
        body["company_id"] = company_id
    return {**body, **overrides}


def product_body(company_id: str | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": "SERUM-30",
        "name": "Serum 30 ml",
        "category": "skincare",
        "price": 2999,
        "currency": "USD",
    }
    if company_id is not None:
        body["company_id"] = company_id
    return {**body, **overrides}


def order_body(customer_id: str, /, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "currency": "USD",
        "line_items": [{"sku": "GIFT-BOX", "name": "Gift box", "quantity": 2, "unit_amount": 500}],
    }
    return {**body, **overrides}


async def create(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST `body` to `/api/v1{path}` and return the created object (asserting a 201)."""
    response = await client.post(f"{API}{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_customer(
    client: httpx.AsyncClient, headers: dict[str, str], company_id: str | None, **overrides: Any
) -> dict[str, Any]:
    return await create(client, "/customers", customer_body(company_id, **overrides), headers)


async def create_product(
    client: httpx.AsyncClient, headers: dict[str, str], company_id: str | None, **overrides: Any
) -> dict[str, Any]:
    return await create(client, "/products", product_body(company_id, **overrides), headers)


async def create_order(
    client: httpx.AsyncClient, headers: dict[str, str], customer_id: str, **overrides: Any
) -> dict[str, Any]:
    return await create(client, "/orders", order_body(customer_id, **overrides), headers)
