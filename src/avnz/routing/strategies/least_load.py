"""LEAST_LOAD: the account with the fewest payments in flight (still pending)."""

import random
from collections.abc import Sequence

from avnz.routing.strategies.base import Candidate, Pick, StrategyConfig, StrategyContext, best


class LeastLoad:
    name: str = "least_load"
    config: type[StrategyConfig] = StrategyConfig

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: c.in_flight)
