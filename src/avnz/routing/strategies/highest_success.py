"""HIGHEST_SUCCESS: the account with the best recent approval rate, smoothed (approved + 1) /
(decided + 2) so that a new account starts at one half instead of 0 or 1."""

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


class HighestSuccess(Strategy):
    name: ClassVar[str] = "highest_success"
    label: ClassVar[str] = "Highest success"

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: -(c.approved + 1) / (c.decided + 2))


STRATEGY = HighestSuccess()
