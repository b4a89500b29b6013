"""Every rule action end to end: real payments through `POST /payments`, charged at the gateway
sandboxes over loopback HTTP, with the rule's effect checked on the payment, on the gateway's own
ledger, in the routing decision, the rule's analytics and the outbox."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.payments.models import Payment
from avnz.payments.publishing import publisher_for
from avnz.rules.models import RuleDailyStats
from avnz.runtime import Runtime
from tests.routing.factories import create_account
from tests.rules.support import GERMANY, RULES, create_pool, create_rule, events_named
from tests.support.payments import API, ledger, pay

DE = {"billing_address": {"country": "DE"}}
CAVV = "AAABBBCCCDDDEEEFFFGGGHHHIII="


@pytest.fixture
async def second(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str, account: dict[str, Any]
) -> dict[str, Any]:
    """A second account (Authorize.Net), created after `account`: default routing never picks
    it while the first can take the payment."""
    return await create_account(
        client, headers, None, provider="authorize_net", base_url=f"{sandboxes}/authorize_net"
    )


async def _count(session: AsyncSession, model: Any) -> int:
    await session.rollback()
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _stats(
    runtime: Runtime, session: AsyncSession, rule_id: str
) -> dict[str, tuple[int, int, int]]:
    """The rule's counts once every settled payment is published (they are counted then)."""
    await publisher_for(runtime.sessions).drain()
    await session.rollback()
    rows = await session.scalars(select(RuleDailyStats).where(RuleDailyStats.rule_id == rule_id))
    return {row.arm.value: (row.hits, row.successes, row.failures) for row in rows}


async def test_route_to_pool_sends_matching_payments_to_the_pool(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    second: dict[str, Any],
    session: AsyncSession,
    runtime: Runtime,
) -> None:
    pool = await create_pool(client, headers, [second["id"]])
    rule = await create_rule(
        client,
        headers,
        name="EU to pool",
        conditions=[GERMANY],
        actions=[{"type": "route_to_pool", "pool_id": pool["id"], "strategy": "round_robin"}],
    )
    german = await pay(client, headers, **DE)
    assert german.status_code == 201, german.text
    paid = german.json()
    assert (paid["status"], paid["merchant_account_id"]) == ("captured", second["id"])
    routing = paid["routing"]
    assert (routing["pool_id"], routing["strategy"]) == (pool["id"], "round_robin")
    assert (routing["rule_id"], routing["rule_version"], routing["rule_arm"]) == (
        rule["id"],
        1,
        "control",
    )
    american = (await pay(client, headers, billing_address={"country": "US"})).json()
    assert american["merchant_account_id"] == account["id"]
    assert american["routing"]["rule_id"] is None

    decision = await client.get(f"{API}/payments/{paid['id']}/routing", headers=headers)
    body = decision.json()
    assert (body["rule_id"], body["rule_version"]) == (rule["id"], 1)
    [country] = body["condition_results"]
    assert (country["path"], country["field"], country["result"]) == (
        "conditions.0",
        "country",
        True,
    )
    assert await _stats(runtime, session, rule["id"]) == {"control": (1, 1, 0)}


async def test_route_to_account(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    second: dict[str, Any],
) -> None:
    await create_rule(
        client, headers, actions=[{"type": "route_to_account", "account_id": second["id"]}]
    )
    paid = (await pay(client, headers)).json()
    assert paid["merchant_account_id"] == second["id"]
    assert paid["routing"]["strategy"] == "pinned"


