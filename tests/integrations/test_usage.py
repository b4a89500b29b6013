"""Platform-mode billing: each transaction through a shared integration is counted per client,
month and currency, with the platform's fee (0.5 % + 10 minor units unless priced otherwise),
in counters that concurrent payments cannot corrupt."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from avnz.core import clock
from avnz.core.errors import NotFound
from avnz.integrations import service as integrations
from avnz.integrations.schemas import ClientPricing
from tests.integrations.factories import (
    CLIENT,
    PLATFORM,
    client_admin,
    create_client_integration,
    create_platform,
    org_admin,
    own_body,
)


async def _platform_mode(client, world) -> tuple[dict, dict]:
    platform = await create_platform(client, world, "ANTHROPIC", is_shared_with_clients=True)
    used = await create_client_integration(
        client,
        client_admin(world),
        {
            "provider": "ANTHROPIC",
            "name": "Claude (platform)",
            "mode": "platform",
            "platform_integration_id": platform["id"],
        },
    )
    return platform, used


async def _record(runtime, integration_id: str, amount: int, currency: str = "USD") -> int:
    async with runtime.sessions.begin() as session:
        return await integrations.record_platform_usage(session, integration_id, amount, currency)


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(1999, 20), (1, 10), (0, 10), (101, 11), (100, 11), (300, 12), (500, 13)],
)
def test_the_default_fee_rounds_half_up_to_the_minor_unit(amount, fee):
    # 0.5 % of 100 is 0.5 and of 500 is 2.5: half-up makes them 1 and 3 (half-even: 0 and 2).
    assert ClientPricing().fee(amount) == fee


def test_a_custom_price():
    pricing = ClientPricing(percent=Decimal("2.9"), flat_minor=30)
    assert pricing.fee(1000) == 59
    assert pricing.fee(1234) == 66  # 35.786 → 36


async def test_usage_is_counted_per_month_and_currency_with_the_fee(client, world, runtime):
    _, used = await _platform_mode(client, world)
    amounts = [1999, 1, 101, 0, 100, 500]
    fees = [await _record(runtime, used["id"], amount) for amount in amounts]
    assert fees == [20, 10, 11, 10, 11, 13]
    assert await _record(runtime, used["id"], 2500, "eur") == 23

    response = await client.get(f"{CLIENT}/{used['id']}/usage", headers=client_admin(world))
    assert response.status_code == 200
    body = response.json()
    assert body["month"] == clock.now().strftime("%Y-%m")
    assert body["client_id"] == world.a.client.id
    assert body["pricing"] == {"percent": "0.5", "flat_minor": 10}
    assert body["usage"] == [
        {"currency": "EUR", "transaction_count": 1, "volume_minor": 2500, "fee_minor": 23},
        {"currency": "USD", "transaction_count": 6, "volume_minor": 2701, "fee_minor": 75},
    ]
    shown = await client.get(f"{CLIENT}/{used['id']}", headers=client_admin(world))
    assert shown.json()["usage_this_month"] == body["usage"]


async def test_the_platforms_price_applies_from_when_it_changes(client, world, runtime):
    platform, used = await _platform_mode(client, world)
    assert await _record(runtime, used["id"], 1000) == 15
    repriced = await client.patch(
        f"{PLATFORM}/{platform['id']}/sharing",
        json={
            "is_shared_with_clients": True,
            "client_pricing": {"percent": "2.9", "flat_minor": 30},
        },
        headers=org_admin(world),
    )
    assert repriced.status_code == 200
    assert await _record(runtime, used["id"], 1000) == 59
    usage = (await client.get(f"{CLIENT}/{used['id']}/usage", headers=client_admin(world))).json()
    assert usage["usage"][0]["fee_minor"] == 74
    assert usage["pricing"] == {"percent": "2.9", "flat_minor": 30}


async def test_a_new_month_starts_from_zero(client, world, runtime):
    _, used = await _platform_mode(client, world)
    clock.set_source(lambda: datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    await _record(runtime, used["id"], 1000)
    await _record(runtime, used["id"], 1000)
    clock.set_source(lambda: datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))
    await _record(runtime, used["id"], 700)

    headers = client_admin(world)
    url = f"{CLIENT}/{used['id']}/usage"
    november = (await client.get(url, params={"month": "2026-11"}, headers=headers)).json()
    december = (await client.get(url, headers=headers)).json()
    assert [(u["transaction_count"], u["volume_minor"]) for u in november["usage"]] == [(2, 2000)]
    assert december["month"] == "2026-12"
    assert [(u["transaction_count"], u["volume_minor"]) for u in december["usage"]] == [(1, 700)]
    bad = await client.get(url, params={"month": "2026-13"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "month"


async def test_concurrent_transactions_are_all_counted(client, world, runtime):
    _, used = await _platform_mode(client, world)
    fees = await asyncio.gather(*(_record(runtime, used["id"], 1000) for _ in range(25)))
    assert fees == [15] * 25
    usage = (await client.get(f"{CLIENT}/{used['id']}/usage", headers=client_admin(world))).json()
    assert usage["usage"] == [
        {"currency": "USD", "transaction_count": 25, "volume_minor": 25000, "fee_minor": 375}
    ]


async def test_only_platform_mode_is_billed_and_bad_amounts_are_refused(client, world, runtime):
    _, used = await _platform_mode(client, world)
    own = await create_client_integration(client, client_admin(world), own_body())
    with pytest.raises(NotFound):
        await _record(runtime, own["id"], 1000)
    with pytest.raises(NotFound):
        await _record(runtime, "cint_missing", 1000)
    for amount, currency in ((-1, "USD"), (10, "ZZZ"), (True, "USD")):
        with pytest.raises(ValueError):
            await _record(runtime, used["id"], amount, currency)
    own_usage = await client.get(f"{CLIENT}/{own['id']}/usage", headers=client_admin(world))
    assert own_usage.json()["pricing"] is None and own_usage.json()["usage"] == []
    platform_usage = await client.get(f"{CLIENT}/{used['id']}/usage", headers=client_admin(world))
    assert platform_usage.json()["usage"] == []
