"""Failover across a pool's accounts against the real sandboxes (seed Week 6 Day 5): the
primary fails, all fail, the account recovers; an issuer's decline never moves on."""

from datetime import timedelta
from typing import Any

import httpx
from stdnum import luhn

from avnz.core import clock
from avnz.payments.publishing import publisher_for
from avnz.routing.decisions import snapshot
from avnz.runtime import Runtime
from tests.commerce.factories import create_customer, create_order
from tests.routing.factories import UNREACHABLE, create_account
from tests.support.payments import API, card, ledger, pay

POOLS = f"{API}/account-pools"


async def _pool(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    accounts: list[dict[str, Any]],
    **failover: Any,
) -> dict[str, Any]:
    """A default LOWEST_COST pool: the accounts in the given order, cheapest first."""
    created = await client.post(
        POOLS,
        json={
            "name": "Main",
            "strategy": "lowest_cost",
            "is_default": True,
            "failover_config": failover,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    pool: dict[str, Any] = created.json()
    for priority, account in enumerate(accounts):
        added = await client.post(
            f"{POOLS}/{pool['id']}/accounts",
            json={"merchant_account_id": account["id"], "priority": priority},
            headers=headers,
        )
        assert added.status_code == 201, added.text
    return pool


async def _nmi(
    client: httpx.AsyncClient, headers: dict[str, str], base_url: str, fee: str, name: str
) -> dict[str, Any]:
    return await create_account(
        client,
        headers,
        None,
        provider="nmi",
        name=name,
        base_url=base_url,
        fees={"base_percentage": fee},
    )


async def _daily(client: httpx.AsyncClient, headers: dict[str, str], account_id: str) -> int:
    usage = (
        await client.get(f"{API}/merchant-accounts/{account_id}/usage", headers=headers)
    ).json()
    [day] = [b for b in usage["current"] if b["period"] == "day"]
    count: int = day["transaction_count"]
    return count


async def _routing(client: httpx.AsyncClient, headers: dict[str, str], payment_id: str) -> Any:
    response = await client.get(f"{API}/payments/{payment_id}/routing", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_primary_fails_and_the_next_account_charges(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    broken = await _nmi(client, headers, UNREACHABLE, "1.0", "Primary (down)")
    backup = await _nmi(client, headers, f"{sandboxes}/nmi", "2.9", "Backup")
    await _pool(client, headers, [broken, backup])

    response = await pay(client, headers)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["status"], payment["merchant_account_id"]) == ("captured", backup["id"])
    routing = await _routing(client, headers, payment["id"])
    assert [(a["account_id"], a["outcome"], a["step"]) for a in routing["attempts"]] == [
        (broken["id"], "error_before_send", "try_next"),
        (backup["id"], "approved", "stop"),
    ]
    assert routing["failover_attempts"] == 1
    assert (
        await _daily(client, headers, broken["id"]),
        await _daily(client, headers, backup["id"]),
    ) == (0, 1)
    assert len([t for t in await ledger(sandboxes) if t["order_id"] == payment["id"]]) == 1


async def test_when_every_account_fails_the_payment_fails_and_holds_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    first = await _nmi(client, headers, UNREACHABLE, "1.0", "Down 1")
    second = await _nmi(client, headers, UNREACHABLE, "2.0", "Down 2")
    await _pool(client, headers, [first, second])

    payment = (await pay(client, headers)).json()
    assert (payment["status"], payment["gateway"]["outcome"]) == ("failed", "error_before_send")
    routing = await _routing(client, headers, payment["id"])
    assert [a["account_id"] for a in routing["attempts"]] == [first["id"], second["id"]]
    assert routing["final_outcome"] == "failed"
    for account in (first, second):
        assert await _daily(client, headers, account["id"]) == 0


async def test_an_issuers_decline_does_not_move_to_the_next_account(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    primary = await _nmi(client, headers, f"{sandboxes}/nmi", "1.0", "Primary")
    backup = await _nmi(client, headers, f"{sandboxes}/nmi", "2.9", "Backup")
    await _pool(client, headers, [primary, backup])

    payment = (await pay(client, headers, amount=50)).json()  # the NMI sandbox declines
    assert (payment["status"], payment["merchant_account_id"]) == ("declined", primary["id"])
    routing = await _routing(client, headers, payment["id"])
    assert len(routing["attempts"]) == 1


async def test_a_failing_account_is_left_out_then_comes_back(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    flaky = await _nmi(client, headers, UNREACHABLE, "1.0", "Flaky")
    backup = await _nmi(client, headers, f"{sandboxes}/nmi", "2.9", "Backup")
    await _pool(client, headers, [flaky, backup], failure_threshold=1, exclusion_seconds=60)

    first = (await pay(client, headers)).json()  # tries flaky, which is then excluded
    assert first["merchant_account_id"] == backup["id"]
    second = (await pay(client, headers)).json()
    assert second["merchant_account_id"] == backup["id"]
    assert second["routing"]["skipped"][flaky["id"]].startswith("the account is temporarily")
    assert len((await _routing(client, headers, second["id"]))["attempts"]) == 1

    # The account is repaired; after its exclusion it is tried (and chosen) again.
    repaired = await client.patch(
        f"{API}/merchant-accounts/{flaky['id']}",
        json={"base_url": f"{sandboxes}/nmi"},
        headers=headers,
    )
    assert repaired.status_code == 200, repaired.text
    later = clock.now() + timedelta(seconds=61)
    clock.set_source(lambda: later)
    third = (await pay(client, headers)).json()
    assert (third["status"], third["merchant_account_id"]) == ("captured", flaky["id"])


async def test_a_card_gets_a_bounded_number_of_declines_a_day(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    only = await _nmi(client, headers, f"{sandboxes}/nmi", "2.9", "Only")
    await _pool(client, headers, [only], card_retry_budget=2)
    assert (await pay(client, headers)).json()["status"] == "captured"  # approvals are free
    for _ in range(2):
        assert (await pay(client, headers, amount=50)).json()["status"] == "declined"
    refused = await pay(client, headers)  # two declines: refused before any call
    assert refused.status_code == 429, refused.text
    assert "declined 2 times" in refused.json()["error"]["message"]
    assert refused.json()["error"]["code"] == "card_retry_budget_spent"
    other_card = await pay(client, headers, card=card("5555555555554444"))
    assert other_card.status_code == 201 and other_card.json()["status"] == "captured"


async def test_only_the_issuers_answers_spend_a_cards_budget(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    """An account that is down is our failure, not the card's: its attempts are free, and
    failover goes on past them however small the card's budget."""
    down = await _nmi(client, headers, UNREACHABLE, "1.0", "Down")
    backup = await _nmi(client, headers, f"{sandboxes}/nmi", "2.9", "Backup")
    await _pool(client, headers, [down, backup], card_retry_budget=1, failure_threshold=100)
    for _ in range(3):  # down, then approved: the issuer never said no
        approved = (await pay(client, headers)).json()
        assert (approved["status"], approved["merchant_account_id"]) == ("captured", backup["id"])
    declined = (await pay(client, headers, amount=50)).json()  # down, then the issuer's no
    assert (declined["status"], declined["merchant_account_id"]) == ("declined", backup["id"])
    refused = await pay(client, headers)
    assert refused.status_code == 429, refused.text


async def test_adaptive_moves_traffic_to_the_account_that_approves(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str, runtime: Runtime
) -> None:
    """At 1,012.00 the NMI sandbox approves and the Payflow pilot declines (RESULT 12), although
    Payflow is the cheaper account: the bandit must learn from real answers and send most
    payments to NMI."""
    approving = await _nmi(client, headers, f"{sandboxes}/nmi", "2.9", "Approves")
    declining = await create_account(
        client, headers, None, provider="payflow", name="Declines", base_url=f"{sandboxes}/payflow"
    )
    created = await client.post(
        POOLS,
        json={"name": "Learning", "strategy": "adaptive", "is_default": True},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    for account in (approving, declining):
        added = await client.post(
            f"{POOLS}/{created.json()['id']}/accounts",
            json={"merchant_account_id": account["id"]},
            headers=headers,
        )
        assert added.status_code == 201, added.text

    served = []
    for number in range(60):
        # Production reads stats at most 2 s old, of attempts published just after they
        # settle; here every answer counts at once.
        await publisher_for(runtime.sessions).drain()
        snapshot.clear_cache()
        # A new card each time: the cards' retry budgets are not what this test is about.
        prefix = "411111" if number % 2 else "555555"
        digits = f"{prefix}{number:09d}"
        fresh = card(digits + luhn.calc_check_digit(digits))
        payment = (await pay(client, headers, amount=101_200, card=fresh)).json()
        served.append(payment["merchant_account_id"])
    late = served[-20:]
    assert late.count(approving["id"]) >= 15, (served.count(approving["id"]), late)
    assert declining["id"] in served  # it was explored


async def test_a_rebill_stays_on_the_account_of_the_first_payment(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    first_home = await _nmi(client, headers, f"{sandboxes}/nmi", "1.0", "First")
    other = await _nmi(client, headers, f"{sandboxes}/nmi", "2.9", "Other")
    await _pool(client, headers, [first_home, other])
    customer = await create_customer(client, headers, None)
    signup = (await pay(client, headers, customer_id=customer["id"])).json()
    assert signup["merchant_account_id"] == first_home["id"]

    cheaper = await client.patch(
        f"{API}/merchant-accounts/{other['id']}",
        json={"fees": {"base_percentage": "0.5"}},
        headers=headers,
    )
    assert cheaper.status_code == 200, cheaper.text
    snapshot.clear_cache()
    renewal = await create_order(client, headers, customer["id"], is_renewal=True)
    rebill = (
        await pay(
            client,
            headers,
            customer_id=customer["id"],
            order_id=renewal["id"],
            amount=None,
            currency=None,
        )
    ).json()
    assert rebill["merchant_account_id"] == first_home["id"], rebill["routing"]
    assert rebill["routing"]["strategy"] == "lowest_cost+rebill"
    one_off = (await pay(client, headers, customer_id=customer["id"])).json()
    assert one_off["merchant_account_id"] == other["id"]
