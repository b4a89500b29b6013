"""HIGHEST_SUCCESS: the account with the best recent approval rate, smoothed (approved + 1) /
(decided + 2) so that a new account starts at one half instead of 0 or 1."""

import random
from collections.abc import Sequence

from avnz.routing.strategies.base import Candidate, Pick, StrategyConfig, StrategyContext, best


class HighestSuccess:
    name: str = "highest_success"
    config: type[StrategyConfig] = StrategyConfig

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        return best(candidates, lambda c: -(c.approved + 1) / (c.decided + 2))
