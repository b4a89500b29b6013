"""Rule evaluation time: the engine over 100 and 1,000 rules, and the rule tester's service.

    .venv/bin/python bench/rules.py [--transactions 5000] [--calls 200] [--seed 7]

Rules are random mixes of geography, amount, time, customer, product and payment-method
conditions (one to four per rule, some in AND/OR groups), compiled once into a rule set; each
transaction goes through `engine.decide` (first match in priority order, schedules, the matched
rule's actions). Most transactions match late or not at all, the expensive case. Then the
`/routing-rules/test` service against a temporary SQLite database holding the same rules.
Prints p50 / p99 / max in microseconds. A script, not a test.
"""

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from avnz.auth.scope import Principal
from avnz.core.cards import Brand
from avnz.db.engine import create_engine, session_factory
from avnz.db.migrate import upgrade
from avnz.rules import tester
from avnz.rules.cache import RuleCache
from avnz.rules.context import Customer, Product, RuleContext
from avnz.rules.engine import RuleSet, compile_rule, decide, evaluation_order
from avnz.rules.models import RoutingRule
from avnz.rules.schedule import zone_of
from avnz.rules.schemas import RuleTestRequest
from avnz.tenancy.models import Role
from support import bench_company, percentiles

COUNTRIES = ["US", "CA", "MX", "DE", "FR", "GB", "NO", "CH", "JP", "AU", "BR", "IN", "NG", "AE"]
SEGMENTS = ["loyal", "wholesale", "eu", "beta"]


def _leaf(rng: random.Random) -> dict[str, Any]:
    low = rng.randrange(0, 50000)
    choices: list[dict[str, Any]] = [
        {"type": "geography", "field": "country", "operator": "in",
         "value": rng.sample(COUNTRIES, 3)},
        {"type": "geography", "field": "region", "operator": "equals",
         "value": rng.choice(["NA", "EU", "APAC", "LATAM", "MEA"])},
        {"type": "geography", "field": "is_eea", "operator": "is", "value": rng.random() < 0.5},
        {"type": "amount", "field": "amount", "operator": "between",
         "value": [low, low + rng.randrange(100, 20000)],
         "currency": rng.choice(["USD", "EUR"])},
        {"type": "amount", "field": "amount", "operator": "gt", "value": low},
        {"type": "time", "field": "hour_of_day", "operator": "between",
         "value": [rng.randrange(24), rng.randrange(24)]},
        {"type": "time", "field": "is_weekend", "operator": "is", "value": rng.random() < 0.5},
        {"type": "customer", "field": "risk_level", "operator": "gte",
         "value": rng.choice(["medium", "high", "critical"])},
        {"type": "customer", "field": "in_segment", "operator": "in",
         "value": rng.sample(SEGMENTS, 2)},
        {"type": "product", "field": "is_subscription", "operator": "is", "value": True},
        {"type": "payment_method", "field": "card_brand", "operator": "in",
         "value": rng.sample(["visa", "mastercard", "amex", "discover"], 2)},
        {"type": "payment_method", "field": "bin_range", "operator": "between",
         "value": ["222100", "272099"]},
    ]  # fmt: skip
    return rng.choice(choices)


def _rule(rng: random.Random) -> list[dict[str, Any]]:
    conditions = [_leaf(rng) for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.3:
        children = [_leaf(rng) for _ in range(rng.randint(2, 3))]
        conditions.append({"type": "group", "logic": "OR", "children": children})
    # last: a guard the worst-case transactions fail, so they walk every rule to its end
    conditions.append({"type": "customer", "field": "type", "operator": "not_in",
                       "value": ["blocked"]})  # fmt: skip
    return conditions


def _context(rng: random.Random, customer_type: str) -> RuleContext:
    return RuleContext(
        amount=rng.randrange(100, 100000),
        currency=rng.choice(["USD", "USD", "EUR", "GBP"]),
        moment=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(525600)),
        country=rng.choice(COUNTRIES),
        card_brand=rng.choice([Brand.VISA, Brand.MASTERCARD, Brand.AMEX]),
        bin=rng.choice(["411111", "222300", "510000", "378282"]),
        customer=Customer(
            type=customer_type,
            risk_level=rng.choice(["low", "medium", "high"]),
            segments=frozenset(rng.sample(SEGMENTS, rng.randint(0, 2))),
        ),
        product=Product(is_subscription=rng.random() < 0.5),
        timezone="America/New_York",
    )


