"""CAPACITY: the account with the most headroom left, the tighter of its daily and monthly caps
after this transaction (an uncapped account has all its headroom)."""

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


class Capacity(Strategy):
    name: ClassVar[str] = "capacity"
    label: ClassVar[str] = "Capacity"

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: -c.headroom)


STRATEGY = Capacity()