async def test_a_route_that_cannot_take_the_payment_falls_back_to_default_routing(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    empty = await create_pool(client, headers, [])
    await create_rule(client, headers, actions=[{"type": "route_to_pool", "pool_id": empty["id"]}])
    response = await pay(client, headers)
    assert response.status_code == 201, response.text
    paid = response.json()
    assert (paid["status"], paid["merchant_account_id"]) == ("captured", account["id"])
    [failure] = paid["routing"]["rule_failures"]
    assert "Default routing used" in failure


async def test_block_refuses_before_the_gateway_and_records_the_hit(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    sandboxes: str,
    session: AsyncSession,
    runtime: Runtime,
) -> None:
    rule = await create_rule(
        client,
        headers,
        name="No DE",
        conditions=[GERMANY],
        actions=[{"type": "block", "reason": "Not shipping to Germany"}],
    )
    before = len(await ledger(sandboxes))
    blocked = await pay(client, headers, **DE)
    assert blocked.status_code == 402
    error = blocked.json()["error"]
    assert (error["type"], error["code"]) == ("payment_error", "payment_blocked")
    assert "Not shipping to Germany" in error["message"] and rule["id"] in error["message"]
    assert "4111111111111111" not in blocked.text
    assert len(await ledger(sandboxes)) == before
    assert await _count(session, Payment) == 0
    assert await _stats(runtime, session, rule["id"]) == {"control": (1, 0, 1)}
    [event] = await events_named(session, "payment.blocked")
    assert (event["rule_id"], event["code"], event["amount"]) == (
        rule["id"],
        "payment_blocked",
        1999,
    )

    assert (await pay(client, headers)).status_code == 201  # not German: not blocked


async def test_a_block_whose_time_has_passed_lets_payments_through(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    until = "2020-01-01T00:00:00Z"
    await create_rule(client, headers, actions=[{"type": "block", "reason": "x", "until": until}])
    assert (await pay(client, headers)).status_code == 201


async def test_surcharge_and_discount_change_what_the_gateway_charges(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    sandboxes: str,
) -> None:
    await create_rule(
        client,
        headers,
        name="Card fee",
        conditions=[GERMANY],
        actions=[{"type": "surcharge", "percent": "3", "cap": 500}],
    )
    await create_rule(
        client, headers, name="Promo", actions=[{"type": "discount", "percent": "10"}]
    )
    surcharged = (await pay(client, headers, **DE)).json()
    # 3 % of 19.99 is 0.5997, rounded half up to 0.60.
    assert (surcharged["amount"], surcharged["surcharge_amount"]) == (2059, 60)
    discounted = (await pay(client, headers)).json()
    assert (discounted["amount"], discounted["discount_amount"]) == (1799, 200)
    amounts = {entry["order_id"]: entry["amount"] for entry in await ledger(sandboxes)}
    assert (amounts[surcharged["id"]], amounts[discounted["id"]]) == (2059, 1799)


async def test_require_3ds_refuses_unauthenticated_payments(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    big = {"type": "amount", "field": "amount", "operator": "gte", "value": 1000}
    await create_rule(client, headers, conditions=[big], actions=[{"type": "require_3ds"}])
    refused = await pay(client, headers)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "authentication_required"
    secure = {"eci": "05", "cavv": CAVV, "version": "2.2.0"}
    authenticated = await pay(client, headers, three_d_secure=secure)
    assert authenticated.status_code == 201, authenticated.text
    paid = authenticated.json()
    assert paid["routing"]["three_d_secure"] == {"eci": "05", "version": "2.2.0"}
    assert CAVV not in authenticated.text
    assert (await pay(client, headers, amount=999)).status_code == 201  # below the rule


async def test_flag_for_review_holding_funds_authorizes_only(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    session: AsyncSession,
) -> None:
    rule = await create_rule(
        client,
        headers,
        actions=[
            {
                "type": "flag_for_review",
                "reason": "New market",
                "severity": "high",
                "hold_funds": True,
            }
        ],
    )
    paid = (await pay(client, headers)).json()
    assert (paid["kind"], paid["status"], paid["amount_captured"]) == ("authorize", "authorized", 0)
    assert paid["review"] == {
        "status": "pending",
        "reason": "New market",
        "severity": "high",
        "hold_funds": True,
        "rule_id": rule["id"],
    }
    [event] = await events_named(session, "payment.review_required")
    assert event["payment"]["id"] == paid["id"]
    captured = await client.post(f"{API}/payments/{paid['id']}/capture", json={}, headers=headers)
    assert captured.json()["status"] == "captured"  # after the review, captured as usual


async def test_add_metadata_merges_without_overriding_the_request(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    tags = {"segment": "eu", "source": "rule"}
    await create_rule(client, headers, actions=[{"type": "add_metadata", "metadata": tags}])
    paid = (await pay(client, headers, metadata={"source": "checkout"})).json()
    assert paid["metadata"] == {"segment": "eu", "source": "checkout"}


async def test_send_notification_goes_through_the_outbox(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    session: AsyncSession,
) -> None:
    rule = await create_rule(
        client,
        headers,
        name="Watch DE",
        conditions=[GERMANY],
        actions=[
            {"type": "send_notification", "channel": "webhook", "message": "{rule_name}: {amount}"}
        ],
    )
    paid = (await pay(client, headers, **DE)).json()
    assert paid["status"] == "captured"
    [event] = await events_named(session, "routing.rule.notification")
    assert (event["rule_id"], event["payment_id"], event["channel"]) == (
        rule["id"],
        paid["id"],
        "webhook",
    )
    assert event["message"].startswith("Watch DE: ")


async def test_a_failing_action_never_loses_the_payment(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    # No indicative rate for Mongolian tögrög: the flat fee cannot be converted.
    fee = {"type": "surcharge", "flat": 100, "currency": "MNT"}
    tags = {"type": "add_metadata", "metadata": {"after": "failure"}}
    await create_rule(client, headers, actions=[fee, tags])
    response = await pay(client, headers)
    assert response.status_code == 201, response.text
    paid = response.json()
    assert (paid["status"], paid["amount"], paid["surcharge_amount"]) == ("captured", 1999, 0)
    assert paid["metadata"] == {"after": "failure"}
    [failure] = paid["routing"]["rule_failures"]
    assert failure.startswith("actions.0 (surcharge)")


async def test_declines_count_as_failures_of_the_rule(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    session: AsyncSession,
    runtime: Runtime,
) -> None:
    rule = await create_rule(
        client, headers, actions=[{"type": "add_metadata", "metadata": {"a": "b"}}]
    )
    await pay(client, headers)
    declined = (await pay(client, headers, amount=99)).json()  # NMI's sandbox declines < 1.00
    assert declined["status"] == "declined"
    assert await _stats(runtime, session, rule["id"]) == {"control": (2, 1, 1)}
    detail = await client.get(f"{RULES}/{rule['id']}/analytics", headers=headers)
    assert detail.status_code == 200, detail.text


async def test_an_ab_split_sends_a_share_to_the_variant_and_tracks_each_arm(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    session: AsyncSession,
    runtime: Runtime,
) -> None:
    rule = await create_rule(
        client,
        headers,
        actions=[{"type": "add_metadata", "metadata": {"arm": "control"}}],
        ab_test={
            "share": 0.5,
            "split_by": "transaction",
            "actions": [{"type": "add_metadata", "metadata": {"arm": "variant"}}],
        },
    )
    arms = []
    for _ in range(30):
        paid = (await pay(client, headers)).json()
        assert paid["metadata"]["arm"] == paid["routing"]["rule_arm"]
        arms.append(paid["routing"]["rule_arm"])
    stats = await _stats(runtime, session, rule["id"])
    assert sum(hits for hits, _, _ in stats.values()) == 30
    assert stats["control"][0] == arms.count("control") > 0
    assert stats["variant"][0] == arms.count("variant") > 0
    assert stats["control"][1] + stats["variant"][1] == 30


async def test_decisions_without_a_rule_have_no_condition_results(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    session: AsyncSession,
) -> None:
    paid = (await pay(client, headers)).json()
    decision = (await client.get(f"{API}/payments/{paid['id']}/routing", headers=headers)).json()
    assert (decision["rule_id"], decision["condition_results"]) == (None, None)
