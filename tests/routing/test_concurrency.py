"""Many reservations at once against one cap: exactly the cap succeeds, never one more.

Each attempt is its own session and transaction, as concurrent payment requests are. Runs on
SQLite by default and on PostgreSQL when AVNZ_TEST_DATABASE_URL points at one."""

import asyncio
import random

from sqlalchemy import select

from avnz.routing.accounts import usage
from avnz.routing.accounts.models import MerchantAccount, MerchantAccountUsage, Period
from avnz.runtime import Runtime
from tests.factories import World
from tests.routing.factories import account_row
from tests.routing.test_usage import WEDNESDAY

ATTEMPTS = 150


async def _attempt(runtime: Runtime, account_id: str, amount: int) -> bool:
    async with runtime.sessions() as session:
        account = await session.get(MerchantAccount, account_id)
        assert account is not None
        try:
            await usage.reserve(session, account, amount, WEDNESDAY)
        except usage.LimitExceeded:
            await session.rollback()
            return False
        await session.commit()
        return True


async def _day_bucket(runtime: Runtime, account_id: str) -> tuple[int, int]:
    async with runtime.sessions() as session:
        row = await session.scalar(
            select(MerchantAccountUsage).where(
                MerchantAccountUsage.account_id == account_id,
                MerchantAccountUsage.period == Period.DAY,
            )
        )
        assert row is not None
        return row.transaction_count, row.volume_minor


async def test_parallel_reservations_never_pass_the_daily_count_cap(
    runtime: Runtime, world: World
) -> None:
    cap = 37
    async with runtime.sessions.begin() as session:
        account = await account_row(
            session, runtime, world.a.company, limits={"daily_transaction_limit": cap}
        )
    results = await asyncio.gather(*(_attempt(runtime, account.id, 100) for _ in range(ATTEMPTS)))
    assert results.count(True) == cap
    assert await _day_bucket(runtime, account.id) == (cap, cap * 100)


async def test_parallel_reservations_never_pass_the_daily_volume_cap(
    runtime: Runtime, world: World
) -> None:
    cap = 25_000
    amounts = [random.randint(100, 900) for _ in range(ATTEMPTS)]  # 75,000 asked on average
    async with runtime.sessions.begin() as session:
        account = await account_row(
            session, runtime, world.a.company, limits={"daily_volume_limit": cap}
        )
    results = await asyncio.gather(*(_attempt(runtime, account.id, a) for a in amounts))
    won = [amount for amount, ok in zip(amounts, results, strict=True) if ok]
    count, volume = await _day_bucket(runtime, account.id)
    assert (count, volume) == (len(won), sum(won))
    assert volume <= cap
    # Nothing was refused while it still fitted: every loser was larger than what was left.
    lost = [amount for amount, ok in zip(amounts, results, strict=True) if not ok]
    assert lost and min(lost) > cap - volume
