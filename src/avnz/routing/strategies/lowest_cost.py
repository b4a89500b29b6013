"""LOWEST_COST: the account whose fee table charges least for this transaction (base,
international, per brand), its rolling reserve counted as a cost (the money held back at the
pool's `reserve_cost_rate` a year); ties go to the failover order."""

import random
from collections.abc import Sequence
from decimal import Decimal

from pydantic import Field

from avnz.routing.strategies.base import Candidate, Pick, StrategyConfig, StrategyContext, best


class LowestCostConfig(StrategyConfig):
    reserve_cost_rate: Decimal = Field(
        default=Decimal("0.10"),
        ge=0,
        le=1,
        description="The yearly cost of money a rolling reserve holds back (0.10 = 10 %).",
    )


class LowestCost:
    name: str = "lowest_cost"
    config: type[StrategyConfig] = LowestCostConfig

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: c.cost)
