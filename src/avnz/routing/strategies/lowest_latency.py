"""LOWEST_LATENCY: the account with the lowest exponentially weighted average gateway latency
over its recent payments; an account without any comes after those with one."""

import random
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from avnz.routing.strategies.base import (
    LATENCY_WEIGHT,
    Candidate,
    Pick,
    Strategy,
    StrategyConfig,
    StrategyContext,
    best,
)


class LatencyConfig(StrategyConfig):
    ewma_alpha: float = Field(
        default=LATENCY_WEIGHT,
        gt=0,
        le=1,
        description="Weight of the newest latency in the average.",
    )

    def latency_weight(self) -> float:
        return self.ewma_alpha


class LowestLatency(Strategy):
    name: ClassVar[str] = "lowest_latency"
    label: ClassVar[str] = "Lowest latency"
    config: ClassVar[type[StrategyConfig]] = LatencyConfig

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(
            candidates,
            lambda c: (c.latency_ewma_ms is None, c.latency_ewma_ms or 0.0),
        )


STRATEGY = LowestLatency()
