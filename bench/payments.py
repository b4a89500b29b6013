"""Payments throughput and latency through a real server, beside its database's own limit.

    .venv/bin/python bench/payments.py [--clients 16] [--seconds 20] [--databases sqlite,postgresql]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432] [--workers 2]
        [--profile out.prof|out.html|out.pyisession|out.txt]

The four gateway sandboxes run on loopback with no added latency (`avnz sandbox all`). For each
database a fresh data dir (and, on PostgreSQL, a fresh database, dropped afterwards) is migrated
and loaded with the demo data; then, over the API, the demo brand gets two merchant accounts
aimed at those sandboxes, a weighted pool holding them, ten routing rules (nine that do not
match, walked first, and one that routes to the pool) and an API key. The server is `avnz serve`
on SQLite (one process); on PostgreSQL it is uvicorn with `--workers` processes over the app
factory (`server_app` below), since `avnz serve` has no workers option. `--clients` asyncio
tasks then post card payments, each with its own card and Idempotency-Key, for `--seconds`.

Printed: payments/s, latency p50/p95/p99, and the orchestration overhead (latency minus the
gateway's own time, the payment's `gateway.latency_ms`). Then, in the same database, the
baseline: one INSERT + COMMIT per request through the same driver from as many tasks, split over
as many processes as the server has; the ratio says how close the product is to that limit.
`--profile` runs the SQLite server under cProfile (`.prof`) or pyinstrument (`.html`,
`.pyisession`, `.txt`; a dev tool: `.venv/bin/pip install pyinstrument`).
A script, not a test.
"""

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
from sqlalchemy import make_url, text
from starlette.types import ASGIApp
from stdnum import luhn

from avnz.app import create_app
from avnz.config import get_settings
from avnz.core.logging import configure_logging
from avnz.db.engine import create_engine
from avnz.gateways import registry
from support import spread

BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"  # noqa: S105 (the throwaway demo users' password)
ADMIN = "company.admin@demo.avnz.io"
GATEWAYS = ("stripe", "authorize_net")  # both approve any valid card number, whatever the amount
UNLIMITED = "1000000/minute"
# The limits on payments per caller and per IP, raised for the bench server only.
BENCH_SETTINGS = {
    "AVNZ_RATE_LIMIT_PAYMENTS": UNLIMITED,
    "AVNZ_RATE_LIMIT_USER": UNLIMITED,
    "AVNZ_RATE_LIMIT_IP": UNLIMITED,
    "AVNZ_RATE_LIMIT_AUTH": UNLIMITED,
    "AVNZ_LOG_LEVEL": "WARNING",
}
PAYMENT = {"amount": 4999, "currency": "USD", "description": "Bench order"}
# Walked before the one that matches: country, amount, brand and risk conditions a US Visa
# payment of 49.99 fails.
MISSES: list[list[dict[str, Any]]] = [
    [{"type": "geography", "field": "country", "operator": "in", "value": ["JP", "AU", "BR"]}],
    [{"type": "amount", "field": "amount", "operator": "gt", "value": 900_000, "currency": "USD"}],
    [{"type": "payment_method", "field": "card_brand", "operator": "in", "value": ["amex"]}],
    [{"type": "customer", "field": "risk_level", "operator": "gte", "value": "critical"}],
    [{"type": "geography", "field": "country", "operator": "in", "value": ["DE", "FR", "GB"]}],
    [{"type": "amount", "field": "amount", "operator": "lt", "value": 100, "currency": "USD"}],
    [{"type": "payment_method", "field": "card_brand", "operator": "in", "value": ["discover"]}],
    [{"type": "geography", "field": "country", "operator": "in", "value": ["NG", "IN", "AE"]}],
    [{"type": "amount", "field": "amount", "operator": "between", "value": [100_000, 200_000],
      "currency": "USD"}],
]  # fmt: skip
MATCH = [
    {"type": "amount", "field": "amount", "operator": "between", "value": [1000, 10_000],
     "currency": "USD"},
]  # fmt: skip


