"""WEIGHTED: random, in proportion to the membership weights. A weight of 0 keeps an account for
failover only; when every weight is 0 the choice is uniform."""

import random
from collections.abc import Sequence
from typing import ClassVar

from avnz.routing.strategies.base import Candidate, Pick, Strategy, StrategyContext


class Weighted(Strategy):
    name: ClassVar[str] = "weighted"
    label: ClassVar[str] = "Weighted"

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        total = sum(c.weight for c in candidates)
        if total <= 0:
            return Pick(candidates[rng.randrange(len(candidates))], 1 / len(candidates))
        point = rng.random() * total
        for candidate in candidates:
            point -= candidate.weight
            if point < 0:
                return Pick(candidate, candidate.weight / total)
        last = next(c for c in reversed(candidates) if c.weight > 0)  # float rounding at the end
        return Pick(last, last.weight / total)


STRATEGY = Weighted()
