"""`/stats/summary` and `/stats/chart`: real payments, counted within the caller's scope."""

from datetime import timedelta
from typing import Any

import httpx

from avnz.core import clock
from avnz.tenancy.models import Role
from tests.commerce.factories import create_customer
from tests.factories import World
from tests.support.payments import API, pay


async def test_todays_summary_counts_outcomes_volume_and_customers(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], account: dict[str, Any]
) -> None:
    empty = (await client.get(f"{API}/stats/summary", headers=headers)).json()
    assert (empty["transactions"], empty["success_rate"], empty["volume"]) == (0, None, [])

    await create_customer(client, headers, None)
    for amount in (1000, 2500):
        assert (await pay(client, headers, amount=amount)).json()["status"] == "captured"
    assert (await pay(client, headers, amount=50)).json()["status"] == "declined"

    summary = (await client.get(f"{API}/stats/summary", headers=headers)).json()
    assert summary["day"] == clock.now().date().isoformat()
    assert (summary["transactions"], summary["approved"], summary["declined"]) == (3, 2, 1)
    assert summary["success_rate"] == 0.6667
    assert summary["volume"] == [{"currency": "USD", "amount": 3500}]
    assert summary["active_customers"] == 1

    other = world.headers(Role.COMPANY_ADMIN, agency="b")
    theirs = (await client.get(f"{API}/stats/summary", headers=other)).json()
    assert (theirs["transactions"], theirs["active_customers"]) == (0, 0)
    org = world.headers(Role.ORGANIZATION_ADMIN)
    brand = {"company_id": world.a.company.id}
    assert (await client.get(f"{API}/stats/summary", params=brand, headers=org)).json()[
        "transactions"
    ] == 3


async def test_the_chart_puts_each_payment_on_its_day(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    now = clock.now()
    clock.set_source(lambda: now - timedelta(days=2))
    await pay(client, headers, amount=700)
    clock.set_source(lambda: now)
    await pay(client, headers, amount=300)
    await pay(client, headers, amount=50)  # declined: counted, no volume

    chart = await client.get(f"{API}/stats/chart", headers=headers)
    assert chart.status_code == 200, chart.text
    days = chart.json()["days"]
    assert [d["day"] for d in days] == [
        (now.date() - timedelta(days=back)).isoformat() for back in range(6, -1, -1)
    ]
    counts = [(d["transactions"], d["approved"], d["volume"]) for d in days]
    assert counts[-1] == (2, 1, [{"currency": "USD", "amount": 300}])
    assert counts[-3] == (1, 1, [{"currency": "USD", "amount": 700}])
    assert sum(c[0] for c in counts) == 3
    short = await client.get(f"{API}/stats/chart", params={"days": 2}, headers=headers)
    assert [d["transactions"] for d in short.json()["days"]] == [0, 2]
    assert (
        await client.get(f"{API}/stats/chart", params={"days": 0}, headers=headers)
    ).status_code == 400
