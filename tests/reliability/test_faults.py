"""Faults: the server killed mid-payment, the database going away, a gateway that resets the
connection, times out, answers 5xx or garbage. Nothing is charged twice, nothing is lost, and
the service recovers by itself."""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from avnz.config import Settings
from avnz.core import clock
from avnz.gateways import registry
from avnz.gateways.base import Card, ConnectorConfig, Outcome, PaymentRequest, Timeouts
from avnz.gateways.sandbox.common import FaultMode
from avnz.idempotency import IdempotencyKey
from avnz.payments import sweep
from avnz.payments.models import Payment
from avnz.runtime import Runtime
from tests.payments.test_failover import _pool, _routing
from tests.reliability.support import (
    Fault,
    Proxy,
    Sandbox,
    outage_of,
    proxy_to,
    running,
    server_env,
    spawn,
)
from tests.routing.factories import create_account
from tests.security.helpers import assert_error
from tests.support.payments import API, VISA, pay, payment_body


async def _until(check: Callable[[], Any], *, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await _maybe_async(check()):
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.05)


async def _maybe_async(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


async def _payments(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        return [tuple(row) for row in (await session.execute(select(Payment.id, Payment.status)))]


async def _day_count(client: httpx.AsyncClient, headers: dict[str, str], account_id: str) -> int:
    usage = await client.get(f"{API}/merchant-accounts/{account_id}/usage", headers=headers)
    [day] = [b for b in usage.json()["current"] if b["period"] == "day"]
    count: int = day["transaction_count"]
    return count


# --- kill -9 in the middle of a payment --------------------------------------------------------


@dataclass(frozen=True)
class Crash:
    """A brand with an NMI account at the sandbox, and `avnz serve` processes to kill."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    runtime: Runtime
    sandbox: Sandbox
    env: dict[str, str]
    logs: Path

    async def kill_during(self, path: str, body: Any, headers: dict[str, str]) -> None:
        """POST to a new `avnz serve` and kill -9 it while the sandbox holds the request."""
        with running(self.env, self.logs / "killed.log") as [server]:
            async with httpx.AsyncClient(timeout=30) as http:
                posted = asyncio.ensure_future(
                    http.post(f"{server.url}{path}", json=body, headers=headers)
                )
                await _until(lambda: self.sandbox.state.faults.mode is FaultMode.NONE)
                server.kill()
                with pytest.raises(httpx.TransportError):
                    await posted


@pytest.fixture
async def crash(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    runtime: Runtime,
    settings: Settings,
    sandbox: Sandbox,
    tmp_path: Path,
) -> Crash:
    await create_account(client, headers, None, provider="nmi", base_url=sandbox.url)
    # A long read timeout: the server must still be waiting for the sandbox when it is killed.
    env = server_env(settings, AVNZ_GATEWAY_READ_TIMEOUT_SECONDS="30")
    return Crash(client, headers, runtime, sandbox, env, tmp_path)


@pytest.mark.parametrize(
    ("fault", "restart", "settled", "sales"),
    [
        # The gateway charged, then the server died before the answer came back.
        (FaultMode.HANG, "serve", "captured", 1),
        # The server died while the gateway was still holding the request unprocessed.
        (FaultMode.SLOW, "worker", "failed", 0),
    ],
)
async def test_a_server_killed_mid_payment_is_settled_by_inquiry_after_restart(
    crash: Crash, fault: FaultMode, restart: str, settled: str, sales: int
) -> None:
    client, headers, runtime, sandbox = crash.client, crash.headers, crash.runtime, crash.sandbox
    keyed = {**headers, "Idempotency-Key": f"checkout-{fault}"}
    sandbox.state.faults.set(fault, delay_ms=60_000, count=1)
    await crash.kill_during(f"{API}/payments", payment_body(), keyed)
    [(payment_id, status)] = await _payments(runtime)
    assert status == "pending"
    assert len(sandbox.charges({payment_id})) == sales
    await _as_if_minutes_passed(runtime)

    # The client retries with its key: it gets the payment the dead request wrote, in doubt
    # (202), and nothing is charged again.
    retried = await client.post(f"{API}/payments", json=payment_body(), headers=keyed)
    assert (retried.status_code, retried.json()["id"]) == (202, payment_id), retried.text
    assert len(sandbox.charges()) == sales

    with _restarted(crash, restart):
        await _until(lambda: _settled(runtime, payment_id))
    payment = (await client.get(f"{API}/payments/{payment_id}", headers=headers)).json()
    assert payment["status"] == settled
    assert sandbox.charges() == ([payment["gateway"]["transaction_id"]] if sales else [])
    account_id = payment["merchant_account_id"]
    assert await _day_count(client, headers, account_id) == sales  # a failure gives it back
    routing = await _routing(client, headers, payment_id)
    assert routing["final_outcome"] == settled
    # Our crash is not the card's doing: nothing counts against its retry budget.
    async with runtime.sessions() as session:
        assert (await session.get_one(Payment, payment_id)).issuer_declines == 0


async def test_a_refund_retried_after_a_crash_is_paid_out_once(crash: Crash) -> None:
    client, headers, sandbox = crash.client, crash.headers, crash.sandbox
    paid = (await pay(client, headers)).json()
    refunds = f"{API}/payments/{paid['id']}/refunds"
    keyed = {**headers, "Idempotency-Key": "refund-9931"}
    sandbox.state.faults.set(FaultMode.HANG, count=1)  # the refund is made, its answer lost
    await crash.kill_during(refunds, {"amount": 500}, keyed)
    await _as_if_minutes_passed(crash.runtime)

    retried = await client.post(refunds, json={"amount": 500}, headers=keyed)
    assert retried.status_code == 202, retried.text
    listed = (await client.get(refunds, headers=headers)).json()
    assert [r["id"] for r in listed] == [retried.json()["id"]]
    assert len(sandbox.transactions("refund")) == 1
    payment = (await client.get(f"{API}/payments/{paid['id']}", headers=headers)).json()
    assert payment["amount_refunded"] == 500


async def test_a_capture_cut_off_by_a_crash_is_settled_by_the_sweep(crash: Crash) -> None:
    client, headers, sandbox = crash.client, crash.headers, crash.sandbox
    authorized = (await pay(client, headers, capture=False)).json()
    assert authorized["status"] == "authorized"
    payment_url = f"{API}/payments/{authorized['id']}"
    sandbox.state.faults.set(FaultMode.HANG, count=1)  # the capture is made, its answer lost
    await crash.kill_during(f"{payment_url}/capture", {}, headers)
    stuck = (await client.get(payment_url, headers=headers)).json()
    assert (stuck["status"], stuck["pending_action"]) == ("authorized", "capture")
    await _as_if_minutes_passed(crash.runtime)

    with _restarted(crash, "worker"):
        await _until(lambda: _answers_with(client, payment_url, headers, "captured"))
    captured = (await client.get(payment_url, headers=headers)).json()
    assert (captured["pending_action"], captured["amount_captured"]) == (None, 1999)
    [txn] = sandbox.state.ledger.transactions.values()  # captured once, at the gateway too
    assert (txn.state, txn.captured) == ("captured", 1999)


async def _answers_with(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], status: str
) -> bool:
    return bool((await client.get(url, headers=headers)).json()["status"] == status)


async def _as_if_minutes_passed(runtime: Runtime) -> None:
    """Rather than wait: move the payments' creation and last change back past the sweep's
    threshold (it leaves younger ones alone, their request may be running), and end the dead
    request's claim on its Idempotency-Key (its heartbeat stopped, its lease would run out)."""
    async with runtime.sessions.begin() as session:
        for payment in (await session.scalars(select(Payment))).all():
            payment.created_at -= sweep.STALE_AFTER + timedelta(seconds=5)
            payment.updated_at -= sweep.STALE_AFTER + timedelta(seconds=5)
        await session.execute(
            update(IdempotencyKey).values(locked_until=clock.now() - timedelta(seconds=1))
        )


async def _settled(runtime: Runtime, payment_id: str) -> bool:
    return dict(await _payments(runtime))[payment_id] != "pending"


@contextlib.contextmanager
def _restarted(crash: Crash, how: str) -> Iterator[None]:
    """The embedded worker of a new `avnz serve`, or a separate `avnz worker`."""
    if how == "serve":
        with running({**crash.env, "AVNZ_RUN_EMBEDDED_WORKER": "true"}, crash.logs / "next.log"):
            yield
        return
    process = spawn(crash.env, crash.logs / "worker.log", "worker")
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


# --- the database going away -------------------------------------------------------------------


async def test_without_its_database_the_api_answers_503_and_recovers_without_restart(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    settings: Settings,
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    await create_account(client, headers, None, provider="nmi", base_url=sandbox.url)
    with outage_of(settings.resolved_database_url) as outage:
        env = server_env(settings, AVNZ_DATABASE_URL=outage.database_url)
        with running(env, tmp_path / "server.log") as [server]:
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as http:
                assert (await http.get(f"{API}/payments")).status_code == 200
                outage.begin()
                try:
                    during = await asyncio.gather(
                        http.get(f"{API}/payments"),
                        http.post(f"{API}/payments", json=payment_body()),
                        http.get("/health/ready"),
                    )
                finally:
                    outage.end()
                await _until(lambda: _answers(http, f"{API}/payments", 200))
                after = await http.post(f"{API}/payments", json=payment_body())
            assert server.process.poll() is None  # the same process all along

    listed, paid, ready = during
    for response in (listed, paid):
        error = assert_error(response, 503, "database_unavailable")
        assert error["type"] == "api_error"
        assert error["message"] == "The database is unavailable; retry shortly."
        assert response.headers["retry-after"] == "5"
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert (after.status_code, after.json()["status"]) == (201, "captured")
    assert sandbox.charges() == [after.json()["gateway"]["transaction_id"]]  # none while down


async def _answers(http: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await http.get(path)).status_code == status


# --- a gateway that resets, hangs, fails or talks nonsense ---------------------------------------


@pytest.fixture
def relay(sandbox: Sandbox) -> Iterator[Proxy]:
    """A TCP relay in front of the sandbox whose connections can be reset."""
    address = urlsplit(sandbox.url)
    assert address.hostname is not None and address.port is not None
    with proxy_to(address.hostname, address.port) as proxy:
        yield proxy


@pytest.fixture
async def pool(
    client: httpx.AsyncClient, headers: dict[str, str], sandbox: Sandbox, relay: Proxy
) -> dict[str, str]:
    """The cheaper primary behind the relay, a backup straight at the sandbox."""
    primary = await create_account(
        client,
        headers,
        None,
        provider="nmi",
        name="Primary",
        base_url=f"http://{relay.address}",
        fees={"base_percentage": "1.0"},
    )
    backup = await create_account(
        client,
        headers,
        None,
        provider="nmi",
        name="Backup",
        base_url=sandbox.url,
        fees={"base_percentage": "2.9"},
    )
    await _pool(client, headers, [primary, backup])
    return {"primary": primary["id"], "backup": backup["id"]}


@pytest.mark.parametrize(
    ("fault", "first_attempt", "charged_by"),
    [
        # The answer is lost after the gateway charged: the inquiry finds the charge, and the
        # payment never moves to another account.
        (Fault.RESET_AFTER, "approved", "primary"),
        (FaultMode.HANG, "approved", "primary"),
        # Nothing reached the gateway (the inquiry finds nothing): safe to charge elsewhere.
        (Fault.RESET_BEFORE, "error_before_send", "backup"),
        (FaultMode.ERROR, "error_before_send", "backup"),
        (FaultMode.MALFORMED, "error_before_send", "backup"),
    ],
)
async def test_each_gateway_fault_gets_its_outcome_class_and_failover(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sandbox: Sandbox,
    relay: Proxy,
    pool: dict[str, str],
    fault: Fault | FaultMode,
    first_attempt: str,
    charged_by: str,
) -> None:
    if isinstance(fault, Fault):
        relay.fail(fault)
    else:
        sandbox.state.faults.set(fault, count=1)  # the primary's charge; its inquiry is clean
    response = await pay(client, headers)

    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["status"], payment["merchant_account_id"]) == ("captured", pool[charged_by])
    assert sandbox.charges({payment["id"]}) == [payment["gateway"]["transaction_id"]]
    routing = await _routing(client, headers, payment["id"])
    attempts = [(a["account_id"], a["outcome"]) for a in routing["attempts"]]
    expected = [(pool["primary"], first_attempt)]
    if charged_by == "backup":
        expected.append((pool["backup"], "approved"))
    assert attempts == expected
    for name, account_id in pool.items():
        assert await _day_count(client, headers, account_id) == (name == charged_by)


async def test_a_reset_whose_inquiry_is_reset_too_stays_pending_and_never_moves_on(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sandbox: Sandbox,
    relay: Proxy,
    pool: dict[str, str],
) -> None:
    relay.fail(Fault.RESET_AFTER)  # the charge happens, its answer is lost ...
    relay.fail(Fault.RESET_BEFORE)  # ... and so is the inquiry's
    response = await pay(client, headers)

    assert response.status_code == 202, response.text
    payment = response.json()
    assert (payment["status"], payment["gateway"]["outcome"]) == ("pending", "timeout_after_send")
    assert payment["merchant_account_id"] == pool["primary"]
    assert len(sandbox.charges({payment["id"]})) == 1
    assert await _day_count(client, headers, pool["backup"]) == 0  # no blind retry elsewhere


@pytest.mark.parametrize("fault", list(Fault))
async def test_a_reset_connection_is_in_doubt_whatever_the_gateway_did(
    runtime: Runtime, relay: Proxy, fault: Fault
) -> None:
    """The client cannot tell a reset before processing from one after: both are
    timeout_after_send, which only an inquiry may resolve."""
    gateway = registry.gateway("nmi")
    config = ConnectorConfig(
        credentials=gateway.sandbox_credentials,
        base_url=f"http://{relay.address}",
        timeouts=Timeouts(connect=2, read=2),
    )
    relay.fail(fault)
    request = PaymentRequest(
        amount=1999, currency="USD", order_id=f"reset-{fault}", card=Card(VISA, 12, 2099, "999")
    )
    result = await registry.connector("nmi", config, runtime.http).sale(request)
    assert result.outcome is Outcome.TIMEOUT_AFTER_SEND and result.charge_may_exist
