"""Load-balancing strategies, one module each, found by name in `STRATEGIES`."""

from avnz.routing.strategies.adaptive import Adaptive
from avnz.routing.strategies.base import Candidate, Pick, Strategy, StrategyConfig, StrategyContext
from avnz.routing.strategies.capacity import Capacity
from avnz.routing.strategies.highest_success import HighestSuccess
from avnz.routing.strategies.least_load import LeastLoad
from avnz.routing.strategies.lowest_cost import LowestCost
from avnz.routing.strategies.lowest_latency import LowestLatency
from avnz.routing.strategies.round_robin import RoundRobin
from avnz.routing.strategies.weighted import Weighted

STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Weighted(),
        RoundRobin(),
        LeastLoad(),
        Capacity(),
        LowestCost(),
        LowestLatency(),
        HighestSuccess(),
        Adaptive(),
    )
}

__all__ = ["STRATEGIES", "Candidate", "Pick", "Strategy", "StrategyConfig", "StrategyContext"]
