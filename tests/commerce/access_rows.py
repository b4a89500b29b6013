"""The access-matrix rows of `/customers`, `/products` and `/orders`, and the in-scope objects
they aim at.

customers:read sees all three and customers:write creates and changes them (every role has
both); customers:delete deletes them (the three admin roles). The objects live in brand A1, so
every level can hold them in scope."""

import httpx

from avnz.tenancy.models import Role
from tests.commerce.factories import (
    create_customer,
    create_order,
    create_product,
    customer_body,
    order_body,
    product_body,
)
from tests.factories import World
from tests.tenancy.matrix import Endpoint, P

CUSTOMER, PRODUCT, ORDER = "customer", "product", "order"

ROWS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/customers",
        P.CUSTOMERS_WRITE,
        body=lambda s: customer_body(s.target("company"), email="grace@example.com"),
        ok=201,
    ),
    Endpoint("GET", "/customers", P.CUSTOMERS_READ, CUSTOMER),
    Endpoint("GET", "/customers/{customer_id}", P.CUSTOMERS_READ, CUSTOMER),
    Endpoint(
        "PATCH",
        "/customers/{customer_id}",
        P.CUSTOMERS_WRITE,
        CUSTOMER,
        lambda _: {"name": "Ada King", "segments": ["vip"]},
    ),
    Endpoint("DELETE", "/customers/{customer_id}", P.CUSTOMERS_DELETE, CUSTOMER),
    Endpoint(
        "POST",
        "/products",
        P.CUSTOMERS_WRITE,
        body=lambda s: product_body(s.target("company"), sku="TONER-100"),
        ok=201,
    ),
    Endpoint("GET", "/products", P.CUSTOMERS_READ, PRODUCT),
    Endpoint("GET", "/products/{product_id}", P.CUSTOMERS_READ, PRODUCT),
    Endpoint(
        "PATCH", "/products/{product_id}", P.CUSTOMERS_WRITE, PRODUCT, lambda _: {"price": 3499}
    ),
    Endpoint("DELETE", "/products/{product_id}", P.CUSTOMERS_DELETE, PRODUCT),
    Endpoint(
        "POST",
        "/orders",
        P.CUSTOMERS_WRITE,
        body=lambda s: order_body(s.target(CUSTOMER)),
        ok=201,
    ),
    Endpoint("GET", "/orders", P.CUSTOMERS_READ, ORDER),
    Endpoint("GET", "/orders/{order_id}", P.CUSTOMERS_READ, ORDER),
    Endpoint("PATCH", "/orders/{order_id}", P.CUSTOMERS_WRITE, ORDER, lambda _: {"tax_amount": 80}),
    Endpoint("DELETE", "/orders/{order_id}", P.CUSTOMERS_DELETE, ORDER),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A customer, a product and a pending order of brand A1, created through the API."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    customer = await create_customer(client, headers, world.a.company.id)
    product = await create_product(client, headers, world.a.company.id)
    order = await create_order(client, headers, customer["id"])
    return {CUSTOMER: customer["id"], PRODUCT: product["id"], ORDER: order["id"]}
