"""Many payments at once through two real `avnz serve` processes on one database: a daily cap
holds exactly, and one Idempotency-Key charges once whichever process each copy reaches."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.config import Settings
from avnz.gateways.sandbox.common import FaultMode
from avnz.payments.models import Payment
from tests.reliability.support import Sandbox, Server, running, server_env
from tests.routing.factories import create_account
from tests.support.payments import API, payment_body

PAYMENTS = 200
DAILY_CAP = 100


@pytest.fixture(scope="module")
def servers(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    logs = tmp_path_factory.mktemp("servers")
    env = server_env(settings)
    with running(env, logs / "a.log", logs / "b.log") as both:
        yield both


async def _capped_account(
    client: httpx.AsyncClient, headers: dict[str, str], sandbox: Sandbox, **limits: int
) -> dict[str, Any]:
    return await create_account(
        client, headers, None, provider="nmi", base_url=sandbox.url, limits=limits
    )


async def _post_all(
    servers: list[Server], headers: dict[str, str], count: int
) -> list[httpx.Response]:
    """`count` payments at once, spread over the servers, each on its own connection."""
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        return await asyncio.gather(
            *(
                http.post(
                    f"{servers[n % len(servers)].url}{API}/payments",
                    json=payment_body(),
                    headers=headers,
                )
                for n in range(count)
            )
        )


async def _day_count(client: httpx.AsyncClient, headers: dict[str, str], account_id: str) -> int:
    usage = await client.get(f"{API}/merchant-accounts/{account_id}/usage", headers=headers)
    [day] = [b for b in usage.json()["current"] if b["period"] == "day"]
    count: int = day["transaction_count"]
    return count


async def test_two_hundred_payments_at_once_fill_a_daily_cap_of_one_hundred_exactly(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    session: AsyncSession,
    sandbox: Sandbox,
    servers: list[Server],
) -> None:
    account = await _capped_account(client, headers, sandbox, daily_transaction_limit=DAILY_CAP)
    started = time.perf_counter()
    responses = await _post_all(servers, headers, PAYMENTS)
    elapsed = time.perf_counter() - started

    approved = [r.json() for r in responses if r.status_code == 201]
    refused = [r.json() for r in responses if r.status_code == 422]
    assert (len(approved), len(refused)) == (DAILY_CAP, PAYMENTS - DAILY_CAP), sorted(
        {r.status_code for r in responses}
    )
    assert {p["status"] for p in approved} == {"captured"}
    assert {p["merchant_account_id"] for p in approved} == {account["id"]}
    assert {e["error"]["code"] for e in refused} == {"limit_exceeded"}
    assert {e["error"]["message"] for e in refused} == {
        f"The daily transaction limit of {DAILY_CAP} is reached on this account."
    }
    ids = {p["id"] for p in approved}
    assert len(ids) == DAILY_CAP
    # The database holds exactly the approved payments: none lost, none twice, no stray row.
    rows = (await session.execute(select(Payment.id, Payment.status))).all()
    assert {row.id for row in rows} == ids and len(rows) == DAILY_CAP
    assert {row.status for row in rows} == {"captured"}
    assert await _day_count(client, headers, account["id"]) == DAILY_CAP
    # The gateway's side: one sale per approved payment and nothing else.
    assert sorted(sandbox.charges()) == sorted(p["gateway"]["transaction_id"] for p in approved)
    assert elapsed < 45, f"{PAYMENTS} payments took {elapsed:.1f} s"


async def test_one_idempotency_key_sent_to_two_processes_at_once_charges_once(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    session: AsyncSession,
    sandbox: Sandbox,
    servers: list[Server],
) -> None:
    await _capped_account(client, headers, sandbox)
    sandbox.state.faults.set(FaultMode.SLOW, delay_ms=500, count=1)
    keyed = {**headers, "Idempotency-Key": "renewal-4417-try-1"}
    responses = await _post_all(servers, keyed, 20)

    # Every copy waited for the one that charged (30 s at most, so no 409 here).
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert [r.headers.get("Idempotent-Replayed") for r in responses].count(None) == 1
    assert len(sandbox.charges()) == 1
    assert sandbox.charges() == [bodies[0]["gateway"]["transaction_id"]]
    assert await session.scalar(select(func.count()).select_from(Payment)) == 1
