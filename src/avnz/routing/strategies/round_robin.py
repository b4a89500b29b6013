"""ROUND_ROBIN: the eligible accounts in failover order, one after the other.

The position is the pool's turn counter (`turns.py`), which selection advances for a strategy
that `needs_position`: in process by default, a Redis INCR when Redis is configured, so several
processes share one rotation."""

import random
from collections.abc import Sequence
from typing import ClassVar

from avnz.routing.strategies.base import Candidate, Pick, Strategy, StrategyContext


class RoundRobin(Strategy):
    name: ClassVar[str] = "round_robin"
    label: ClassVar[str] = "Round robin"
    needs_position: ClassVar[bool] = True

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        ordered = sorted(candidates, key=lambda c: c.order)
        return Pick(ordered[context.position % len(ordered)], 1.0)


STRATEGY = RoundRobin()
