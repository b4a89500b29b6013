"""The stack's floor: the least a card payment can do on this stack, on this machine.

    .venv/bin/python bench/floor.py [--clients 16] [--seconds 20] [--workers 2]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432]

What `payments.py` measures for the product, measured here for a server that does only what no
payment can skip: FastAPI parses and validates the body, one INSERT + COMMIT opens the payment
(the product's engine and driver), the product's Stripe connector charges the sandbox over
loopback, one UPDATE + COMMIT settles it, and FastAPI answers JSON. No authentication,
idempotency, routing, rules, caps, vault, audit or events. Same sandboxes, same server (uvicorn
with `--workers` processes on PostgreSQL), same load generator, same clients and seconds, then
one client alone for the uncontended overhead.

The product cannot be faster than this on the same machine; the ratio of its payments/s to this
figure is the share of the machine's payment capacity its features leave. A script, not a test.
"""

import argparse
import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text

from avnz.core.logging import configure_logging
from avnz.db.engine import create_engine
from avnz.gateways import registry
from avnz.gateways.base import Card, ConnectorConfig, PaymentRequest
from payments import (
    BIN,
    Target,
    free_port,
    fresh_database,
    post_payments,
    report,
    run_sql,
    serving,
)

_OPEN = text(
    "INSERT INTO floor_payments (id, amount, currency, last4, status) "
    "VALUES (:id, :amount, :currency, :last4, 'pending')"
)
_SETTLE = text(
    "UPDATE floor_payments SET status = :status, gateway_id = :gateway_id WHERE id = :id"
)


class CardIn(BaseModel):
    number: str
    exp_month: int
    exp_year: int


class PaymentIn(BaseModel):
    amount: int
    currency: str
    description: str | None = None
    card: CardIn


def server_app() -> FastAPI:
    """The floor server (a factory uvicorn starts in each worker), configured by FLOOR_* vars."""
    configure_logging("WARNING")  # as the product's bench server runs
    engine = create_engine(os.environ["FLOOR_DATABASE_URL"])
    stripe = registry.gateway("stripe")
    config = ConnectorConfig(stripe.sandbox_credentials, base_url=os.environ["FLOOR_SANDBOX"])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as http:
            app.state.connector = stripe.connector(config, http)
            yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/v1/payments", status_code=201)
    async def pay(body: PaymentIn) -> dict[str, object]:
        payment_id = uuid.uuid4().hex
        opened = {"id": payment_id, "amount": body.amount, "currency": body.currency}
        async with engine.begin() as connection:
            await connection.execute(_OPEN, {**opened, "last4": body.card.number[-4:]})
        card = Card(body.card.number, body.card.exp_month, body.card.exp_year)
        request = PaymentRequest(body.amount, body.currency, payment_id, card=card)
        result = await app.state.connector.sale(request)
        status = "captured" if result.approved else "declined"
        async with engine.begin() as connection:
            settled = {"id": payment_id, "status": status, "gateway_id": result.transaction_id}
            await connection.execute(_SETTLE, settled)
        gateway = {"latency_ms": result.latency_ms}
        return {"id": payment_id, "status": status, "gateway": gateway}

    return app


_CREATE_TABLE = (
    "CREATE TABLE floor_payments (id VARCHAR(40) PRIMARY KEY, amount INTEGER NOT NULL,"
    " currency VARCHAR(3) NOT NULL, last4 VARCHAR(4) NOT NULL, status VARCHAR(20) NOT NULL,"
    " gateway_id VARCHAR(100))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    database_url = f"{args.postgres}/avnz_floor_{secrets.token_hex(4)}"
    target = Target("Floor, PostgreSQL", database_url, args.workers)
    sandbox_port, port = free_port(), free_port()
    sandboxes, base = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{port}"
    sandbox = [
        str(BIN / "avnz"),
        "sandbox",
        "all",
        "--port",
        str(sandbox_port),
        "--state",
        ":memory:",
    ]
    server = [
        str(BIN / "python"), "-m", "uvicorn", "--factory", "floor:server_app",
        "--app-dir", str(Path(__file__).parent), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(args.workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "FLOOR_DATABASE_URL": database_url, "FLOOR_SANDBOX": f"{sandboxes}/stripe"}
    with (
        serving(sandbox, {**os.environ, "AVNZ_LOG_LEVEL": "WARNING"}, f"{sandboxes}/stripe"),
        fresh_database(target),
    ):
        asyncio.run(run_sql(database_url, _CREATE_TABLE))
        with serving(server, env, f"{base}/health/live"):
            asyncio.run(post_payments(base, "none", args.clients, min(3.0, args.seconds)))
            load = asyncio.run(post_payments(base, "none", args.clients, args.seconds))
            alone = asyncio.run(post_payments(base, "none", 1, min(10.0, args.seconds)))
    report(target, load, {}, args.clients)
    report(Target("Floor, PostgreSQL, one client alone", None, args.workers), alone, {}, 1)


if __name__ == "__main__":
    main()
