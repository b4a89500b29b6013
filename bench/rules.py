"""Rule evaluation time: compiled conditions of 100 and 1,000 rules, first match in priority order.

    .venv/bin/python bench/rules.py [--transactions 5000] [--seed 7]

Rules are random mixes of geography, amount, time, customer, product and payment-method
conditions (one to four per rule, some in AND/OR groups), compiled once; each transaction walks
the rules in priority order until the first match. Most transactions match late or not at all,
the expensive case. Prints p50 / p99 / max per transaction in microseconds. A script, not a test.
"""

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from avnz.payments.cards import Brand
from avnz.rules.compiler import compile_conditions
from avnz.rules.conditions.base import Predicate
from avnz.rules.context import Customer, Product, RuleContext
from avnz.rules.schema import parse_conditions

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


def first_match(rules: list[tuple[int, Predicate]], context: RuleContext) -> int | None:
    """The id of the first rule (in priority order) whose conditions hold."""
    for rule_id, predicate in rules:
        if predicate(context):
            return rule_id
    return None


def run(count: int, transactions: int, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 (reproducible test data)
    started = time.perf_counter()
    rules = [
        (index, compile_conditions(parse_conditions({"conditions": _rule(rng)})))
        for index in range(count)
    ]
    compile_ms = (time.perf_counter() - started) * 1000
    print(f"{count:>5} rules: compile + validate {compile_ms:.1f} ms")
    for label, customer_type in (("mixed", "returning"), ("no match (all walked)", "blocked")):
        contexts = [_context(rng, customer_type) for _ in range(transactions)]
        for context in contexts[:200]:  # warm caches (zoneinfo, holidays, rates)
            first_match(rules, context)
        samples, matched = [], 0
        for context in contexts:
            begin = time.perf_counter_ns()
            found = first_match(rules, context)
            samples.append((time.perf_counter_ns() - begin) / 1000)
            matched += found is not None
        cuts = statistics.quantiles(samples, n=100)
        print(
            f"        {label:<22} p50 {cuts[49]:8.1f} µs  p99 {cuts[98]:8.1f} µs  "
            f"max {max(samples):8.1f} µs  (matched {matched}/{transactions})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for count in (100, 1000):
        run(count, args.transactions, args.seed)


if __name__ == "__main__":
    main()
