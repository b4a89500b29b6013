"""Redis that hangs (accepts connections, never answers) or is down (the port is closed), and a
server asked to stop while a request hangs. `avnz serve` runs as a real process; Redis's
timeouts are short settings here (0.3 s) so the tests take seconds.

With Redis gone, login, payments and the dashboard still answer, each within its budget, rate
limits fall back to the process's own counters (one warning in the log), `/health/ready` says
`degraded` with the reason, and the Redis password never shows up anywhere."""

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from avnz.config import Settings
from avnz.gateways.sandbox.common import FaultMode
from avnz.tenancy.models import Role
from tests.factories import PASSWORD, World
from tests.reliability.support import Sandbox, black_hole, closed_port, running, server_env
from tests.routing.factories import create_account
from tests.support.payments import API, payment_body

SECRET = "redis-pw-Zq81x"  # in the Redis URL: must reach no log and no answer
REDIS_TIMEOUT = "0.3"
# Every answer, with Redis hanging or gone; the first pays the 0.3 s timeout once. Generous for
# a loaded 2-core machine; without the fallback these requests hang for good (or answer 500).
BUDGET = 2.5

FAULTS: dict[str, Callable[[], contextlib.AbstractContextManager[int]]] = {
    "black_hole": black_hole,
    "closed_port": closed_port,
}


def _env(settings: Settings, port: int, **overrides: str) -> dict[str, str]:
    return server_env(
        settings,
        AVNZ_REDIS_URL=f"redis://:{SECRET}@127.0.0.1:{port}/0",
        AVNZ_REDIS_TIMEOUT_SECONDS=REDIS_TIMEOUT,
        AVNZ_REDIS_CONNECT_TIMEOUT_SECONDS=REDIS_TIMEOUT,
        AVNZ_REDIS_RETRY_SECONDS="0.5",
        **overrides,
    )


async def _timed(request: Awaitable[httpx.Response]) -> httpx.Response:
    started = time.monotonic()
    response = await request
    elapsed = time.monotonic() - started
    what = f"{response.request.method} {response.request.url.path}"
    assert elapsed < BUDGET, f"{what} took {elapsed:.2f} s"
    return response


@pytest.fixture
async def nmi_account(
    client: httpx.AsyncClient, headers: dict[str, str], sandbox: Sandbox
) -> Sandbox:
    await create_account(client, headers, None, provider="nmi", base_url=sandbox.url)
    return sandbox


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_without_redis_login_payments_and_the_dashboard_answer_in_time(
    fault: str,
    world: World,
    headers: dict[str, str],
    nmi_account: Sandbox,
    settings: Settings,
    tmp_path: Path,
) -> None:
    email = world.a.users[Role.COMPANY_ADMIN].email
    with FAULTS[fault]() as port:
        env = _env(settings, port, AVNZ_RATE_LIMIT_AUTH="3/minute")
        with running(env, tmp_path / "serve.log") as [server]:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                login = await _timed(
                    http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
                )
                assert login.status_code == 200, login.text
                paid = await _timed(
                    http.post(f"{API}/payments", json=payment_body(), headers=headers)
                )
                assert (paid.status_code, paid.json()["status"]) == (201, "captured"), paid.text
                listed = await _timed(http.get(f"{API}/payments", headers=headers))
                assert [p["id"] for p in listed.json()["data"]] == [paid.json()["id"]]
                token = login.json()["access_token"]
                http.cookies.set("avnz_session", token)
                dashboard = await _timed(http.get("/"))
                assert dashboard.status_code == 200 and "<html" in dashboard.text.lower()

                await asyncio.sleep(1.2)  # the background probes (every 0.5 s) fail meanwhile
                ready = await _timed(http.get("/health/ready"))
                assert ready.status_code == 200, ready.text
                body = ready.json()
                assert body["status"] == "degraded"
                assert body["checks"]["database"] == "ok"
                assert body["checks"]["redis"].startswith("degraded: ")
                assert body["checks"]["redis"].endswith("rate limits are in process")
                assert SECRET not in ready.text

                # The limits still hold, counted in process: 3 sign-ins a minute from one address.
                wrong = {"email": email, "password": "not-the-password"}
                tries = [await _timed(http.post(f"{API}/auth/login", json=wrong)) for _ in range(3)]
                assert [t.status_code for t in tries] == [401, 401, 429]
    log = (tmp_path / "serve.log").read_text()
    assert log.count('"redis_unavailable"') == 1, log  # once per transition, not per request
    assert SECRET not in log


async def test_sigterm_stops_the_server_within_its_grace_period_whatever_hangs(
    headers: dict[str, str], nmi_account: Sandbox, settings: Settings, tmp_path: Path
) -> None:
    """A payment held by a gateway that never answers (60 s read timeout) and a Redis that never
    answers: SIGTERM still ends the process within AVNZ_SHUTDOWN_GRACE_SECONDS."""
    grace = 4.0
    with black_hole() as port:
        env = _env(
            settings,
            port,
            AVNZ_SHUTDOWN_GRACE_SECONDS=str(grace),
            AVNZ_GATEWAY_READ_TIMEOUT_SECONDS="60",
        )
        with running(env, tmp_path / "serve.log") as [server]:
            nmi_account.state.faults.set(FaultMode.HANG, count=1)
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                posted = asyncio.ensure_future(
                    http.post(f"{API}/payments", json=payment_body(), headers=headers)
                )
                deadline = time.monotonic() + 20
                while nmi_account.state.faults.mode is not FaultMode.NONE:  # the gateway has it
                    assert time.monotonic() < deadline, "the payment never reached the gateway"
                    await asyncio.sleep(0.05)
                started = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                await asyncio.to_thread(server.process.wait, 30)
                stopped_in = time.monotonic() - started
                with contextlib.suppress(httpx.TransportError):
                    await posted  # cut off: an error answer or a dropped connection
    assert stopped_in < grace + 1.0, f"stopped {stopped_in:.1f} s after SIGTERM"
