"""Cap pacing and reserve-aware cost. With `pace_daily_caps`, an account that has used more of
its daily cap than the share of the day gone by waits while another account can take the
payment; LOWEST_COST counts what an account's rolling reserve costs."""

from datetime import UTC, datetime
from typing import Any

from avnz.core import clock
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.decisions import snapshot
from avnz.runtime import Runtime
from tests.factories import World
from tests.routing.factories import pool_row
from tests.routing.test_plan import accounts, ctx, order, plan

CAP = {"daily_transaction_limit": 10}
SIX_AM = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # a quarter of the day gone


async def _use(runtime: Runtime, account: MerchantAccount, count: int) -> None:
    async with runtime.sessions.begin() as session:
        for _ in range(count):
            await usage.reserve(session, account, 1000, clock.now())


async def _paced_pool(
    runtime: Runtime, world: World, *members: MerchantAccount, **config: Any
) -> None:
    async with runtime.sessions.begin() as session:
        await pool_row(
            session,
            world.a.company,
            [(m, {"priority": i}) for i, m in enumerate(members)],
            strategy="lowest_cost",
            is_default=True,
            configuration={"pace_daily_caps": True, **config},
        )
    snapshot.clear_cache()


async def test_an_account_ahead_of_its_pace_waits_for_one_on_pace(
    runtime: Runtime, world: World
) -> None:
    clock.set_source(lambda: SIX_AM)
    early, steady = await accounts(
        runtime,
        world,
        {"limits": CAP, "fees": {"base_percentage": "1"}},
        {"limits": CAP, "fees": {"base_percentage": "2"}},
    )
    await _paced_pool(runtime, world, early, steady)
    assert order(await plan(runtime, ctx(world)))[0] == early.id  # cheapest, on pace (1/10)

    await _use(runtime, early, 3)  # after this payment 4/10 = 40 % used at 25 % of the day
    route = await plan(runtime, ctx(world))
    assert order(route) == [steady.id]
    assert route.skipped[early.id] == "the account is ahead of its daily cap's pace"


async def test_pacing_never_refuses_a_payment(runtime: Runtime, world: World) -> None:
    clock.set_source(lambda: SIX_AM)
    first, second = await accounts(runtime, world, {"limits": CAP}, {"limits": CAP})
    await _paced_pool(runtime, world, first, second)
    await _use(runtime, first, 5)
    await _use(runtime, second, 5)
    assert sorted(order(await plan(runtime, ctx(world)))) == sorted([first.id, second.id])


async def test_slack_and_the_hour_decide(runtime: Runtime, world: World) -> None:
    clock.set_source(lambda: SIX_AM)
    only, backup = await accounts(runtime, world, {"limits": CAP}, {})
    await _paced_pool(runtime, world, only, backup, pace_slack=0.2)
    await _use(runtime, only, 3)  # 40 % after this payment: within 25 % + 20 %
    assert order(await plan(runtime, ctx(world)))[0] == only.id
    clock.set_source(lambda: SIX_AM.replace(hour=1))  # 4 % of the day: now far ahead
    assert order(await plan(runtime, ctx(world)))[0] == backup.id


async def test_lowest_cost_counts_the_rolling_reserve(runtime: Runtime, world: World) -> None:
    # $100.00: A charges 2.5 % (250) and holds a 10 % reserve for 180 days (49 at 10 % a year);
    # B charges 2.9 % (290) and holds nothing. Without the reserve A wins, with it B does.
    reserved, plain = await accounts(
        runtime,
        world,
        {"fees": {"base_percentage": "2.5", "reserve_percentage": "10"}},
        {"fees": {"base_percentage": "2.9"}},
    )
    async with runtime.sessions.begin() as session:
        await pool_row(
            session,
            world.a.company,
            [(reserved, {"priority": 0}), (plain, {"priority": 1})],
            strategy="lowest_cost",
            is_default=True,
        )
    snapshot.clear_cache()
    assert order(await plan(runtime, ctx(world, amount=10_000)))[0] == plain.id
