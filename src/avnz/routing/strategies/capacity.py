"""CAPACITY: the account with the most headroom left, the tighter of its daily and monthly caps
after this transaction (an uncapped account has all its headroom)."""

import random
from collections.abc import Sequence

from avnz.routing.strategies.base import Candidate, Pick, StrategyConfig, StrategyContext, best


class Capacity:
    name: str = "capacity"
    config: type[StrategyConfig] = StrategyConfig

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: -c.headroom)
