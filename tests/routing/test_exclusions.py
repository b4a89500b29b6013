"""The circuit breaker: exclusion after N consecutive account failures, recovery on expiry (a
half-open trial) or after a good health check against the real NMI sandbox, and counts that
hold when several sessions record at once (SQLite, or PostgreSQL from AVNZ_TEST_DATABASE_URL)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from avnz.core import clock
from avnz.gateways.base import Timeouts
from avnz.payments import history
from avnz.routing.accounts import health
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.decisions import circuit_breaker, snapshot
from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.decisions.models import AccountCircuit
from avnz.runtime import Runtime
from tests.factories import World
from tests.routing.factories import account_row

CONFIG = FailoverConfig(failure_threshold=3, exclusion_seconds=60)


async def _record(runtime: Runtime, account_id: str, ok: bool, config: FailoverConfig) -> bool:
    async with runtime.sessions.begin() as session:
        return await circuit_breaker.record_outcome(session, account_id, ok, config)


async def _circuits(runtime: Runtime, account_ids: tuple[str, ...]) -> circuit_breaker.Circuits:
    """The circuits as routing reads them: in the plan's one live read."""
    async with runtime.sessions.begin() as session:
        return (await snapshot.live(session, account_ids, clock.now())).circuits


async def _excluded(runtime: Runtime, *account_ids: str) -> set[str]:
    return set((await _circuits(runtime, account_ids)).excluded)


async def _failing(runtime: Runtime, *account_ids: str) -> set[str]:
    return set((await _circuits(runtime, account_ids)).failing)


async def _failures(runtime: Runtime, account_id: str) -> int:
    async with runtime.sessions() as session:
        row = await session.get(AccountCircuit, account_id)
        return row.consecutive_failures if row else 0


@pytest.fixture
async def two(runtime: Runtime, world: World) -> tuple[str, str]:
    async with runtime.sessions.begin() as session:
        first = await account_row(session, runtime, world.a.company)
        second = await account_row(session, runtime, world.a.company)
    return first.id, second.id


def _freeze(at: datetime) -> None:
    clock.set_source(lambda: at)


async def test_excluded_at_the_threshold_and_only_that_account(
    runtime: Runtime, two: tuple[str, str]
) -> None:
    bad, good = two
    assert await _failing(runtime, bad, good) == set()
    assert [await _record(runtime, bad, False, CONFIG) for _ in range(2)] == [False, False]
    assert await _excluded(runtime, bad, good) == set()
    assert await _failing(runtime, bad, good) == {bad}  # a success on it must close the circuit
    assert await _record(runtime, bad, False, CONFIG) is True
    assert await _excluded(runtime, bad, good) == {bad}
    assert await _excluded(runtime) == set()


async def test_a_success_resets_the_count(runtime: Runtime, two: tuple[str, str]) -> None:
    account, _ = two
    for ok in (False, False, True, False, False):
        await _record(runtime, account, ok, CONFIG)
    assert await _failures(runtime, account) == 2
    assert await _excluded(runtime, account) == set()


async def test_expiry_then_a_half_open_trial(runtime: Runtime, two: tuple[str, str]) -> None:
    account, _ = two
    start = clock.now()
    _freeze(start)
    for _ in range(3):
        await _record(runtime, account, False, CONFIG)
    _freeze(start + timedelta(seconds=59))
    assert await _excluded(runtime, account) == {account}
    _freeze(start + timedelta(seconds=61))
    assert await _excluded(runtime, account) == set()  # back for a trial
    # The trial fails: excluded again at once, not after three more failures.
    assert await _record(runtime, account, False, CONFIG) is True
    assert await _excluded(runtime, account) == {account}
    _freeze(start + timedelta(seconds=125))
    assert await _excluded(runtime, account) == set()
    await _record(runtime, account, True, CONFIG)  # the trial succeeds: circuit closed
    assert await _failures(runtime, account) == 0
    assert await _record(runtime, account, False, CONFIG) is False


async def test_parallel_failures_are_all_counted(runtime: Runtime, two: tuple[str, str]) -> None:
    first, second = two
    config = FailoverConfig(failure_threshold=100)
    calls = [_record(runtime, account, False, config) for account in (first, second) * 20]
    assert not any(await asyncio.gather(*calls))
    assert (await _failures(runtime, first), await _failures(runtime, second)) == (20, 20)
    await asyncio.gather(*(_record(runtime, first, False, config) for _ in range(80)))
    assert await _excluded(runtime, first, second) == {first}


@pytest.fixture
async def nmi_faults(sandboxes: str) -> AsyncIterator[str]:
    url = f"{sandboxes}/nmi/_sandbox/faults"
    yield url
    async with httpx.AsyncClient() as http:
        await http.post(url, json={"mode": "none"})


async def _check(runtime: Runtime) -> list[health.CheckResult]:
    return await health.check_accounts(
        runtime.sessions,
        runtime.keyring,
        runtime.http,
        timeouts=Timeouts(connect=1.0, read=2.0),
        suspend_below=40,
        money=history.money_windows,
    )


async def test_a_good_health_check_brings_an_excluded_account_back(
    runtime: Runtime, world: World, sandboxes: str, nmi_faults: str
) -> None:
    async with runtime.sessions.begin() as session:
        account = await account_row(session, runtime, world.a.company)
        account.base_url = f"{sandboxes}/nmi"
    for _ in range(3):
        await _record(runtime, account.id, False, CONFIG)
    assert await _excluded(runtime, account.id) == {account.id}

    # The gateway still fails: the check keeps the account out (and counts one more failure).
    async with httpx.AsyncClient() as http:
        injected = await http.post(nmi_faults, json={"mode": "error", "count": 1})
    assert injected.status_code == 200
    [result] = await _check(runtime)
    assert (result.verified, result.excluded, result.suspended) == (False, True, False)
    assert await _excluded(runtime, account.id) == {account.id}
    assert await _failures(runtime, account.id) == 4

    # The fault is spent: the next check reaches the gateway and closes the circuit.
    [result] = await _check(runtime)
    assert (result.verified, result.excluded) == (True, False)
    assert await _excluded(runtime, account.id) == set()
    assert await _failures(runtime, account.id) == 0
    async with runtime.sessions() as session:
        status = await session.scalar(
            select(MerchantAccount.status).where(MerchantAccount.id == account.id)
        )
    assert status == "active"
