"""Each strategy on hand-built candidates: distributions within tolerance, exact rotation, the
right account for capacity, cost, latency and success, and ADAPTIVE learning the better one."""

import random
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from avnz.routing.strategies import STRATEGIES, Candidate, StrategyConfig, StrategyContext
from avnz.routing.strategies.adaptive import AdaptiveConfig
from avnz.routing.strategies.turns import LocalCounter


def candidate(account_id: str, order: int = 0, **fields: Any) -> Candidate:
    values: dict[str, Any] = {
        "account_id": account_id,
        "weight": 100,
        "priority": order,
        "order": order,
        "fee": 30,
        "daily_headroom": None,
        "monthly_headroom": None,
        "in_flight": 0,
        "latency_ewma_ms": None,
        "approved": 0,
        "decided": 0,
        "alpha": 1.0,
        "beta": 1.0,
    }
    return Candidate(**(values | fields))


def context(position: int = 0, config: StrategyConfig | None = None) -> StrategyContext:
    return StrategyContext(
        pool_id="pool_x",
        amount=1000,
        context_key="visa|US|1",
        config=config or StrategyConfig(),
        position=position,
    )


def test_the_built_in_strategies_are_found_in_their_modules() -> None:
    assert list(STRATEGIES) == [
        "adaptive",
        "capacity",
        "highest_success",
        "least_load",
        "lowest_cost",
        "lowest_latency",
        "round_robin",
        "weighted",
    ]
    assert all(s.label and len(s.summary) > 20 for s in STRATEGIES.values())
    assert [s.name for s in STRATEGIES.values() if s.needs_position] == ["round_robin"]


def test_weighted_follows_the_weights_within_tolerance() -> None:
    pool = [
        candidate("a", 0, weight=60),
        candidate("b", 1, weight=30),
        candidate("c", 2, weight=10),
    ]
    rng = random.Random(7)
    picks = [STRATEGIES["weighted"].choose(pool, context(), rng) for _ in range(10_000)]
    counts = Counter(pick.candidate.account_id for pick in picks)
    # 4 standard deviations of a binomial(10 000, p): about 200 for p = 0.6.
    assert abs(counts["a"] - 6000) < 200
    assert abs(counts["b"] - 3000) < 190
    assert abs(counts["c"] - 1000) < 120
    assert {p.candidate.account_id: p.probability for p in picks} == {"a": 0.6, "b": 0.3, "c": 0.1}


def test_weighted_never_picks_a_zero_weight_unless_all_are_zero() -> None:
    rng = random.Random(1)
    standby = [candidate("a", 0, weight=0), candidate("b", 1, weight=5)]
    assert {
        STRATEGIES["weighted"].choose(standby, context(), rng).candidate.account_id
        for _ in range(500)
    } == {"b"}
    zeros = [candidate("a", 0, weight=0), candidate("b", 1, weight=0)]
    picks = [STRATEGIES["weighted"].choose(zeros, context(), rng) for _ in range(500)]
    assert {p.candidate.account_id for p in picks} == {"a", "b"}
    assert {p.probability for p in picks} == {0.5}


async def test_round_robin_rotates_exactly_in_failover_order() -> None:
    counter = LocalCounter()
    pool = [candidate("b", 1), candidate("a", 0), candidate("c", 2)]
    chosen = []
    for _ in range(7):
        position = await counter.next("pool_x")
        pick = STRATEGIES["round_robin"].choose(pool, context(position), random.Random(0))
        chosen.append(pick.candidate.account_id)
        assert pick.probability == 1.0
    assert chosen == ["a", "b", "c", "a", "b", "c", "a"]
    assert await counter.next("pool_y") == 0  # each pool has its own position


def test_least_load_picks_the_fewest_in_flight() -> None:
    pool = [
        candidate("a", 0, in_flight=4),
        candidate("b", 1, in_flight=1),
        candidate("c", 2, in_flight=3),
    ]
    assert (
        STRATEGIES["least_load"].choose(pool, context(), random.Random()).candidate.account_id
        == "b"
    )


