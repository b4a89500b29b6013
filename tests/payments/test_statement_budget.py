"""The payment path's budget (DESIGN.md, "The payment hot path"): at most 8 SQL statements in
at most 2 transactions per card payment, counted by the engine on SQLite and on PostgreSQL;
and the in-process configuration behind it stays exact: a change to an account, a pool or a
rule reaches the very next payment.

The payment counted here is a full one, as a brand's backend sends it: an API key, an
Idempotency-Key, a new card, a rule that matches, a pool with two accounts. Not counted, and
said where they are paid: what runs off the payment's transactions (the publication of settled
payments to routing and rules, held back while counting), the first payment of a day on an
account (its usage rows for the new period are created: two statements more), and the first
payment after a configuration change (the configuration is read again: three more)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from avnz.payments import publishing
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import create_account
from tests.rules.support import GERMANY, RULES, create_pool, create_rule
from tests.support.payments import API, payment_body

BUDGET_STATEMENTS = 8
BUDGET_TRANSACTIONS = 2
# What a transaction's bracketing sends on its own (BEGIN IMMEDIATE on SQLite): not statements.
BRACKETS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Seen:
    statements: list[str] = field(default_factory=list)
    # Statements SQLAlchemy compiled afresh: a warm payment's are all built once, so none should.
    compiled: list[str] = field(default_factory=list)
    commits: int = 0


@contextmanager
def counting(runtime: Runtime) -> Iterator[Seen]:
    seen = Seen()

    def statement(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, *_: Any) -> None:
        if sql.lstrip().upper().startswith(BRACKETS):
            return
        seen.statements.append(sql.split(None, 1)[0].upper() + " " + sql[:90])
        if context.cache_hit is not CacheStats.CACHE_HIT:
            seen.compiled.append(sql[:200])

    def commit(_conn: Any) -> None:
        seen.commits += 1

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


@pytest.fixture
def held_publication(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settled payments are published a minute later instead of just after: off the count."""
    monkeypatch.setattr(publishing, "SOON_SECONDS", 60.0)


async def _pay(client: httpx.AsyncClient, headers: dict[str, str], key: str) -> dict[str, Any]:
    body = payment_body(billing_address={"country": "DE"})
    response = await client.post(
        f"{API}/payments", json=body, headers={**headers, "Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    paid: dict[str, Any] = response.json()
    return paid


@pytest.fixture
async def routed(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str
) -> dict[str, Any]:
    """Two NMI accounts in a weighted default pool, and a rule for German cards that routes to
    it with a surcharge."""
    accounts = [
        await create_account(
            client, headers, None, name=name, provider="nmi", base_url=f"{sandboxes}/nmi"
        )
        for name in ("One", "Two")
    ]
    pool = await create_pool(client, headers, [a["id"] for a in accounts], strategy="round_robin")
    rule = await create_rule(
        client,
        headers,
        name="DE surcharge",
        conditions=[GERMANY],
        actions=[
            {"type": "route_to_pool", "pool_id": pool["id"]},
            {"type": "surcharge", "percent": 1.0},
        ],
    )
    return {"accounts": accounts, "pool": pool, "rule": rule}


async def _api_key(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    body = {
        "company_id": world.a.company.id,
        "name": "Shop backend",
        "permissions": ["transactions:write", "transactions:read"],
    }
    created = await client.post(
        f"{API}/api-keys", json=body, headers=world.headers(Role.COMPANY_ADMIN)
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['secret']}"}


async def test_a_card_payment_stays_within_the_budget(
    client: httpx.AsyncClient,
    world: World,
    runtime: Runtime,
    routed: dict[str, Any],
    held_publication: None,
) -> None:
    backend = await _api_key(client, world)
    # Fill this process's caches, and open today's usage rows of both accounts (round robin).
    for n in range(2):
        warm = await _pay(client, backend, f"budget-warm-{n}")
        assert warm["routing"]["rule_id"] == routed["rule"]["id"]
    with counting(runtime) as seen:
        paid = await _pay(client, backend, "budget-counted")
    assert paid["status"] == "captured" and paid["surcharge_amount"] > 0
    assert paid["routing"]["pool_id"] == routed["pool"]["id"]
    assert len(seen.statements) <= BUDGET_STATEMENTS, "\n".join(seen.statements)
    assert seen.commits <= BUDGET_TRANSACTIONS
    assert not seen.compiled, "\n".join(seen.compiled)


async def test_configuration_changes_reach_the_next_payment(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    routed: dict[str, Any],
    held_publication: None,
) -> None:
    """Cached, never stale: a suspended account, a changed rule and a pool's new strategy are
    what the next payment sees, without any cache being cleared."""
    one, two = routed["accounts"]
    await _pay(client, headers, "change-warm")
    suspended = await client.patch(
        f"{API}/merchant-accounts/{one['id']}", json={"status": "suspended"}, headers=headers
    )
    assert suspended.status_code == 200, suspended.text
    for n in range(4):
        assert (await _pay(client, headers, f"change-{n}"))["merchant_account_id"] == two["id"]

    rule = routed["rule"]
    changed = await client.patch(
        f"{RULES}/{rule['id']}",
        json={"actions": [{"type": "route_to_pool", "pool_id": routed["pool"]["id"]}]},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert (await _pay(client, headers, "change-rule"))["surcharge_amount"] == 0

    pool = routed["pool"]
    strategy = await client.patch(
        f"{API}/account-pools/{pool['id']}", json={"strategy": "round_robin"}, headers=headers
    )
    assert strategy.status_code == 200, strategy.text
    assert (await _pay(client, headers, "change-pool"))["routing"]["strategy"] == "round_robin"