def _rows(rng: random.Random, count: int, company_id: str = "co_bench") -> list[RoutingRule]:
    """`count` stored rules, each tagging the payment (the cheapest action: the cost measured is
    the engine's)."""
    return [
        RoutingRule(
            id=f"rule_{index:05d}",
            company_id=company_id,
            organization_id="org_bench",
            client_id="cli_bench",
            name=f"Rule {index}",
            priority=index * 10,
            version=1,
            is_active=True,
            is_default=False,
            conditions=_rule(rng),
            actions=[{"type": "add_metadata", "metadata": {"rule": str(index)}}],
            schedule=None,
            ab_test=None,
        )
        for index in range(count)
    ]


def run(count: int, transactions: int, seed: int) -> None:
    """The compiled rule set's first match plus the matched rule's actions (`engine.decide`),
    what the payment path runs once the rule set is cached."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data)
    started = time.perf_counter()
    rows = _rows(rng, count)
    compiled = tuple(compile_rule(row) for row in evaluation_order(rows))
    rule_set = RuleSet("co_bench", 1, "America/New_York", zone_of("America/New_York"), compiled)
    compile_ms = (time.perf_counter() - started) * 1000
    print(f"{count:>5} rules: compile + validate {compile_ms:.1f} ms")
    for label, customer_type in (("mixed", "returning"), ("no match (all walked)", "blocked")):
        contexts = [_context(rng, customer_type) for _ in range(transactions)]
        for context in contexts[:200]:  # warm caches (zoneinfo, holidays, rates)
            decide(rule_set, context, transaction_key="pay_warm", customer_key=None)
        samples, matched = [], 0
        for index, context in enumerate(contexts):
            begin = time.perf_counter_ns()
            found = decide(rule_set, context, transaction_key=f"pay_{index}", customer_key=None)
            samples.append((time.perf_counter_ns() - begin) / 1000)
            matched += found is not None
        print(f"        {label:<22} {percentiles(samples)}  (matched {matched}/{transactions})")


async def run_tester(count: int, calls: int, seed: int) -> None:
    """`/routing-rules/test` as its service runs it, on a temporary SQLite database holding
    `count` rules: the cached rule set, the sample's context, first match and every rule's
    condition breakdown (the HTTP layer adds its own constant on top)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data)
    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}")
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions.begin() as session:
            company = await bench_company(session, "America/New_York")
            for row in _rows(rng, count, company.id):
                row.organization_id, row.client_id = company.organization_id, company.client_id
                session.add(row)
        principal = Principal.for_user(
            user_id="usr_bench",
            role=Role.COMPANY_ADMIN,
            organization_id=company.organization_id,
            client_id=company.client_id,
            company_id=company.id,
            email="bench@example.com",
        )
        cache = RuleCache()
        request = RuleTestRequest.model_validate(
            {"transaction": {"amount": 4999, "currency": "USD", "country": "DE"}}
        )
        samples = []
        for index in range(calls + 20):
            async with sessions() as session:
                begin = time.perf_counter_ns()
                await tester.test_rules(
                    session=session, principal=principal, cache=cache, data=request
                )
                if index >= 20:  # the first calls compile and warm up
                    samples.append((time.perf_counter_ns() - begin) / 1000)
        await engine.dispose()
    print(f"{count:>5} rules: /test service          {percentiles(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for count in (100, 1000):
        run(count, args.transactions, args.seed)
    for count in (100, 1000):
        asyncio.run(run_tester(count, args.calls, args.seed))


if __name__ == "__main__":
    main()