@dataclass
class Target:
    """One database the bench runs against and how the server is started for it."""

    name: str
    database_url: str | None
    workers: int


@dataclass
class Load:
    latencies_ms: list[float] = field(default_factory=list)
    overheads_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    routes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, pool)
    seconds: float = 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in 60 s")


@contextmanager
def serving(command: list[str], env: dict[str, str], health_url: str) -> Iterator[None]:
    """Run `command` until the block ends; interrupted (SIGINT), so a profiler writes its file."""
    process = subprocess.Popen(command, env=env)  # noqa: S603 (our own executables)
    try:
        wait_until_up(health_url, process)
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_avnz(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "avnz"), *args], env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603


@contextmanager
def fresh_database(target: Target) -> Iterator[None]:
    """On PostgreSQL, a database of its own for the run, dropped afterwards."""
    if target.database_url is None:
        yield
        return
    server, _, name = target.database_url.rpartition("/")
    admin = server.replace("postgresql+asyncpg", "postgresql") + "/postgres"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def server_app() -> ASGIApp:
    """What `avnz serve` runs (logging configured from the environment, then the app), as a
    factory uvicorn can start in each of its worker processes."""
    configure_logging(get_settings().log_level)
    return create_app()


def server_command(target: Target, port: int, profile: Path | None) -> list[str]:
    if target.workers > 1:
        return [
            str(BIN / "python"), "-m", "uvicorn", "--factory", "payments:server_app",
            "--app-dir", str(Path(__file__).parent),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(target.workers),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    serve = [str(BIN / "avnz"), "serve", "--port", str(port)]
    if profile is None:
        return serve
    if profile.suffix == ".prof":  # cProfile's stats, for pstats: CPU time per function
        return [str(BIN / "python"), "-m", "cProfile", "-o", str(profile), *serve]
    renderer = {".html": "html", ".pyisession": "session"}.get(profile.suffix, "text")
    return [str(BIN / "pyinstrument"), "-r", renderer, "-o", str(profile), *serve]


async def setup(http: httpx.AsyncClient, sandboxes: str) -> str:
    """Accounts, pool, rules and an API key for the demo brand; returns the key. `http` is
    aimed at the server's `/api/v1` (over loopback, or in process over ASGI)."""
    login = await http.post("/auth/login", json={"email": ADMIN, "password": PASSWORD})
    auth = {"Authorization": f"Bearer {_ok(login)['access_token']}"}

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _ok(await http.post(path, json=body, headers=auth))

    accounts = [
        (
            await post(
                "/merchant-accounts",
                {
                    "name": f"Bench {gateway}",
                    "provider_type": gateway,
                    "credentials": dict(registry.GATEWAYS[gateway].sandbox_credentials),
                    "base_url": f"{sandboxes}/{gateway}",
                },
            )
        )["id"]
        for gateway in GATEWAYS
    ]
    pool = (await post("/account-pools", {"name": "Bench pool", "strategy": "weighted"}))["id"]
    for account in accounts:
        await post(f"/account-pools/{pool}/accounts", {"merchant_account_id": account})
    rules = [
        (conditions, {"type": "add_metadata", "metadata": {"miss": "1"}}) for conditions in MISSES
    ]
    rules.append((MATCH, {"type": "route_to_pool", "pool_id": pool}))
    for index, (conditions, action) in enumerate(rules):
        body = {"name": f"Bench rule {index}", "conditions": conditions, "actions": [action]}
        await post("/routing-rules", {**body, "priority": 10_000 + index * 10})
    permissions = ["transactions:write", "customers:write"]
    key = await post("/api-keys", {"name": "bench", "permissions": permissions})
    return str(key["secret"])


async def _setup_over_http(base: str, sandboxes: str) -> str:
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=30) as http:
        return await setup(http, sandboxes)


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    return dict(response.json())


