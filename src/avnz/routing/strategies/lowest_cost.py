"""LOWEST_COST: the account whose fee table charges least for this transaction (base,
international, per brand), its rolling reserve counted as a cost (the money held back at the
pool's `reserve_cost_rate` a year); ties go to the failover order."""

import random
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from avnz.routing.accounts.fees import reserve_cost
from avnz.routing.strategies.base import (
    Candidate,
    Facts,
    Pick,
    Strategy,
    StrategyConfig,
    StrategyContext,
    best,
    settings_of,
)


class LowestCostConfig(StrategyConfig):
    reserve_cost_rate: Decimal = Field(
        default=Decimal("0.10"),
        ge=0,
        le=1,
        description="The yearly cost of money a rolling reserve holds back (0.10 = 10 %).",
    )


class LowestCost(Strategy):
    name: ClassVar[str] = "lowest_cost"
    label: ClassVar[str] = "Lowest cost"
    config: ClassVar[type[StrategyConfig]] = LowestCostConfig

    def refine(self, candidate: Candidate, facts: Facts, config: StrategyConfig) -> Candidate:
        """The candidate with its rolling reserve's cost at the pool's `reserve_cost_rate`."""
        rate = settings_of(config, LowestCostConfig).reserve_cost_rate
        return replace(candidate, reserve_cost=reserve_cost(facts.fees, facts.amount, rate))

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: c.cost)


STRATEGY = LowestCost()
