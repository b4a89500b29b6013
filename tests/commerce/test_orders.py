"""`/orders` over the API and `mark_order`: lines priced from the catalog, totals computed by the
server (a client-sent total is refused), one currency per order, the status machine, filters."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.commerce import service as commerce
from avnz.commerce.models import OrderStatus
from avnz.core import clock
from avnz.core.errors import Conflict, NotFound
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.commerce.factories import (
    API,
    address,
    create_customer,
    create_order,
    create_product,
    order_body,
)
from tests.factories import World

URL = f"{API}/orders"


def _admin(world: World) -> dict[str, str]:
    return world.headers(Role.ORGANIZATION_ADMIN)


@pytest.fixture
async def customer(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    return await create_customer(
        client, _admin(world), world.a.company.id, shipping_address=address(city="Dallas")
    )


async def _mark(runtime: Runtime, order: dict[str, Any], status: OrderStatus) -> OrderStatus:
    async with runtime.sessions.begin() as session:
        marked = await commerce.mark_order(
            session=session, company_id=order["company_id"], order_id=order["id"], status=status
        )
        return marked.status


# --- create ----------------------------------------------------------------------------------


async def test_lines_are_priced_from_the_catalog_and_totals_computed(
    client: httpx.AsyncClient, world: World, customer: dict[str, Any]
) -> None:
    headers = world.headers(Role.COMPANY_USER)
    serum = await create_product(client, headers, None, sku="SERUM-30", price=2999)
    club = await create_product(
        client,
        headers,
        None,
        sku="CLUB-M",
        name="Skin club",
        category="boxes",
        price=1500,
        is_subscription=True,
        interval="monthly",
    )
    response = await client.post(
        URL,
        json={
            "customer_id": customer["id"],
            "line_items": [
                {"sku": "SERUM-30", "quantity": 3},
                {"sku": "CLUB-M", "name": "Club, first box", "unit_amount": 0},
                {"sku": "GIFT-WRAP", "name": "Gift wrap", "unit_amount": 250, "currency": "USD"},
            ],
            "shipping_amount": 499,
            "tax_amount": 720,
            "discount_amount": 1000,
            "is_trial": True,
            "metadata": {"campaign": "spring"},
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["id"].startswith("ord_") and order["object"] == "order"
    assert order["company_id"] == world.a.company.id and order["customer_id"] == customer["id"]
    assert order["currency"] == "USD"  # from the catalog: no currency was given
    assert [
        (line["name"], line["unit_amount"], line["amount"]) for line in order["line_items"]
    ] == [
        ("Serum 30 ml", 2999, 8997),
        ("Club, first box", 0, 0),
        ("Gift wrap", 250, 250),
    ]
    first, second, third = order["line_items"]
    assert (first["product_id"], first["category"], first["is_subscription"]) == (
        serum["id"],
        "skincare",
        False,
    )
    assert (second["product_id"], second["is_subscription"], second["interval"]) == (
        club["id"],
        True,
        "monthly",
    )
    assert third["product_id"] is None and third["category"] is None
    assert order["subtotal"] == 8997 + 0 + 250
    assert order["total"] == 9247 + 499 + 720 - 1000
    assert order["status"] == "pending" and order["status_changed_at"] is not None
    assert (order["is_trial"], order["is_renewal"]) == (True, False)
    assert order["shipping_address"]["city"] == "Dallas"  # the customer's, by default
    assert order["metadata"] == {"campaign": "spring"}


async def test_an_explicit_price_and_address_win(
    client: httpx.AsyncClient, world: World, customer: dict[str, Any]
) -> None:
    await create_product(client, _admin(world), world.a.company.id, sku="SERUM-30", price=2999)
    order = await create_order(
        client,
        _admin(world),
        customer["id"],
        line_items=[{"sku": "SERUM-30", "quantity": 2, "unit_amount": 2500}],
        shipping_address=address(city="Houston"),
    )
    assert order["line_items"][0]["amount"] == 5000 and order["total"] == 5000
    assert order["line_items"][0]["name"] == "Serum 30 ml"
    assert order["shipping_address"]["city"] == "Houston"


@pytest.mark.parametrize("field", ["total", "subtotal"])
async def test_a_client_sent_total_is_refused(
    client: httpx.AsyncClient, world: World, customer: dict[str, Any], field: str
) -> None:
    response = await client.post(
        URL, json=order_body(customer["id"], **{field: 1}), headers=_admin(world)
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field
    line = {"sku": "A", "name": "A", "unit_amount": 100, "amount": 1}
    response = await client.post(
        URL, json=order_body(customer["id"], line_items=[line]), headers=_admin(world)
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "line_items.0.amount"


def _line(**overrides: Any) -> dict[str, Any]:
    return {"sku": "GIFT-BOX", "name": "Gift box", "quantity": 1, "unit_amount": 500, **overrides}


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"line_items": [_line(quantity=-1)]}, "line_items.0.quantity", "validation_failed"),
        ({"line_items": [_line(quantity=0)]}, "line_items.0.quantity", "validation_failed"),
        ({"line_items": [_line(quantity=1.5)]}, "line_items.0.quantity", "validation_failed"),
        ({"line_items": [_line(unit_amount=-5)]}, "line_items.0.unit_amount", "validation_failed"),
        ({"line_items": [_line(unit_amount="5")]}, "line_items.0.unit_amount", "validation_failed"),
        ({"line_items": [_line(sku="")]}, "line_items.0.sku", "validation_failed"),
        ({"line_items": []}, "line_items", "validation_failed"),
        ({"line_items": [_line()] * 101}, "line_items", "validation_failed"),
        (
            {"line_items": [_line(), _line(currency="EUR")]},
            "line_items.1.currency",
            "currency_mismatch",
        ),
        (
            {"currency": None, "line_items": [_line(currency="USD"), _line(currency="EUR")]},
            "line_items.1.currency",
            "currency_mismatch",
        ),
        ({"line_items": [_line(unit_amount=None)]}, "line_items.0.unit_amount", "missing_param"),
        ({"line_items": [_line(name=None)]}, "line_items.0.name", "missing_param"),
        ({"currency": None}, "currency", "missing_param"),
        ({"currency": "ABC"}, "currency", "validation_failed"),
        ({"discount_amount": 1001}, "discount_amount", "invalid_request"),
        ({"shipping_amount": -1}, "shipping_amount", "validation_failed"),
        ({"shipping_address": address(country="XX")}, "shipping_address.country", None),
        ({"status": "paid"}, "status", "parameter_unknown"),
        ({"customer_id": None}, "customer_id", "validation_failed"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    client: httpx.AsyncClient,
    world: World,
    customer: dict[str, Any],
    overrides: dict[str, Any],
    param: str,
    code: str | None,
) -> None:
    response = await client.post(
        URL, json=order_body(customer["id"], **overrides), headers=_admin(world)
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code


async def test_a_catalog_price_in_another_currency_is_not_taken(
    client: httpx.AsyncClient, world: World, customer: dict[str, Any]
) -> None:
    headers = _admin(world)
    await create_product(client, headers, world.a.company.id, sku="EU-SERUM", currency="EUR")
    response = await client.post(
        URL,
        json=order_body(customer["id"], line_items=[_line(), {"sku": "EU-SERUM"}]),
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "line_items.1.unit_amount"
    assert response.json()["error"]["code"] == "currency_mismatch"
    # Priced explicitly in the order's currency, the line is fine.
    priced = await create_order(
        client,
        headers,
        customer["id"],
        line_items=[_line(), {"sku": "EU-SERUM", "unit_amount": 3200}],
    )
    assert priced["currency"] == "USD" and priced["total"] == 3700


async def test_inactive_products_only_renew(
    client: httpx.AsyncClient, world: World, customer: dict[str, Any]
) -> None:
    headers = _admin(world)
    await create_product(
        client,
        headers,
        world.a.company.id,
        sku="OLD-CLUB",
        is_subscription=True,
        interval="yearly",
        active=False,
    )
    lines = [{"sku": "OLD-CLUB"}]
    refused = await client.post(
        URL, json=order_body(customer["id"], line_items=lines), headers=headers
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "product_inactive"
    assert refused.json()["error"]["param"] == "line_items.0.sku"
    renewal = await create_order(client, headers, customer["id"], line_items=lines, is_renewal=True)
    assert renewal["is_renewal"] is True and renewal["total"] == 2999


async def test_the_customer_must_be_live_active_and_of_the_order_company(
    client: httpx.AsyncClient, world: World, customer: dict[str, Any]
) -> None:
    headers = world.headers(Role.CLIENT_ADMIN)  # sees both brands of agency A
    other = world.a.other_company.id
    mismatch = await client.post(
        URL, json=order_body(customer["id"], company_id=other), headers=headers
    )
    assert mismatch.status_code == 404
    assert mismatch.json()["error"]["param"] == "customer_id"

    missing = await client.post(URL, json=order_body("cus_nope"), headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "customer_id"

    bad_company = await client.post(
        URL, json=order_body(customer["id"], company_id=world.b.company.id), headers=headers
    )
    assert bad_company.status_code == 404
    assert bad_company.json()["error"]["param"] == "company_id"

    blocked = await create_customer(
        client, headers, world.a.company.id, email="b@example.com", status="blocked"
    )
    refused = await client.post(URL, json=order_body(blocked["id"]), headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "customer_blocked"

    await client.delete(f"{API}/customers/{customer['id']}", headers=headers)
    gone = await client.post(URL, json=order_body(customer["id"]), headers=headers)
    assert gone.status_code == 404 and gone.json()["error"]["param"] == "customer_id"


# --- update and delete -----------------------------------------------------------------------


async def test_a_pending_order_is_repriced_on_update(
    client: httpx.AsyncClient, world: World, customer: dict[str, Any], session: Any
) -> None:
    headers = _admin(world)
    order = await create_order(client, headers, customer["id"])
    url = f"{URL}/{order['id']}"
    assert order["total"] == 1000

    patched = await client.patch(
        url,
        json={"line_items": [_line(quantity=3)], "tax_amount": 90, "metadata": {"n": "1"}},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["subtotal"], patched.json()["total"]) == (1500, 1590)
    assert patched.json()["metadata"] == {"n": "1"}

    amounts_only = await client.patch(url, json={"discount_amount": 90}, headers=headers)
    assert amounts_only.json()["total"] == 1500

    new_currency = await client.patch(url, json={"currency": "EUR"}, headers=headers)
    assert new_currency.status_code == 400
    assert new_currency.json()["error"]["param"] == "line_items"
    euros = await client.patch(
        url, json={"currency": "EUR", "line_items": [_line(unit_amount=450)]}, headers=headers
    )
    assert euros.status_code == 200
    assert (euros.json()["currency"], euros.json()["total"]) == (
        "EUR",
        450,
    )  # 450 + tax 90 - discount 90

    actions = (
        await session.scalars(
            select(AuditLog.action)
            .where(AuditLog.resource_id == order["id"], AuditLog.resource == "order")
            .order_by(AuditLog.id)
        )
    ).all()
    assert actions == ["CREATE", "UPDATE", "UPDATE", "UPDATE"]


async def test_a_paid_order_keeps_its_price(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    headers = _admin(world)
    order = await create_order(client, headers, customer["id"])
    await _mark(runtime, order, OrderStatus.PAID)
    url = f"{URL}/{order['id']}"
    for patch, param in (
        ({"line_items": [_line(quantity=9)]}, "line_items"),
        ({"discount_amount": 1}, "discount_amount"),
        ({"is_renewal": True}, "is_renewal"),
    ):
        response = await client.patch(url, json=patch, headers=headers)
        assert response.status_code == 409, patch
        assert response.json()["error"] | {"message": "", "request_id": ""} == {
            "type": "conflict_error",
            "code": "order_not_pending",
            "message": "",
            "param": param,
            "request_id": "",
        }
    # What does not touch the price can still change.
    moved = await client.patch(
        url, json={"shipping_address": address(city="Waco")}, headers=headers
    )
    assert moved.status_code == 200 and moved.json()["shipping_address"]["city"] == "Waco"
    assert moved.json()["total"] == 1000


async def test_cancel_through_the_api(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    headers = _admin(world)
    order = await create_order(client, headers, customer["id"])
    cancelled = await client.patch(
        f"{URL}/{order['id']}", json={"status": "cancelled"}, headers=headers
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    paid = await create_order(client, headers, customer["id"])
    await _mark(runtime, paid, OrderStatus.PAID)
    refused = await client.patch(
        f"{URL}/{paid['id']}", json={"status": "cancelled"}, headers=headers
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "illegal_status_transition"
    assert (await client.get(f"{URL}/{paid['id']}", headers=headers)).json()["status"] == "paid"


async def test_delete_cancels_an_unpaid_order_and_keeps_a_paid_one(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    headers = _admin(world)
    order = await create_order(client, headers, customer["id"])
    deleted = await client.delete(f"{URL}/{order['id']}", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "cancelled" and deleted.json()["deleted_at"] is not None
    assert (await client.get(f"{URL}/{order['id']}", headers=headers)).status_code == 404

    paid = await create_order(client, headers, customer["id"])
    await _mark(runtime, paid, OrderStatus.PAID)
    refused = await client.delete(f"{URL}/{paid['id']}", headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "order_not_deletable"
    assert (await client.get(f"{URL}/{paid['id']}", headers=headers)).status_code == 200


# --- the status machine ----------------------------------------------------------------------

LEGAL = [
    ("pending", "paid"),
    ("pending", "failed"),
    ("pending", "cancelled"),
    ("failed", "pending"),
    ("failed", "paid"),
    ("failed", "cancelled"),
    ("paid", "partially_refunded"),
    ("paid", "refunded"),
    ("partially_refunded", "refunded"),
]
# How to reach each status from pending.
PATHS: dict[str, list[str]] = {
    "pending": [],
    "paid": ["paid"],
    "failed": ["failed"],
    "cancelled": ["cancelled"],
    "partially_refunded": ["paid", "partially_refunded"],
    "refunded": ["paid", "refunded"],
}


async def _order_in(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer_id: str, status: str
) -> dict[str, Any]:
    order = await create_order(client, _admin(world), customer_id)
    for step in PATHS[status]:
        await _mark(runtime, order, OrderStatus(step))
    return order


@pytest.mark.parametrize(
    ("source", "target"),
    [(s.value, t.value) for s in OrderStatus for t in OrderStatus if s is not t],
)
async def test_every_move_is_legal_or_a_409(
    client: httpx.AsyncClient,
    world: World,
    runtime: Runtime,
    customer: dict[str, Any],
    source: str,
    target: str,
) -> None:
    order = await _order_in(client, world, runtime, customer["id"], source)
    if (source, target) in LEGAL:
        assert await _mark(runtime, order, OrderStatus(target)) is OrderStatus(target)
        want = target
    else:
        with pytest.raises(Conflict) as refused:
            await _mark(runtime, order, OrderStatus(target))
        assert refused.value.code == "illegal_status_transition"
        assert source in refused.value.message and target in refused.value.message
        want = source
    got = await client.get(f"{URL}/{order['id']}", headers=_admin(world))
    assert got.json()["status"] == want


async def test_the_same_status_again_changes_nothing(
    client: httpx.AsyncClient,
    world: World,
    runtime: Runtime,
    customer: dict[str, Any],
    session: Any,
) -> None:
    order = await _order_in(client, world, runtime, customer["id"], "partially_refunded")
    before = (await client.get(f"{URL}/{order['id']}", headers=_admin(world))).json()
    assert await _mark(runtime, order, OrderStatus.PARTIALLY_REFUNDED) is (
        OrderStatus.PARTIALLY_REFUNDED
    )
    after = (await client.get(f"{URL}/{order['id']}", headers=_admin(world))).json()
    assert after["status_changed_at"] == before["status_changed_at"]
    entries = (
        await session.scalars(
            select(AuditLog).where(AuditLog.resource_id == order["id"]).order_by(AuditLog.id)
        )
    ).all()
    # create, paid, partially refunded: the repeated move left no entry; payments are "system"
    assert [(e.action, e.actor_type) for e in entries] == [
        ("CREATE", "user"),
        ("UPDATE", "system"),
        ("UPDATE", "system"),
    ]
    assert entries[-1].new_value["status"] == "partially_refunded"


async def test_mark_order_is_scoped_to_its_company(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    order = await create_order(client, _admin(world), customer["id"])
    async with runtime.sessions.begin() as session:
        with pytest.raises(NotFound):
            await commerce.mark_order(
                session=session,
                company_id=world.a.other_company.id,
                order_id=order["id"],
                status=OrderStatus.PAID,
            )
    assert (await client.get(f"{URL}/{order['id']}", headers=_admin(world))).json()[
        "status"
    ] == "pending"


# --- lists -----------------------------------------------------------------------------------


async def test_filters_and_pagination(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    headers = _admin(world)
    other = await create_customer(client, headers, world.a.company.id, email="o@example.com")
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    made: list[dict[str, Any]] = []
    for day, (who, quantity) in enumerate([(customer, 1), (customer, 5), (other, 2), (other, 10)]):
        clock.set_source(lambda day=day: start + timedelta(days=day))  # type: ignore[misc]
        made.append(
            await create_order(client, headers, who["id"], line_items=[_line(quantity=quantity)])
        )
    clock.reset()
    await _mark(runtime, made[1], OrderStatus.PAID)
    ids = [order["id"] for order in made]

    async def listed(**params: Any) -> list[str]:
        response = await client.get(URL, params={"limit": 100, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]]

    assert await listed() == ids[::-1]
    assert await listed(customer_id=customer["id"]) == [ids[1], ids[0]]
    assert await listed(status="paid") == [ids[1]]
    assert await listed(status="pending", customer_id=other["id"]) == [ids[3], ids[2]]
    assert await listed(created_gte="2026-03-02T12:00:00Z") == [ids[3], ids[2], ids[1]]
    assert await listed(
        created_gte="2026-03-02T00:00:00+00:00", created_lte="2026-03-03T12:00:00Z"
    ) == [ids[2], ids[1]]
    assert await listed(total_gte=1000, total_lte=2500) == [ids[2], ids[1]]
    assert await listed(total_gte=5000) == [ids[3]]
    assert await listed(currency="usd") == ids[::-1]
    assert await listed(currency="EUR") == []

    page = (await client.get(URL, params={"limit": 3}, headers=headers)).json()
    assert page["has_more"] is True and page["next_cursor"] == ids[1]
    rest = (
        await client.get(URL, params={"limit": 3, "starting_after": ids[1]}, headers=headers)
    ).json()
    assert [o["id"] for o in rest["data"]] == [ids[0]] and rest["has_more"] is False


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"created_gte": "2026-03-01T00:00:00"}, "created_gte"),
        ({"created_lte": "yesterday"}, "created_lte"),
        ({"total_gte": -1}, "total_gte"),
        ({"status": "shipped"}, "status"),
        ({"currency": "XYZ"}, "currency"),
    ],
)
async def test_bad_filters_are_400s(
    client: httpx.AsyncClient, world: World, params: dict[str, Any], param: str
) -> None:
    response = await client.get(URL, params=params, headers=_admin(world))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
