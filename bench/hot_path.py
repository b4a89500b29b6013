"""What one payment costs inside the process: the app called over ASGI, no HTTP server between.

    .venv/bin/python bench/hot_path.py [--payments 300] [--database sqlite|postgresql+asyncpg://...]
        [--profile out.prof|out.html|out.txt] [--show-sql]

Same world as `payments.py` (demo data, two sandbox accounts in a weighted pool, ten rules, an
API key), with the sandboxes on loopback (`avnz sandbox all`). Payments are posted one at a time
through `httpx.ASGITransport`, so the figures are the app's own: no uvicorn, no sockets on the
client side, no queueing. Printed: latency and overhead (latency minus the payment's
`gateway.latency_ms`) p50/p95/p99, the process's CPU time per payment (steadier than latency on
a shared machine), and per payment the SQL statements by kind and the
transactions committed, counted by engine events (`--show-sql` prints each one: run it with
`--payments 1` to read one payment's statements). `--profile` writes a cProfile (`.prof`) or
pyinstrument (`.html`, `.txt`; a dev tool: `.venv/bin/pip install pyinstrument`) profile of the
measured payments.
A script, not a test.
"""

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from avnz.app import create_app
from avnz.config import get_settings
from avnz.core.logging import configure_logging
from avnz.runtime import Runtime
from payments import (
    BENCH_SETTINGS,
    BIN,
    PASSWORD,
    PAYMENT,
    Target,
    free_port,
    fresh_database,
    new_card,
    run_avnz,
    serving,
    setup,
)
from support import spread


class SqlCounter:
    """Statements by their first word, and commits, seen by the engine while `counting`."""

    def __init__(self, show: bool) -> None:
        self.statements: Counter[str] = Counter()
        self.commits = 0
        self.counting = False
        self.show = show  # print each statement and commit as it runs

    def attach(self, runtime: Runtime) -> None:
        engine = runtime.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine, "commit", self._on_commit)

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.counting:
            self.statements[statement.lstrip().split(None, 1)[0].upper()] += 1
            if self.show:
                print("SQL:", " ".join(statement.split())[:230])

    def _on_commit(self, _conn: Any) -> None:
        if self.counting:
            if self.show:
                print("SQL: COMMIT")
            self.commits += 1


async def measure(payments: int, sandboxes: str, profile: Path | None, show_sql: bool) -> None:
    configure_logging(get_settings().log_level)  # as `avnz serve` does
    runtime = Runtime.build(get_settings())
    app = create_app(runtime=runtime)
    counter = SqlCounter(show_sql)
    counter.attach(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1") as http:
        key = await setup(http, sandboxes)
        http.headers["Authorization"] = f"Bearer {key}"
        for _ in range(20):  # warm: caches, compiled rules, statement cache, connections
            await pay(http)
        latencies, overheads = [], []
        counter.counting = True
        cpu_began = time.process_time()
        with profiling(profile):
            for _ in range(payments):
                begin = time.perf_counter()
                payment = await pay(http)
                elapsed = (time.perf_counter() - begin) * 1000
                latencies.append(elapsed)
                overheads.append(elapsed - float(payment["gateway"]["latency_ms"]))
        counter.counting = False
        cpu_ms = (time.process_time() - cpu_began) * 1000 / payments
    await runtime.close()
    print(f"\n{payments} payments, one at a time, in process")
    print(f"  latency   {spread(latencies)}")
    print(f"  overhead  {spread(overheads)}  (latency - gateway.latency_ms)")
    print(f"  CPU       {cpu_ms:.2f} ms per payment in this process (app and client)")
    per_payment = {kind: count / payments for kind, count in counter.statements.most_common()}
    total = sum(per_payment.values())
    kinds = ", ".join(f"{kind} {count:.1f}" for kind, count in per_payment.items())
    print(f"  SQL       {total:.1f} statements per payment ({kinds})")
    print(f"  commits   {counter.commits / payments:.1f} per payment")


async def pay(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post(
        "/payments",
        json={**PAYMENT, "card": new_card()},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    if response.status_code != 201:
        raise SystemExit(f"payment refused: {response.status_code} {response.text[:300]}")
    return dict(response.json())


def profiling(profile: Path | None) -> Any:
    if profile is None:
        return nullcontext()
    if profile.suffix == ".prof":
        import cProfile

        class CProfiled:
            def __enter__(self) -> None:
                self.profiler = cProfile.Profile()
                self.profiler.enable()

            def __exit__(self, *_: object) -> None:
                self.profiler.disable()
                self.profiler.dump_stats(profile)

        return CProfiled()
    from pyinstrument import Profiler  # a dev tool, imported only when asked for

    class Profiled:
        def __enter__(self) -> None:
            self.profiler = Profiler(async_mode="disabled")
            self.profiler.start()

        def __exit__(self, *_: object) -> None:
            self.profiler.stop()
            if profile.suffix == ".html":
                profile.write_text(self.profiler.output_html())
            else:
                profile.write_text(self.profiler.output_text(show_all=False))

    return Profiled()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--show-sql", action="store_true", help="Print every measured statement.")
    args = parser.parse_args()
    database_url = (
        None if args.database == "sqlite" else f"{args.database}/avnz_hot_{secrets.token_hex(4)}"
    )
    port = free_port()
    sandboxes = f"http://127.0.0.1:{port}"
    command = [str(BIN / "avnz"), "sandbox", "all", "--port", str(port), "--state", ":memory:"]
    with (
        serving(command, {**os.environ, "AVNZ_LOG_LEVEL": "WARNING"}, f"{sandboxes}/stripe"),
        tempfile.TemporaryDirectory() as directory,
        fresh_database(Target("bench", database_url, 1)),
    ):
        env = {key: value for key, value in os.environ.items() if not key.startswith("AVNZ_")}
        env |= {"AVNZ_DATA_DIR": directory, "AVNZ_BASE_URL": "http://bench", **BENCH_SETTINGS}
        env |= {"AVNZ_RUN_EMBEDDED_WORKER": "false"}
        if database_url:
            env["AVNZ_DATABASE_URL"] = database_url
        run_avnz(env, "migrate")
        run_avnz(env, "demo", "--password", PASSWORD)
        os.environ.clear()
        os.environ.update(env)
        get_settings.cache_clear()
        asyncio.run(measure(args.payments, sandboxes, args.profile, args.show_sql))


if __name__ == "__main__":
    sys.exit(main())
