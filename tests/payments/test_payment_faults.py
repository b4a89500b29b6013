"""When the gateway's answer is lost: inquiry instead of a second charge, the sweep for what
stays in doubt, idempotent retries, and caps under concurrency."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.service import authenticate
from avnz.core import clock
from avnz.gateways.base import Timeouts
from avnz.idempotency import IdempotencyKey
from avnz.payments import charge, sweep
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.schemas import PaymentCreate
from avnz.routing.accounts import usage
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
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

    gateways = PaymentRuntime(runtime.sessions, runtime.keyring, runtime.http, Timeouts())
    assert await sweep.resolve_stale(gateways) == 0  # too fresh: its request may be alive
    later = clock.now() + sweep.STALE_AFTER + timedelta(seconds=1)
    clock.set_source(lambda: later)
    assert await sweep.resolve_stale(gateways) == 1

    settled = (await client.get(f"{API}/payments/{payment['id']}", headers=headers)).json()
    assert settled["status"] == "captured"
    routing = await client.get(f"{API}/payments/{payment['id']}/routing", headers=headers)
    assert routing.json()["final_outcome"] == "captured"
    charges = [t for t in await ledger(sandboxes) if t["order_id"] == payment["id"]]
    assert len(charges) == 1 and charges[0]["id"] == settled["gateway"]["transaction_id"]
    assert await sweep.resolve_stale(gateways) == 0


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


async def test_wrong_credentials_fail_the_payment_as_a_config_error(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> None:
    await create_account(
        client,
        headers,
        None,
        provider="nmi",
        base_url=f"{sandboxes}/nmi",
        credentials={"security_key": "not-the-sandbox-key"},
    )
    payment = (await pay(client, headers)).json()
    assert (payment["status"], payment["gateway"]["outcome"]) == ("failed", "config_error")
    assert "not-the-sandbox-key" not in str(payment)


async def test_a_crash_before_the_gateway_call_is_settled_as_failed_by_the_sweep(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    sandboxes: str,
    runtime: Runtime,
    world: World,
) -> None:
    """The process died between writing `pending` and calling the gateway (kill -9 here)."""
    async with runtime.sessions() as session:
        principal = await authenticate(
            session=session, auth=runtime.authenticator, token=world.a.tokens[Role.COMPANY_ADMIN]
        )
    gateways = PaymentRuntime(runtime.sessions, runtime.keyring, runtime.http)
    data = PaymentCreate.model_validate(payment_body())
    async with runtime.sessions.begin() as session:
        opened = await charge._open_payment(session, gateways, principal, data, None)
    assert isinstance(opened, charge.Opened)
    # ... and nothing more: no call, no settle.
    usage_url = f"{API}/merchant-accounts/{account['id']}/usage"
    assert _day((await client.get(usage_url, headers=headers)).json()) == 1

    later = clock.now() + sweep.STALE_AFTER + timedelta(seconds=1)
    clock.set_source(lambda: later)
    assert await sweep.resolve_stale(gateways) == 1
    settled = (await client.get(f"{API}/payments/{opened.payment_id}", headers=headers)).json()
    assert settled["status"] == "failed"  # the gateway never heard of it: nothing was charged
    assert [t for t in await ledger(sandboxes) if t["order_id"] == opened.payment_id] == []
    assert _day((await client.get(usage_url, headers=headers)).json()) == 0


def _day(usage: dict[str, Any]) -> int:
    [day] = [b for b in usage["current"] if b["period"] == "day"]
    count: int = day["transaction_count"]
    return count


async def test_a_keyed_payment_takes_its_key_and_stores_its_answer_in_its_own_two_commits(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    runtime: Runtime,
    session: AsyncSession,
) -> None:
    """The hot path: the key is claimed in the transaction that opens the payment and its answer
    stored in the one that settles it; no transaction of their own."""
    seen: list[tuple[int, str]] = []  # (transaction number, statement)
    commits = [0]

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append((commits[0], sql.split()[0].upper()))

    def commit(_conn: Any) -> None:
        commits[0] += 1

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        first = await client.post(
            f"{API}/payments", json=payment_body(), headers={**headers, "Idempotency-Key": "k-2c"}
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert first.status_code == 201, first.text
    writes = {n for n, kind in seen if kind in ("INSERT", "UPDATE", "DELETE")}
    assert len(writes) == 2, seen  # open and settle; the key rode along in both
    stored = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "k-2c"))
    assert stored is not None
    assert (stored.state, stored.response_status) == ("completed", 201)
    assert stored.response_body == first.json()
    again = await client.post(
        f"{API}/payments", json=payment_body(), headers={**headers, "Idempotency-Key": "k-2c"}
    )
    assert (again.json(), again.headers["Idempotent-Replayed"]) == (first.json(), "true")


async def test_a_failure_after_the_charge_leaves_the_key_to_a_retry_that_charges_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    sandboxes: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database fails while the charge is being settled: 503, and the claim keeps its
    recovery point, so the retry answers with that payment instead of charging again."""
    settle = charge.record_settlement

    async def database_gone(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(charge, "record_settlement", settle)  # once
        raise OperationalError("UPDATE payments", {}, ConnectionResetError("server closed"))

    monkeypatch.setattr(charge, "record_settlement", database_gone)
    keyed = {**headers, "Idempotency-Key": "k-settle-lost"}
    failed = await client.post(f"{API}/payments", json=payment_body(), headers=keyed)
    assert failed.status_code == 503, failed.text
    retried = await client.post(f"{API}/payments", json=payment_body(), headers=keyed)
    assert retried.status_code in (201, 202), retried.text
    payment_id = retried.json()["id"]
    assert [t["order_id"] for t in await ledger(sandboxes)].count(payment_id) == 1
    listed = (await client.get(f"{API}/payments", headers=headers)).json()["data"]
    assert [p["id"] for p in listed] == [payment_id]


async def test_a_keyed_payment_refused_before_it_opens_stores_the_refusal(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    """The claim taken with the payment rolled back with it; the refusal is stored anyway."""
    keyed = {**headers, "Idempotency-Key": "k-no-customer"}
    body = payment_body(customer_id="cus_unknown")
    first = await client.post(f"{API}/payments", json=body, headers=keyed)
    assert first.status_code == 404, first.text
    again = await client.post(f"{API}/payments", json=body, headers=keyed)
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (404, "true")
    assert again.json() == first.json()


async def test_a_first_choice_filled_meanwhile_opens_the_payment_on_the_next_account(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sandboxes: str,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Capacity is reserved last: when a concurrent payment took the strategy's choice's last
    slot after the route was planned, the payment and its decision move to the next account."""
    for name in ("First", "Second"):
        await create_account(
            client,
            headers,
            None,
            name=name,
            provider="nmi",
            base_url=f"{sandboxes}/nmi",
            limits={"daily_transaction_limit": 1},
        )
    planned = charge.plan_route
    taken: list[str] = []

    async def plan_then_fill(session: AsyncSession, context: Any, config: Any) -> Any:
        plan = await planned(session, context, config)
        assert len(plan.accounts) == 2
        first = plan.accounts[0].account
        await usage.reserve(session, first, 100, clock.now())  # the concurrent payment
        taken.append(first.id)
        return plan

    monkeypatch.setattr(charge, "plan_route", plan_then_fill)
    paid = await pay(client, headers)
    assert paid.status_code == 201, paid.text
    payment = paid.json()
    assert payment["merchant_account_id"] != taken[0]
    routing = (await client.get(f"{API}/payments/{payment['id']}/routing", headers=headers)).json()
    assert routing["selected_account_id"] == payment["merchant_account_id"]
    assert routing["probability"] is None
