"""The `avnz` command as a user runs it: real processes, a real port, a fresh data directory."""

import asyncio
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from avnz import __version__
from avnz.gateways import registry
from avnz.gateways.base import ConnectorConfig, Outcome
from avnz.rules import demo as demo_rules

AVNZ = str(Path(sys.executable).parent / "avnz")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVNZ_")}
    return {**env, "AVNZ_DATA_DIR": str(data_dir)}


def _avnz(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AVNZ, *args],
        env=env or _env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def _running(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """`avnz *args` as a background process, stopped at the end of the block."""
    process = subprocess.Popen(
        [AVNZ, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited early: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    result = _avnz(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_version(tmp_path):
    result = _avnz(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"avnz {__version__}"


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = _avnz(tmp_path, "serve", "--port", str(_free_port()))
    assert result.returncode == 1
    assert "Run `avnz migrate` first" in result.stderr


def test_demo_is_idempotent_and_prints_logins(migrated):
    first = _avnz(migrated, "demo", "--password", "my-demo-password")
    second = _avnz(migrated, "demo", "--password", "my-demo-password")
    assert first.returncode == second.returncode == 0, first.stderr
    for email in (
        "org.admin@demo.avnz.io",
        "client.admin@demo.avnz.io",
        "company.user@demo2.avnz.io",
    ):
        assert email in first.stdout
    with sqlite3.connect(migrated / "avnz.db") as db:
        users = db.execute("select count(*), count(distinct email) from users").fetchone()
        clients = db.execute("select count(*) from clients").fetchone()[0]
        organizations = db.execute("select count(*) from organizations").fetchone()[0]
        payments = dict(db.execute("select provider, count(*) from payments group by 1").fetchall())
        in_future = db.execute(
            "select count(*) from payments where created_at > datetime('now', '+1 minute')"
        ).fetchone()[0]
        rules = db.execute(
            "select c.slug, r.name from routing_rules r join companies c on c.id = r.company_id"
            " order by c.slug, r.priority"
        ).fetchall()
        brands = dict(
            db.execute(
                "select c.slug, count(*) from payments p join companies c on c.id = p.company_id"
                " group by 1"
            ).fetchall()
        )
        pools = db.execute(
            "select c.slug, p.name, p.is_default, count(m.merchant_account_id)"
            " from account_pools p join companies c on c.id = p.company_id"
            " join pool_memberships m on m.pool_id = p.id group by 1, 2, 3 order by 1"
        ).fetchall()
        # Each payment counts in its own day's usage, not in the day the demo ran.
        used = db.execute(
            "select account_id, period_start, transaction_count from merchant_account_usage"
            " where period = 'day' and transaction_count > 0 order by 1, 2"
        ).fetchall()
        holding = db.execute(
            "select merchant_account_id, date(created_at), count(*) from payments"
            " where reserved_at is not null group by 1, 2 order by 1, 2"
        ).fetchall()
    assert used == holding and len({day for _, day, _ in used}) > 1
    assert users == (9, 9)
    # Each agency's first brand: a default pool of its four sandbox accounts, the rules (made
    # once, not twice), the routing ones among them, and its payments.
    gateways = len(registry.GATEWAYS)
    assert pools == [
        ("glow-skincare", "Default pool", 1, gateways),
        ("urban-coffee-club", "Default pool", 1, gateways),
    ]
    names = [rule["name"] for rule in demo_rules.DEMO_RULES] + [
        rule["name"] for rule in demo_rules.routing_rules("pool_x", {"stripe": "ma_x"})
    ]
    assert rules == [
        (slug, name) for slug in ("glow-skincare", "urban-coffee-club") for name in names
    ]
    assert brands == {"glow-skincare": 300, "urban-coffee-club": 60}
    assert (clients, organizations) == (2, 1)
    assert sum(payments.values()) == 360  # topped up once, not twice
    assert set(payments) == {"authorize_net", "nmi", "payflow", "stripe"}
    assert in_future == 0
    assert "360 demo payments went through the built-in sandboxes." in first.stdout


def test_serve_over_real_http_with_demo_login(migrated):
    assert _avnz(migrated, "demo", "--password", "served-password").returncode == 0
    port = _free_port()
    process = subprocess.Popen(
        [AVNZ, "serve", "--port", str(port)],
        env=_env(migrated),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/health/live", process)
        ready = httpx.get(f"{base}/health/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": "client.admin@demo2.avnz.io", "password": "served-password"},
        )
        assert login.status_code == 200
        token = login.json()["access_token"]
        clients = httpx.get(f"{base}/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
        assert [c["slug"] for c in clients.json()["data"]] == ["second-agency"]
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
        assert httpx.get(f"{base}/docs/assets/swagger-ui-bundle.js").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_demo_payments_are_refunded_by_the_server_after_a_restart(migrated):
    """`avnz demo` charges the sandboxes in its own process; the server started afterwards
    (and again after a restart) finds those payments in the data directory's sandbox file."""
    port = _free_port()
    env = {**_env(migrated), "AVNZ_BASE_URL": f"http://127.0.0.1:{port}"}  # where accounts point
    demo = _avnz(migrated, "demo", "--password", "refund-password", env=env)
    assert demo.returncode == 0, demo.stderr
    assert (migrated / "sandboxes.sqlite3").exists()
    with sqlite3.connect(migrated / "avnz.db") as db:
        chosen = dict(
            db.execute(
                "select provider, min(id) from payments where status = 'captured' "
                "and provider in ('stripe', 'nmi', 'payflow') group by provider"
            ).fetchall()
        )
        held = db.execute(
            "select min(id) from payments where status = 'authorized' and provider = 'nmi'"
        ).fetchone()[0]
    assert set(chosen) == {"stripe", "nmi", "payflow"}
    for restart in (False, True):
        base = f"http://127.0.0.1:{port}"
        with _running(env, "serve", "--port", str(port)) as process:
            _wait_until_up(f"{base}/health/live", process)
            login = httpx.post(
                f"{base}/api/v1/auth/login",
                json={"email": "org.admin@demo.avnz.io", "password": "refund-password"},
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            for provider, payment_id in chosen.items():
                refund = httpx.post(
                    f"{base}/api/v1/payments/{payment_id}/refunds",
                    json={"amount": 100},
                    headers={**headers, "Idempotency-Key": f"{provider}-{restart}"},
                    timeout=30,
                )
                assert refund.status_code == 201, (provider, refund.text)
                assert refund.json()["status"] == "succeeded"
            if held is not None and not restart:
                void = httpx.post(
                    f"{base}/api/v1/payments/{held}/void",
                    headers={**headers, "Idempotency-Key": "void-held"},
                    timeout=30,
                )
                assert void.status_code == 201, void.text


def test_sandbox_command_keeps_its_own_file(tmp_path):
    state = tmp_path / "mine.sqlite3"
    for _ in range(2):
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        args = ("sandbox", "nmi", "--port", str(port), "--state", str(state), "--controls")
        with _running(_env(tmp_path), *args) as process:
            _wait_until_up(f"{base}/_sandbox/transactions", process)
            form = {
                "security_key": registry.gateway("nmi").sandbox_credentials["security_key"],
                "type": "sale",
                "amount": "12.00",
                "ccnumber": "4111111111111111",
                "ccexp": "1030",
            }
            assert "response=1" in httpx.post(f"{base}/api/transact.php", data=form).text
            listed = httpx.get(f"{base}/_sandbox/transactions").json()
    assert len(listed) == 2  # the second run still knew the first one's sale
    assert not (tmp_path / "sandboxes.sqlite3").exists()  # not the file `avnz serve` uses


def test_worker_runs_recurring_housekeeping(migrated):
    process = subprocess.Popen(
        [AVNZ, "worker"],
        env=_env(migrated),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        row = None
        while time.monotonic() < deadline and row is None:
            time.sleep(0.3)
            with sqlite3.connect(migrated / "avnz.db") as db:
                row = db.execute(
                    "select status, attempts, last_error from jobs "
                    "where kind = 'auth.purge_expired' and due_at > datetime('now', '+30 minutes')"
                ).fetchone()
        assert row == ("queued", 0, None)  # ran once and rescheduled itself an hour ahead
    finally:
        process.terminate()
        process.wait(timeout=15)


def _verify(base_url: str, name: str) -> Outcome:
    gateway = registry.gateway(name)
    config = ConnectorConfig(credentials=gateway.sandbox_credentials, base_url=base_url)

    async def run() -> Outcome:
        async with httpx.AsyncClient() as http:
            return (await registry.connector(name, config, http).verify()).outcome

    return asyncio.run(run())


@pytest.mark.parametrize("served", ["all", "payflow"])
def test_sandbox_command_serves_the_gateways_on_loopback(tmp_path, served):
    port = _free_port()
    process = subprocess.Popen(
        [AVNZ, "sandbox", served, "--port", str(port), "--controls"],
        env=_env(tmp_path),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    names = sorted(registry.GATEWAYS) if served == "all" else [served]
    url = {name: f"{base}/{name}" if served == "all" else base for name in names}
    try:
        _wait_until_up(f"{url[names[0]]}/_sandbox/transactions", process)
        assert {name: _verify(url[name], name) for name in names} == dict.fromkeys(
            names, Outcome.APPROVED
        )
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=15)
    assert all(url[name] in out for name in names), out


def test_sandbox_command_refuses_an_unknown_gateway(tmp_path):
    result = _avnz(tmp_path, "sandbox", "paypal_classic")
    assert result.returncode == 2
    assert "unknown gateway 'paypal_classic'" in result.stderr