async def post_payments(base: str, key: str, clients: int, seconds: float) -> Load:
    """`clients` tasks posting payments for `seconds`. Through aiohttp, not httpx: the load
    generator shares the 2 cores with the server, and httpx spent ~60 % of a core on the
    client side at 330 payments/s, aiohttp about a third of that (docs/performance.md)."""
    load = Load()
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Authorization": f"Bearer {key}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        f"{base}/api/v1/", connector=connector, headers=headers, timeout=timeout
    ) as http:
        deadline = time.monotonic() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(_client(http, load, deadline) for _ in range(clients)))
        load.seconds = time.perf_counter() - started
    return load


async def _client(http: aiohttp.ClientSession, load: Load, deadline: float) -> None:
    while time.monotonic() < deadline:
        begin = time.perf_counter()
        async with http.post(
            "payments",
            json={**PAYMENT, "card": new_card()},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ) as response:
            body = await response.read()
        elapsed_ms = (time.perf_counter() - begin) * 1000
        if response.status != 201:
            load.failures[f"HTTP {response.status} {body[:120].decode(errors='replace')}"] += 1
            continue
        payment = json.loads(body)
        if payment["status"] not in {"captured", "succeeded"}:
            load.failures[f"status {payment['status']}"] += 1
            continue
        load.latencies_ms.append(elapsed_ms)
        if routing := payment.get("routing"):  # the floor server (floor.py) routes nothing
            load.routes[(str(routing.get("rule_name")), str(routing.get("pool_id")))] += 1
        load.overheads_ms.append(elapsed_ms - float(payment["gateway"]["latency_ms"]))


def new_card() -> dict[str, Any]:
    """A Visa number of its own per payment, as real traffic has (the sandboxes approve any
    valid number but their decline triggers; one card over and over would make the per-card
    retry budget's lookup grow with the run)."""
    body = "4" + "".join(secrets.choice("0123456789") for _ in range(14))
    return {"number": body + luhn.calc_check_digit(body), "exp_month": 12, "exp_year": 2031}


