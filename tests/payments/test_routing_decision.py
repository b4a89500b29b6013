"""Routing decisions, kept on the payment and read at `GET /payments/{id}/routing` inside the
caller's scope; and the per-card retry budget.

The payments here are rows written directly, so the decisions are exactly the ones these tests
write (tests/payments/test_failover.py checks the ones the payment path writes itself)."""

from datetime import timedelta

import httpx
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.payments import card_budget
from avnz.payments.models import Payment, PaymentMethod
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.decisions.failover import FailoverConfig
from avnz.runtime import Runtime
from avnz.tenancy.models import Company, Role
from tests.factories import World
from tests.routing.factories import account_row
from tests.support.payments import API

# The budget read on its own; the payment path reads it alongside the card (`vault`).
_USED = select(card_budget.attempts_used(bindparam("fingerprint")))


async def _attempts_left(
    session: AsyncSession, *, company_id: str, fingerprint: str, config: FailoverConfig
) -> int:
    """How many more attempts the card may get now (0: refuse, or stop failing over)."""
    params = card_budget.window(company_id) | {"fingerprint": fingerprint}
    used = int(await session.scalar(_USED, params) or 0)
    return max(0, config.card_retry_budget - used)


async def _method(session: AsyncSession, company: Company, fingerprint: str) -> str:
    method = PaymentMethod(
        id=new_id("pm"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        fingerprint=fingerprint,
        bin="411111",
        last4="1111",
        brand="visa",
        card_type="credit",
        exp_month=12,
        exp_year=clock.now().year + 2,
    )
    session.add(method)
    await session.flush()
    return method.id


async def _payment(
    session: AsyncSession, account: MerchantAccount, method_id: str | None = None, **values: object
) -> str:
    payment = Payment(
        id=new_id("pay"),
        organization_id=account.organization_id,
        client_id=account.client_id,
        company_id=account.company_id,
        merchant_account_id=account.id,
        payment_method_id=method_id,
        provider="nmi",
        kind="sale",
        amount=1999,
        currency="USD",
        **{"status": "captured", **values},
    )
    session.add(payment)
    await session.flush()
    return payment.id


async def decide(session: AsyncSession, payment_id: str, accounts: list[str]) -> str:
    """A decision on `payment_id`, as the payment path keeps it: each account but the last
    failed before sending, the last approved."""
    payment = await session.get_one(Payment, payment_id)
    decision = new_id("rdec")
    attempts = [
        {
            "attempt": number,
            "account_id": account,
            "outcome": "approved" if number == len(accounts) else "error_before_send",
            "decline_reason": None if number == len(accounts) else "processing_error",
            "latency_ms": 12.5,
            "step": "stop" if number == len(accounts) else "try_next",
            "created_at": clock.now().isoformat(),
        }
        for number, account in enumerate(accounts, start=1)
    ]
    payment.routing = {
        "decision_id": decision,
        "strategy": "weighted",
        "pool_id": None,
        "probability": 0.25,
        "evaluation_ms": 0.123,
        "selected_account_id": accounts[0],
        "final_account_id": accounts[-1],
        "final_outcome": "captured",
        "completed_at": clock.now().isoformat(),
        "rule_id": None,
        "condition_results": None,
        "attempts": attempts,
    }
    payment.attempt_count = len(accounts)
    await session.flush()
    return decision


async def test_the_decision_shows_the_serving_account_and_the_failover(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    async with runtime.sessions.begin() as session:
        primary = await account_row(session, runtime, world.a.company)
        backup = await account_row(session, runtime, world.a.company)
        payment_id = await _payment(session, backup)
        undecided = await _payment(session, backup)
        decision = await decide(session, payment_id, [primary.id, backup.id])
    headers = world.headers(Role.COMPANY_USER)
    missing = await client.get(f"{API}/payments/{undecided}/routing", headers=headers)
    assert missing.status_code == 404

    response = await client.get(f"{API}/payments/{payment_id}/routing", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == decision and body["payment_id"] == payment_id
    assert (body["selected_account_id"], body["final_account_id"]) == (primary.id, backup.id)
    assert (body["failover_attempts"], body["failed_over"]) == (1, True)
    assert (body["strategy"], body["probability"], body["final_outcome"]) == (
        "weighted",
        0.25,
        "captured",
    )
    assert body["evaluation_time_ms"] == 0.123 and body["completed_at"] is not None
    assert [(a["attempt"], a["account_id"], a["outcome"], a["step"]) for a in body["attempts"]] == [
        (1, primary.id, "error_before_send", "try_next"),
        (2, backup.id, "approved", "stop"),
    ]
    assert body["attempts"][0]["decline_reason"] == "processing_error"


async def test_another_tenant_gets_404(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    async with runtime.sessions.begin() as session:
        account = await account_row(session, runtime, world.a.company)
        payment_id = await _payment(session, account)
        await decide(session, payment_id, [account.id])
    url = f"{API}/payments/{payment_id}/routing"
    mine = await client.get(url, headers=world.headers(Role.COMPANY_ADMIN))
    assert mine.json()["failed_over"] is False
    for role in (Role.COMPANY_ADMIN, Role.CLIENT_ADMIN):
        other = await client.get(url, headers=world.headers(role, agency="b"))
        assert other.status_code == 404, other.text
        assert other.json()["error"]["code"] == "resource_missing"


async def test_card_retry_budget(runtime: Runtime, world: World) -> None:
    """The issuer's declines on the card count, each of them; approvals, and failures that were
    ours (an account down, a crash settled as failed), do not."""
    config = FailoverConfig(card_retry_budget=6)
    company = world.a.company

    async def left(company_id: str = company.id) -> int:
        async with runtime.sessions() as session:
            return await _attempts_left(
                session, company_id=company_id, fingerprint="fp-1", config=config
            )

    async with runtime.sessions.begin() as session:
        account = await account_row(session, runtime, company)
        card = await _method(session, company, "fp-1")
        other_card = await _method(session, company, "fp-2")
        same_card_again = await _method(session, company, "fp-1")  # vaulted twice, one card
        await _payment(session, account, card, attempt_count=3)  # failed over, then approved
        await _payment(session, account, card, status="declined", issuer_declines=1)
        await _payment(session, account, same_card_again, status="declined", issuer_declines=1)
        await _payment(session, account, card, status="failed", attempt_count=2)  # ours
        await _payment(session, account, other_card, status="declined", issuer_declines=1)
        old = clock.now() - timedelta(hours=25)
        await _payment(session, account, card, status="declined", issuer_declines=1, created_at=old)
    assert await left() == 4
    async with runtime.sessions.begin() as session:
        # Declined by one issuer answer, failed over on it, approved by the next account.
        await _payment(session, account, card, issuer_declines=1, attempt_count=2)
    assert await left() == 3
    async with runtime.sessions.begin() as session:
        for _ in range(4):
            await _payment(session, account, card, status="declined", issuer_declines=1)
    assert await left() == 0  # never below zero
    assert await left(world.b.company.id) == 6


async def test_the_card_budget_enters_by_the_card(runtime: Runtime, world: World) -> None:
    """The budget's read finds the card's vaulted rows by company and fingerprint in an index,
    then their payments by method and time; it never walks the company's payments or cards,
    however many there are (PostgreSQL did, with the company matched on the payments)."""
    since = clock.now() - card_budget.WINDOW
    window = {"company": world.a.company.id, "fingerprint": "fp", "since": since}
    async with runtime.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if not sqlite:  # tables this small would be scanned whatever the indexes
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        expanded = _USED.compile(dialect=connection.dialect).construct_expanded_state(window)
        values = tuple(expanded.parameters[name] for name in expanded.positiontup or ())
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        rows = await connection.exec_driver_sql(explain + expanded.statement, values)
        plan = [str(row[-1]) for row in rows]
    if sqlite:  # e.g. SEARCH payment_methods USING INDEX ix_… (company_id=? AND fingerprint=?)
        cards = [line for line in plan if "payment_methods" in line]
        assert any("fingerprint=?" in line for line in cards), plan
    else:  # the fingerprint is an index condition, not a filter on the company's cards
        conditions = [line for line in plan if "Index Cond" in line]
        assert any("fingerprint" in line for line in conditions), plan
    assert any("ix_payments_method_created" in line for line in plan), plan
