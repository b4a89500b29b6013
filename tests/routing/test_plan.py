"""`plan_route`: the pool (named, else the company's default, else none), eligibility before the
strategy, the pick first and the rest in failover order, recorded stats driving the choice, and
a number of queries that does not grow with the pool."""

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from avnz.core import clock
from avnz.core.errors import NotFound
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.decisions import circuit_breaker, snapshot
from avnz.routing.decisions import service as decisions
from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.decisions.service import NoEligibleAccount, RoutingContext, plan_route
from avnz.routing.strategies import STRATEGIES
from avnz.runtime import Runtime
from tests.factories import World
from tests.routing.factories import account_row, payment_rows, pool_row


def ctx(world: World, **fields: Any) -> RoutingContext:
    values: dict[str, Any] = {
        "company_id": world.a.company.id,
        "amount": 1000,
        "currency": "USD",
        "card_brand": "visa",
        "card_country": "US",
    }
    return RoutingContext(**(values | fields))


async def accounts(runtime: Runtime, world: World, *specs: dict[str, Any]) -> list[MerchantAccount]:
    async with runtime.sessions.begin() as session:
        return [
            await account_row(session, runtime, world.a.company, name=f"acct {i}", **spec)
            for i, spec in enumerate(specs)
        ]


async def plan(runtime: Runtime, context: RoutingContext, **kwargs: Any) -> decisions.RoutePlan:
    async with runtime.sessions() as session:
        return await plan_route(session, context, **kwargs)


def order(route: decisions.RoutePlan) -> list[str]:
    return [planned.account.id for planned in route.accounts]


async def test_without_a_pool_the_company_accounts_in_creation_order(
    runtime: Runtime, world: World
) -> None:
    first, second, euro = await accounts(runtime, world, {}, {}, {"currency": "EUR"})
    route = await plan(runtime, ctx(world))
    assert (route.pool_id, route.strategy) == (None, "company_default")
    assert order(route) == [first.id, second.id]
    assert route.probability == 1.0
    assert euro.id in route.skipped


async def test_the_default_pool_is_used_and_the_rest_follow_by_priority(
    runtime: Runtime, world: World
) -> None:
    a, b, c, outside = await accounts(runtime, world, {}, {}, {}, {})
    async with runtime.sessions.begin() as session:
        pool = await pool_row(
            session,
            world.a.company,
            [(a, {"priority": 3}), (b, {"priority": 1}), (c, {"priority": 2, "weight": 0})],
            strategy="lowest_cost",
            is_default=True,
        )
    route = await plan(runtime, ctx(world))
    assert (route.pool_id, route.strategy) == (pool.id, "lowest_cost")
    # Equal fees: the tie goes to the failover order, so the pick is b, then c, then a.
    assert order(route) == [b.id, c.id, a.id]
    assert outside.id not in order(route)
    assert route.accounts[0].probability == 1.0
    assert route.accounts[1].probability is None
    assert route.record()["order"] == order(route)


async def test_a_named_pool_wins_over_the_default_and_must_exist(
    runtime: Runtime, world: World
) -> None:
    a, b = await accounts(runtime, world, {}, {})
    async with runtime.sessions.begin() as session:
        await pool_row(session, world.a.company, [(a, {})], is_default=True)
        named = await pool_row(session, world.a.company, [(b, {})])
        foreign = await pool_row(session, world.a.other_company, [])
    route = await plan(runtime, ctx(world, pool_id=named.id))
    assert order(route) == [b.id]
    with pytest.raises(NotFound):
        await plan(runtime, ctx(world, pool_id=foreign.id))


async def test_a_pinned_account_is_the_only_one(runtime: Runtime, world: World) -> None:
    a, b = await accounts(runtime, world, {}, {"limits": {"max_transaction_amount": 500}})
    async with runtime.sessions.begin() as session:
        await pool_row(session, world.a.company, [(a, {})], is_default=True)
    route = await plan(runtime, ctx(world, account_id=a.id))
    assert (route.strategy, order(route)) == ("pinned", [a.id])
    with pytest.raises(NoEligibleAccount, match="above the account's maximum"):
        await plan(runtime, ctx(world, account_id=b.id))


async def test_ineligible_accounts_are_dropped_before_the_strategy(
    runtime: Runtime, world: World
) -> None:
    ok, euro, small, no_fr, suspended, inactive, excluded, full = await accounts(
        runtime,
        world,
        {},
        {"currency": "EUR"},
        {"limits": {"max_transaction_amount": 500}},
        {"restrictions": {"blocked_countries": ["FR"]}},
        {},
        {},
        {},
        {"limits": {"daily_transaction_limit": 1}},
    )
    async with runtime.sessions.begin() as session:
        row = await session.get(MerchantAccount, suspended.id)
        assert row is not None
        row.status = AccountStatus.SUSPENDED
        members = [ok, euro, small, no_fr, suspended, excluded, full]
        await pool_row(
            session,
            world.a.company,
            [(m, {}) for m in members] + [(inactive, {"is_active": False})],
            strategy="round_robin",
            is_default=True,
        )
        await usage.reserve(session, full, 100, clock.now())
        tripped = FailoverConfig(failure_threshold=1, exclusion_seconds=60)
        assert await circuit_breaker.record_outcome(session, excluded.id, False, tripped)
    route = await plan(runtime, ctx(world, card_country="FR"))
    assert order(route) == [ok.id]
    assert route.failing == {excluded.id}  # a success there would have to close its circuit
    assert set(route.skipped) == {euro.id, small.id, no_fr.id, excluded.id, full.id}
    assert "daily cap" in route.skipped[full.id]
    assert "excluded" in route.skipped[excluded.id]
    with pytest.raises(NoEligibleAccount):
        await plan(runtime, ctx(world, currency="GBP"))


