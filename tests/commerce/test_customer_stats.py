"""`record_purchase` and `record_chargeback`: the figures payments keep on a customer (lifetime
value, payments, chargebacks and their rate, new → returning), exact under concurrency."""

import asyncio
from decimal import Decimal
from io import StringIO
from typing import Any

import httpx
import pytest

from avnz.commerce import service as commerce
from avnz.commerce.models import Customer, CustomerType
from avnz.core.errors import NotFound
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.commerce.factories import API, create_customer
from tests.factories import World


@pytest.fixture
async def customer(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    return await create_customer(client, world.headers(Role.ORGANIZATION_ADMIN), world.a.company.id)


async def _purchase(
    runtime: Runtime, customer: dict[str, Any], amount: int, currency: str = "USD"
) -> Customer:
    async with runtime.sessions.begin() as session:
        return await commerce.record_purchase(
            session=session,
            company_id=customer["company_id"],
            customer_id=customer["id"],
            amount_minor=amount,
            currency=currency,
        )


async def _chargeback(runtime: Runtime, customer: dict[str, Any]) -> Customer:
    async with runtime.sessions.begin() as session:
        return await commerce.record_chargeback(
            session=session, company_id=customer["company_id"], customer_id=customer["id"]
        )


async def _read(client: httpx.AsyncClient, world: World, customer_id: str) -> dict[str, Any]:
    response = await client.get(
        f"{API}/customers/{customer_id}", headers=world.headers(Role.ORGANIZATION_ADMIN)
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_purchases_add_up_and_make_a_new_customer_returning(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    first = await _purchase(runtime, customer, 1999, "usd")
    assert first.type is CustomerType.RETURNING
    assert (first.lifetime_value, first.currency, first.payments_count) == (1999, "USD", 1)
    assert first.last_purchase_at is not None
    second = await _purchase(runtime, customer, 501)
    assert (second.lifetime_value, second.payments_count) == (2500, 2)

    body = await _read(client, world, customer["id"])
    assert (body["lifetime_value"], body["currency"], body["payments_count"]) == (2500, "USD", 2)
    assert body["type"] == "returning"


async def test_a_vip_stays_vip(client: httpx.AsyncClient, world: World, runtime: Runtime) -> None:
    vip = await create_customer(
        client, world.headers(Role.ORGANIZATION_ADMIN), world.a.company.id, type="vip"
    )
    assert (await _purchase(runtime, vip, 100)).type is CustomerType.VIP


async def test_a_purchase_in_another_currency_counts_but_adds_no_value(
    client: httpx.AsyncClient,
    world: World,
    runtime: Runtime,
    customer: dict[str, Any],
    captured_logs: StringIO,
) -> None:
    await _purchase(runtime, customer, 1000, "USD")
    after = await _purchase(runtime, customer, 700, "EUR")
    assert (after.lifetime_value, after.currency, after.payments_count) == (1000, "USD", 2)
    assert "customer.purchase_currency_mismatch" in captured_logs.getvalue()


async def test_the_customer_currency_given_at_creation_decides(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    euro = await create_customer(
        client, world.headers(Role.ORGANIZATION_ADMIN), world.a.company.id, currency="EUR"
    )
    assert (await _purchase(runtime, euro, 900, "USD")).lifetime_value == 0
    assert (await _purchase(runtime, euro, 900, "EUR")).lifetime_value == 900
    # With purchases on record, the currency is fixed.
    response = await client.patch(
        f"{API}/customers/{euro['id']}",
        json={"currency": "USD"},
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert response.status_code == 409 and response.json()["error"]["param"] == "currency"


@pytest.mark.parametrize(
    ("amount", "currency"), [(0, "USD"), (-5, "USD"), (100, "ZZZ"), (True, "USD")]
)
async def test_a_bad_purchase_is_refused(
    client: httpx.AsyncClient,
    world: World,
    runtime: Runtime,
    customer: dict[str, Any],
    amount: Any,
    currency: str,
) -> None:
    with pytest.raises((ValueError, TypeError)):
        await _purchase(runtime, customer, amount, currency)
    assert (await _read(client, world, customer["id"]))["payments_count"] == 0


async def test_chargeback_rate_is_chargebacks_over_payments_in_percent(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    for _ in range(3):
        await _purchase(runtime, customer, 1000)
    one = await _chargeback(runtime, customer)
    assert (one.chargeback_count, one.chargeback_rate) == (1, Decimal("33.3333"))
    await _purchase(runtime, customer, 1000)  # the rate follows new payments too
    assert (await _read(client, world, customer["id"]))["chargeback_rate"] == "25.0000"
    two = await _chargeback(runtime, customer)
    assert (two.chargeback_count, two.payments_count, two.chargeback_rate) == (
        2,
        4,
        Decimal("50.0000"),
    )
    # Chargebacks never reduce what was paid; the lifetime value is untouched.
    assert two.lifetime_value == 4000


async def test_a_chargeback_without_recorded_payments_is_a_full_rate(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    customer_row = await _chargeback(runtime, customer)
    assert customer_row.chargeback_rate == Decimal(100)
    assert (await _read(client, world, customer["id"]))["chargeback_rate"] == "100.0000"


async def test_another_company_cannot_be_charged_to_the_customer(
    world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    elsewhere = {**customer, "company_id": world.b.company.id}
    with pytest.raises(NotFound):
        await _purchase(runtime, elsewhere, 100)
    with pytest.raises(NotFound):
        await _chargeback(runtime, elsewhere)


async def test_concurrent_purchases_and_chargebacks_all_count(
    client: httpx.AsyncClient, world: World, runtime: Runtime, customer: dict[str, Any]
) -> None:
    amounts = [100 * (i + 1) for i in range(12)]
    await asyncio.gather(
        *(_purchase(runtime, customer, amount) for amount in amounts),
        *(_chargeback(runtime, customer) for _ in range(3)),
    )
    body = await _read(client, world, customer["id"])
    assert body["payments_count"] == 12 and body["lifetime_value"] == sum(amounts)
    assert body["chargeback_count"] == 3 and body["chargeback_rate"] == "25.0000"
