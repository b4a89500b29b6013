"""When the gateway's answer is lost: inquiry instead of a second charge, the sweep for what
stays in doubt, idempotent retries, and caps under concurrency."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from avnz.core import clock
from avnz.gateways.base import Timeouts
from avnz.payments import processing
from avnz.runtime import Runtime
from tests.routing.factories import create_account
from tests.support.payments import API, ledger, pay, payment_body


async def _fault(sandboxes: str, mode: str, count: int) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{sandboxes}/nmi/_sandbox/faults", json={"mode": mode, "count": count}
        )
        assert response.status_code == 200


async def _clear_faults(sandboxes: str) -> None:
    await _fault(sandboxes, "none", 0)


async def test_a_lost_answer_is_found_by_inquiry_and_charged_once(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], sandboxes: str
) -> None:
    await _fault(sandboxes, "hang", 1)  # NMI charges, then the answer never comes
    try:
        response = await pay(client, headers)
    finally:
        await _clear_faults(sandboxes)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "captured"
    charges = [t for t in await ledger(sandboxes) if t["order_id"] == payment["id"]]
    assert len(charges) == 1 and charges[0]["id"] == payment["gateway"]["transaction_id"]


async def test_a_5xx_in_front_of_the_gateway_is_inquired_and_fails_cleanly(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], sandboxes: str
) -> None:
    await _fault(sandboxes, "error", 1)  # a load balancer's 502: nothing reached NMI
    try:
        response = await pay(client, headers)
    finally:
        await _clear_faults(sandboxes)
    payment = response.json()
    assert payment["status"] == "failed", payment
    assert [t for t in await ledger(sandboxes) if t["order_id"] == payment["id"]] == []
    usage = await client.get(f"{API}/merchant-accounts/{account['id']}/usage", headers=headers)
    [day] = [b for b in usage.json()["current"] if b["period"] == "day"]
    assert day["transaction_count"] == 0


async def test_what_stays_in_doubt_is_settled_by_the_sweep(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    sandboxes: str,
    runtime: Runtime,
) -> None:
    await _fault(sandboxes, "hang", 2)  # the charge and its inquiry both go unanswered
    try:
        response = await pay(client, headers)
    finally:
        await _clear_faults(sandboxes)
    assert response.status_code == 202, response.text
    payment = response.json()
    assert payment["status"] == "pending"

    gateways = processing.Gateways(runtime.sessions, runtime.keyring, runtime.http, Timeouts())
    assert await processing.resolve_stale(gateways) == 0  # too fresh: its request may be alive
    later = clock.now() + processing.STALE_AFTER + timedelta(seconds=1)
    clock.set_source(lambda: later)
    assert await processing.resolve_stale(gateways) == 1

    settled = (await client.get(f"{API}/payments/{payment['id']}", headers=headers)).json()
    assert settled["status"] == "captured"
    charges = [t for t in await ledger(sandboxes) if t["order_id"] == payment["id"]]
    assert len(charges) == 1 and charges[0]["id"] == settled["gateway"]["transaction_id"]
    assert await processing.resolve_stale(gateways) == 0


async def test_fifty_concurrent_retries_with_one_key_charge_once(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], sandboxes: str
) -> None:
    keyed = {**headers, "Idempotency-Key": "order-7781-attempt-1"}
    responses = await asyncio.gather(
        *(client.post(f"{API}/payments", json=payment_body(), headers=keyed) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {201}
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 49
    charges = [t for t in await ledger(sandboxes) if t["order_id"] == bodies[0]["id"]]
    assert len(charges) == 1
    listed = await client.get(f"{API}/payments", headers=headers)
    assert [p["id"] for p in listed.json()["data"]] == [bodies[0]["id"]]

    other_body = await client.post(f"{API}/payments", json=payment_body(amount=2999), headers=keyed)
    assert other_body.status_code == 422, other_body.text


async def test_concurrent_payments_never_pass_the_daily_cap(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    capped = await create_account(
        client,
        headers,
        None,
        provider="nmi",
        base_url=f"{sandboxes}/nmi",
        limits={"daily_transaction_limit": 10},
    )
    responses = await asyncio.gather(*(pay(client, headers) for _ in range(25)))
    approved = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 422]
    assert (len(approved), len(refused)) == (10, 15), [r.status_code for r in responses]
    assert all(r.json()["status"] == "captured" for r in approved)
    assert {r.json()["error"]["code"] for r in refused} == {"limit_exceeded"}
    usage = await client.get(f"{API}/merchant-accounts/{capped['id']}/usage", headers=headers)
    [day] = [b for b in usage.json()["current"] if b["period"] == "day"]
    assert day["transaction_count"] == 10