async def test_round_robin_rotates_through_plan_route(runtime: Runtime, world: World) -> None:
    a, b, c = await accounts(runtime, world, {}, {}, {})
    async with runtime.sessions.begin() as session:
        await pool_row(
            session,
            world.a.company,
            [(a, {}), (b, {}), (c, {})],
            strategy="round_robin",
            is_default=True,
        )
    firsts = [(await plan(runtime, ctx(world))).accounts[0].account.id for _ in range(6)]
    assert firsts == [a.id, b.id, c.id, a.id, b.id, c.id]


async def test_lowest_cost_uses_the_fee_table_for_this_card(runtime: Runtime, world: World) -> None:
    flat, amex_cheap = await accounts(
        runtime,
        world,
        {"fees": {"base_percentage": "2.0", "base_flat_fee": 30}},
        {
            "fees": {
                "base_percentage": "3.0",
                "base_flat_fee": 30,
                "card_specific_fees": {"amex": {"percentage": "1.0"}},
            }
        },
    )
    async with runtime.sessions.begin() as session:
        await pool_row(
            session,
            world.a.company,
            [(flat, {}), (amex_cheap, {})],
            strategy="lowest_cost",
            is_default=True,
        )
    assert order(await plan(runtime, ctx(world)))[0] == flat.id
    assert order(await plan(runtime, ctx(world, card_brand="amex")))[0] == amex_cheap.id


@pytest.mark.parametrize(
    ("strategy", "winner"),
    [("lowest_latency", "fast"), ("highest_success", "reliable")],
)
async def test_recorded_payments_drive_latency_and_success(
    runtime: Runtime, world: World, strategy: str, winner: str
) -> None:
    fast, reliable = await accounts(runtime, world, {}, {})
    async with runtime.sessions.begin() as session:
        await payment_rows(session, fast, ["captured"] * 5 + ["declined"] * 5, latency_ms=80.0)
        await payment_rows(session, reliable, ["captured"] * 9 + ["declined"], latency_ms=400.0)
        await pool_row(
            session,
            world.a.company,
            [(reliable, {"priority": 1}), (fast, {"priority": 0})],
            strategy=strategy,
            is_default=True,
        )
    route = await plan(runtime, ctx(world))
    assert route.accounts[0].account.id == {"fast": fast.id, "reliable": reliable.id}[winner]


@contextmanager
def in_flight_at(*account_ids: str) -> Iterator[None]:
    """Attempts of this process at these accounts' gateways, for as long as the block runs."""
    for account_id in account_ids:
        snapshot.in_flight.started(account_id)
    try:
        yield
    finally:
        for account_id in account_ids:
            snapshot.in_flight.ended(account_id)


async def test_least_load_counts_the_attempts_in_flight(runtime: Runtime, world: World) -> None:
    busy, idle = await accounts(runtime, world, {}, {})
    async with runtime.sessions.begin() as session:
        await payment_rows(session, idle, ["captured", "captured"])
        await pool_row(
            session,
            world.a.company,
            [(busy, {}), (idle, {})],
            strategy="least_load",
            is_default=True,
        )
    with in_flight_at(busy.id, busy.id, busy.id, idle.id):
        assert order(await plan(runtime, ctx(world)))[0] == idle.id
    with in_flight_at(idle.id):
        assert order(await plan(runtime, ctx(world)))[0] == busy.id


async def test_recent_stats_fold_one_query(runtime: Runtime, world: World) -> None:
    account, quiet = await accounts(runtime, world, {}, {})
    async with runtime.sessions.begin() as session:
        await payment_rows(session, account, ["captured"], latency_ms=100.0)
        await payment_rows(session, account, ["declined"], latency_ms=200.0, card_brand="amex")
        await payment_rows(session, account, ["pending"])  # not settled: not published
    with in_flight_at(account.id):
        async with runtime.sessions() as session:
            stats = await snapshot.recent_stats(
                session,
                "pool_x",
                [account.id, quiet.id],
                decisions.strategy_config(STRATEGIES["lowest_latency"], {"ewma_alpha": 0.5}),
                clock.now(),
                cached=False,
            )
    entry = stats[account.id]
    assert (entry.approved, entry.decided, entry.in_flight) == (1, 2, 1)
    assert entry.latency_ewma_ms == 150.0  # alpha 0.5 over 100 then 200
    assert entry.by_context == {"visa|US|1": [1, 0], "amex|US|1": [0, 1]}
    assert stats[quiet.id].decided == 0


@contextmanager
def count_queries(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_the_number_of_queries_does_not_grow_with_the_pool(
    runtime: Runtime, world: World
) -> None:
    small = await accounts(runtime, world, {}, {})
    large = await accounts(runtime, world, *([{"limits": {"daily_transaction_limit": 100}}] * 12))
    async with runtime.sessions.begin() as session:
        for member in (*small, *large):
            await payment_rows(session, member, ["captured", "declined"], latency_ms=90.0)
        small_pool = await pool_row(
            session, world.a.company, [(m, {}) for m in small], strategy="adaptive"
        )
        large_pool = await pool_row(
            session, world.a.company, [(m, {}) for m in large], strategy="adaptive"
        )
    counts = []
    for pool in (small_pool, large_pool):
        with count_queries(runtime) as statements:
            route = await plan(runtime, ctx(world, pool_id=pool.id), rng=random.Random(1))
        counts.append(len(statements))
        assert len(route.accounts) == (2 if pool is small_pool else 12)
    assert counts[0] == counts[1]
    assert counts[0] <= 6, counts
    # The recent stats are cached per pool: the next plan reads one query less.
    with count_queries(runtime) as statements:
        await plan(runtime, ctx(world, pool_id=large_pool.id))
    assert len(statements) == counts[1] - 1
