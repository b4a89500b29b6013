"""LEAST_LOAD: the account with the fewest payments in flight (still pending)."""

import random
from collections.abc import Sequence
from typing import ClassVar

from avnz.routing.strategies.base import (
    Candidate,
    Pick,
    Strategy,
    StrategyContext,
    best,
)


class LeastLoad(Strategy):
    name: ClassVar[str] = "least_load"
    label: ClassVar[str] = "Least load"

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: c.in_flight)


STRATEGY = LeastLoad()