def baseline(url: str, tasks: int, processes: int, seconds: float) -> dict[str, float]:
    """Rows/s of one INSERT + COMMIT per request, `tasks` tasks over `processes` processes,
    through the product's driver and, on PostgreSQL with pgbench installed, through pgbench."""
    asyncio.run(run_sql(url, "CREATE TABLE bench_baseline (id VARCHAR(40) PRIMARY KEY, "
                            "amount INTEGER NOT NULL, payload TEXT NOT NULL)"))  # fmt: skip
    try:
        share = [tasks // processes + (index < tasks % processes) for index in range(processes)]
        with ProcessPoolExecutor(processes) as pool:
            rows = sum(pool.map(_baseline_process, [url] * processes, share, [seconds] * processes))
        rates = {"same driver": rows / seconds}
        if not url.startswith("sqlite") and shutil.which("pgbench"):
            rates["pgbench"] = pgbench(url, tasks, processes, seconds)
        return rates
    finally:
        asyncio.run(run_sql(url, "DROP TABLE bench_baseline"))


def pgbench(url: str, clients: int, threads: int, seconds: float) -> float:
    """pgbench's transactions/s for the same one-row INSERT (each its own transaction)."""
    address = make_url(url)
    insert = (
        "INSERT INTO bench_baseline VALUES "
        "(md5(random()::text || clock_timestamp()::text), 4999, repeat('x', 200));\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(insert)
        script.flush()
        command = [
            "pgbench", "-n", "-c", str(clients), "-j", str(threads), "-T", str(int(seconds)),
            "-f", script.name, "-h", address.host or "127.0.0.1", "-p", str(address.port or 5432),
            "-U", address.username or "postgres", address.database or "postgres",
        ]  # fmt: skip
        env = {**os.environ, "PGPASSWORD": address.password or ""}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    tps = next(line for line in done.stdout.splitlines() if line.startswith("tps = "))
    return float(tps.split()[2])


async def run_sql(url: str, statement: str) -> None:
    """One statement in a transaction of its own, through the product's engine."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


def _baseline_process(url: str, tasks: int, seconds: float) -> int:
    return asyncio.run(_insert_for(url, tasks, seconds))


async def _insert_for(url: str, tasks: int, seconds: float) -> int:
    engine = create_engine(url)  # the product's engine: same driver, pool and SQLite pragmas
    deadline = time.monotonic() + seconds
    insert = text(
        "INSERT INTO bench_baseline (id, amount, payload) VALUES (:id, :amount, :payload)"
    )

    async def task() -> int:
        rows = 0
        while time.monotonic() < deadline:
            async with engine.begin() as connection:
                await connection.execute(
                    insert, {"id": secrets.token_hex(12), "amount": 4999, "payload": "x" * 200}
                )
            rows += 1
        return rows

    try:
        return sum(await asyncio.gather(*(task() for _ in range(tasks))))
    finally:
        await engine.dispose()


def report(target: Target, load: Load, baselines: dict[str, float], clients: int) -> None:
    payments = len(load.latencies_ms)
    rate = payments / load.seconds
    print(
        f"\n== {target.name}: {target.workers} worker(s), {clients} clients, {load.seconds:.1f} s"
    )
    print(f"  payments      {payments} approved, {sum(load.failures.values())} failed")
    for reason, count in sorted(load.failures.items()):
        print(f"    {count:6} x {reason}")
    if not payments:
        return
    for (rule, pool), count in load.routes.most_common():
        print(f"  routed        {count} by rule {rule!r} to pool {pool}")
    print(f"  throughput    {rate:8.1f} payments/s")
    print(f"  latency       {spread(load.latencies_ms)}")
    print(f"  overhead      {spread(load.overheads_ms)}  (latency - gateway.latency_ms)")
    for name, rows_per_second in baselines.items():
        print(f"  baseline      {rows_per_second:8.1f} INSERT+COMMIT/s ({name}, same database)")
        print(f"    ratio       {rate / rows_per_second:8.4f} payments per baseline insert")


def bench(target: Target, args: argparse.Namespace, sandboxes: str) -> None:
    with tempfile.TemporaryDirectory() as directory, fresh_database(target):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("AVNZ_")}
        env |= {"AVNZ_DATA_DIR": directory, "AVNZ_BASE_URL": base, **BENCH_SETTINGS}
        if target.database_url:
            env["AVNZ_DATABASE_URL"] = target.database_url
        run_avnz(env, "migrate")
        run_avnz(env, "demo", "--password", PASSWORD)
        print(f"\n{target.name} server settings: {BENCH_SETTINGS}")
        profile = args.profile if target.database_url is None else None
        with serving(server_command(target, port, profile), env, f"{base}/health/live"):
            key = asyncio.run(_setup_over_http(base, sandboxes))
            warm_up = asyncio.run(post_payments(base, key, args.clients, min(3.0, args.seconds)))
            load = asyncio.run(post_payments(base, key, args.clients, args.seconds))
        url = target.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'avnz.db'}"
        baselines = baseline(url, args.clients, target.workers, min(10.0, args.seconds))
        print(f"\n{target.name}: {len(warm_up.latencies_ms)} warm-up payments before the run")
        report(target, load, baselines, args.clients)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    parser.add_argument("--workers", type=int, default=2, help="Server processes on PostgreSQL.")
    parser.add_argument("--profile", type=Path, help="Profile the SQLite server into this file.")
    args = parser.parse_args()
    targets = {
        "sqlite": Target("SQLite", None, 1),
        "postgresql": Target(
            "PostgreSQL", f"{args.postgres}/avnz_bench_{secrets.token_hex(4)}", args.workers
        ),
    }
    port = free_port()
    sandboxes = f"http://127.0.0.1:{port}"
    command = [str(BIN / "avnz"), "sandbox", "all", "--port", str(port), "--state", ":memory:"]
    with serving(command, {**os.environ, "AVNZ_LOG_LEVEL": "WARNING"}, f"{sandboxes}/stripe"):
        for name in args.databases.split(","):
            bench(targets[name], args, sandboxes)


if __name__ == "__main__":
    main()
