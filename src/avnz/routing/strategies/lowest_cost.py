"""LOWEST_COST: the account whose fee table charges least for this transaction (base,
international, per brand); ties go to the failover order."""

import random
from collections.abc import Sequence

from avnz.routing.strategies.base import Candidate, Pick, StrategyConfig, StrategyContext, best


class LowestCost:
    name: str = "lowest_cost"
    config: type[StrategyConfig] = StrategyConfig

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: c.fee)
