"""Account selection time per strategy, for a pool of 20 accounts.

    .venv/bin/python bench/decisions.py [--rounds 20000]

First in process: each strategy's `choose` over 20 hand-built candidates (what the payment path
spends once the pool's snapshot is read). Then `plan_route` end to end against a temporary
SQLite database (pool, memberships, usage, circuits, cached stats): the database reads are
included there. Prints p50 / p99 / max in microseconds. A script, not a test.
"""

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.db.engine import create_engine, session_factory
from avnz.db.migrate import upgrade
from avnz.payments.models import Payment
from avnz.routing.accounts.models import AccountEnvironment, AccountStatus, MerchantAccount
from avnz.routing.decisions import service as decisions
from avnz.routing.pools.models import AccountPool, PoolMembership
from avnz.routing.strategies import STRATEGIES, Candidate, StrategyContext
from avnz.tenancy.models import Company
from support import bench_company, percentiles

POOL_SIZE = 20


def candidates(rng: random.Random) -> list[Candidate]:
    return [
        Candidate(
            account_id=f"ma_{index:02d}",
            weight=rng.randint(1, 100),
            priority=index,
            order=index,
            fee=rng.randint(20, 80),
            daily_headroom=rng.random(),
            monthly_headroom=rng.random(),
            in_flight=rng.randint(0, 5),
            latency_ewma_ms=rng.uniform(80, 900),
            approved=(approved := rng.randint(0, 180)),
            decided=approved + rng.randint(0, 20),
            alpha=1.0 + approved,
            beta=1.0 + rng.randint(0, 20),
        )
        for index in range(POOL_SIZE)
    ]


def in_process(rounds: int) -> None:
    rng = random.Random(1)  # noqa: S311 - a benchmark
    pool = candidates(rng)
    print(f"choose() over {POOL_SIZE} candidates, {rounds} rounds")
    for name, strategy in STRATEGIES.items():
        context = StrategyContext("pool_bench", 2500, "visa|US|1", strategy.config())
        samples = []
        for position in range(rounds):
            context = StrategyContext(
                "pool_bench", 2500, "visa|US|1", context.config, position=position
            )
            started = time.perf_counter()
            strategy.choose(pool, context, rng)
            samples.append((time.perf_counter() - started) * 1e6)
        print(f"  {name:16} {percentiles(samples)}")


async def through_plan_route(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions.begin() as session:
            company = await bench_company(session)
            accounts = [await _account(session, company, i) for i in range(POOL_SIZE)]
            pools = {}
            for strategy in STRATEGIES:
                pool = AccountPool(
                    id=new_id("pool"),
                    organization_id=company.organization_id,
                    client_id=company.client_id,
                    company_id=company.id,
                    name=strategy,
                    strategy=strategy,
                    configuration={},
                    failover_config={},
                )
                session.add(pool)
                await session.flush()
                for index, account in enumerate(accounts):
                    session.add(
                        PoolMembership(
                            id=new_id("pmem"),
                            pool_id=pool.id,
                            merchant_account_id=account.id,
                            weight=10 + index,
                            priority=index,
                        )
                    )
                pools[strategy] = pool.id
        print(f"plan_route() against SQLite, {POOL_SIZE} accounts, {rounds} rounds (stats cached)")
        for strategy, pool_id in pools.items():
            context = decisions.RoutingContext(
                company_id=company.id,
                amount=2500,
                currency="USD",
                card_brand="visa",
                card_country="US",
                pool_id=pool_id,
            )
            samples = []
            async with sessions() as session:
                for _ in range(rounds):
                    started = time.perf_counter()
                    await decisions.plan_route(session, context)
                    samples.append((time.perf_counter() - started) * 1e6)
            print(f"  {strategy:16} {percentiles(samples)}")
        await engine.dispose()


async def _account(session: AsyncSession, company: Company, index: int) -> MerchantAccount:
    account = MerchantAccount(
        id=new_id("ma"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name=f"MID {index}",
        tags=[],
        provider_type="nmi",
        environment=AccountEnvironment.SANDBOX,
        currency="USD",
        status=AccountStatus.ACTIVE,
        status_changed_at=clock.now(),
        limits={"daily_transaction_limit": 10_000, "monthly_volume_limit": 10**9},
        fees={"base_percentage": str(2 + index / 10), "base_flat_fee": 30},
        restrictions={},
        health_metrics={},
    )
    session.add(account)
    await session.flush()
    for n in range(50):
        session.add(
            Payment(
                id=new_id("pay"),
                organization_id=company.organization_id,
                client_id=company.client_id,
                company_id=company.id,
                merchant_account_id=account.id,
                provider="nmi",
                kind="sale",
                status="captured" if n % 5 else "declined",
                amount=1000 + n,
                currency="USD",
                card_brand="visa",
                card_country="US",
                gateway_latency_ms=100.0 + index * 10 + n % 7,
            )
        )
    await session.flush()
    return account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    in_process(args.rounds)
    asyncio.run(through_plan_route(max(args.rounds // 20, 200)))


if __name__ == "__main__":
    main()
