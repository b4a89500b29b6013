"""RouteToPool: send the payment to one of the company's pools, optionally with another strategy."""

from typing import Annotated, ClassVar

from pydantic import StringConstraints

from avnz.routing.strategies import StrategyName
from avnz.rules.actions.base import Action, ActionInput, Directive, Names, Target
from avnz.rules.context import RuleContext

PoolId = Annotated[str, StringConstraints(pattern=r"^pool_[A-Za-z0-9]+$", max_length=40)]


class RouteToPool(Action):
    NAME: ClassVar[str] = "route_to_pool"
    LABEL: ClassVar[str] = "Route to pool"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (
        ActionInput("pool_id", "pool", "Pool"),
        ActionInput("strategy", "strategy", "Strategy (default: the pool's)"),
    )
    pool_id: PoolId
    strategy: StrategyName | None = None  # overrides the pool's own strategy

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Route to the pool; replaces any earlier route (pool or account)."""
        directive.pool_id = self.pool_id
        directive.strategy = self.strategy
        directive.account_id = None

    def describe(self, names: Names) -> str:
        text = f"Route to pool {names.get(self.pool_id, self.pool_id)}"
        return text + (f" using {self.strategy}" if self.strategy else "")

    def targets(self) -> tuple[Target, ...]:
        return (Target("pool", self.pool_id, "pool_id"),)