def test_capacity_picks_the_most_headroom_of_daily_and_monthly() -> None:
    pool = [
        candidate("a", 0, daily_headroom=0.9, monthly_headroom=0.1),  # the month is nearly full
        candidate("b", 1, daily_headroom=0.5, monthly_headroom=0.6),
        candidate("c", 2, daily_headroom=0.3, monthly_headroom=None),
    ]
    assert (
        STRATEGIES["capacity"].choose(pool, context(), random.Random()).candidate.account_id == "b"
    )
    uncapped = [*pool, candidate("d", 3)]
    assert (
        STRATEGIES["capacity"].choose(uncapped, context(), random.Random()).candidate.account_id
        == "d"
    )


def test_lowest_cost_picks_the_cheapest_and_breaks_ties_by_priority() -> None:
    pool = [candidate("a", 0, fee=40), candidate("b", 1, fee=25), candidate("c", 2, fee=31)]
    assert (
        STRATEGIES["lowest_cost"].choose(pool, context(), random.Random()).candidate.account_id
        == "b"
    )
    tie = [candidate("a", 1, fee=25), candidate("b", 0, fee=25)]
    assert (
        STRATEGIES["lowest_cost"].choose(tie, context(), random.Random()).candidate.account_id
        == "b"
    )


def test_lowest_latency_prefers_measured_fast_accounts() -> None:
    pool = [
        candidate("a", 0, latency_ewma_ms=None),
        candidate("b", 1, latency_ewma_ms=180.0),
        candidate("c", 2, latency_ewma_ms=95.5),
    ]
    assert (
        STRATEGIES["lowest_latency"].choose(pool, context(), random.Random()).candidate.account_id
        == "c"
    )


def test_highest_success_picks_the_best_smoothed_rate() -> None:
    pool = [
        candidate("a", 0, approved=1, decided=1),  # 100 % of one payment: (1+1)/(1+2) = 0.67
        candidate("b", 1, approved=90, decided=100),  # 0.89
        candidate("c", 2, approved=70, decided=100),
    ]
    assert (
        STRATEGIES["highest_success"].choose(pool, context(), random.Random()).candidate.account_id
        == "b"
    )


def test_adaptive_converges_to_the_account_that_approves_more() -> None:
    rates = {"good": 0.9, "bad": 0.5}
    pool = {"good": candidate("good", 1), "bad": candidate("bad", 0)}
    rng, outcomes = random.Random(42), random.Random(43)
    config = AdaptiveConfig()
    chosen = []
    for _ in range(2000):
        pick = STRATEGIES["adaptive"].choose(list(pool.values()), context(config=config), rng)
        account = pick.candidate.account_id
        chosen.append(account)
        approved = outcomes.random() < rates[account]
        c = pool[account]
        pool[account] = replace(c, alpha=c.alpha + approved, beta=c.beta + (not approved))
        assert 0 < pick.probability <= 1
    assert Counter(chosen[-500:])["good"] >= 400


def test_adaptive_keeps_exploring_and_reports_its_probability() -> None:
    strong = candidate("strong", 0, alpha=500.0, beta=10.0)
    weak = candidate("weak", 1, alpha=10.0, beta=500.0)
    rng = random.Random(5)
    picks = [
        STRATEGIES["adaptive"].choose(
            [strong, weak], context(config=AdaptiveConfig(exploration=0.1)), rng
        )
        for _ in range(4000)
    ]
    weak_share = sum(p.candidate.account_id == "weak" for p in picks) / len(picks)
    assert 0.03 < weak_share < 0.08  # exploration 0.1, uniform over 2: 5 %
    weak_probabilities = {p.probability for p in picks if p.candidate.account_id == "weak"}
    assert weak_probabilities and all(p == pytest.approx(0.05) for p in weak_probabilities)


def test_adaptive_breaks_near_ties_by_fee() -> None:
    cheap = candidate("cheap", 1, alpha=5000.0, beta=5000.0, fee=10)
    dear = candidate("dear", 0, alpha=5000.0, beta=5000.0, fee=90)
    rng = random.Random(3)
    config = AdaptiveConfig(exploration=0.0, resolution=0.1)
    picks = Counter(
        STRATEGIES["adaptive"]
        .choose([dear, cheap], context(config=config), rng)
        .candidate.account_id
        for _ in range(200)
    )
    assert picks["cheap"] == 200
