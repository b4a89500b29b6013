"""ADAPTIVE: Thompson sampling on approval for transactions like this one (same card brand,
country and amount band), with a little forced exploration.

Each account draws a plausible approval rate from its Beta(alpha, beta) posterior; the highest draw
wins, rounded to `resolution` so that near-equal accounts are separated by the lower fee, then
the lower latency. With probability `exploration` the pick is uniform instead, so an account
that fell behind keeps being measured. The pick's probability is exact for the exploration part
and estimated by replaying `propensity_rounds` draws (a normal approximation of each Beta,
cheap enough for the selection budget) for the Thompson part.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from pydantic import Field

from avnz.routing.strategies.base import (
    Candidate,
    Facts,
    Pick,
    Strategy,
    StrategyConfig,
    StrategyContext,
    settings_of,
)


class AdaptiveConfig(StrategyConfig):
    exploration: float = Field(default=0.05, ge=0, le=0.5)
    min_context_samples: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Below this many payments in the context, the account's overall counts apply.",
    )
    resolution: float = Field(default=0.01, gt=0, le=0.1)
    propensity_rounds: int = Field(default=16, ge=0, le=256)


def _winner(candidates: Sequence[Candidate], draws: Sequence[float], resolution: float) -> int:
    def key(index: int) -> tuple[float, int, float, int]:
        c = candidates[index]
        return (
            -round(draws[index] / resolution),
            c.fee,
            c.latency_ewma_ms if c.latency_ewma_ms is not None else math.inf,
            c.order,
        )

    return min(range(len(candidates)), key=key)


class Adaptive(Strategy):
    name: ClassVar[str] = "adaptive"
    label: ClassVar[str] = "Adaptive"
    config: ClassVar[type[StrategyConfig]] = AdaptiveConfig

    def refine(self, candidate: Candidate, facts: Facts, config: StrategyConfig) -> Candidate:
        """The posterior of approval for this transaction's context key, once the context has
        `min_context_samples` payments (before that, the account's overall counts)."""
        approved, refused = facts.context_approved, facts.context_refused
        if approved + refused < settings_of(config, AdaptiveConfig).min_context_samples:
            return candidate
        return replace(candidate, alpha=1.0 + approved, beta=1.0 + refused)

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        settings = settings_of(context.config, AdaptiveConfig)
        exploration = settings.exploration
        rounds = settings.propensity_rounds
        resolution = settings.resolution
        n = len(candidates)
        if rng.random() < exploration:
            index = rng.randrange(n)
        else:
            draws = [rng.betavariate(c.alpha, c.beta) for c in candidates]
            index = _winner(candidates, draws, resolution)
        return Pick(
            candidates[index], self._propensity(candidates, index, exploration, rounds, rng)
        )

    @staticmethod
    def _propensity(
        candidates: Sequence[Candidate],
        index: int,
        exploration: float,
        rounds: int,
        rng: random.Random,
    ) -> float:
        n = len(candidates)
        if n == 1:
            return 1.0
        if rounds == 0:
            return exploration / n + (1 - exploration) / n
        moments = []
        for c in candidates:
            total = c.alpha + c.beta
            mean = c.alpha / total
            moments.append((mean, math.sqrt(c.alpha * c.beta / (total * total * (total + 1)))))
        wins = 0
        for _ in range(rounds):
            draws = [rng.gauss(mean, sd) for mean, sd in moments]
            wins += _winner(candidates, draws, 1e-9) == index
        return exploration / n + (1 - exploration) * wins / rounds


STRATEGY = Adaptive()
