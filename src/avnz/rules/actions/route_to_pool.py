"""RouteToPool: send the payment to one of the company's pools, optionally with another strategy."""

from typing import Annotated, ClassVar

from pydantic import StringConstraints, field_validator

from avnz.routing.strategies import STRATEGIES
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
    strategy: str | None = None  # overrides the pool's own strategy

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, strategy: str | None) -> str | None:
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"{strategy!r} is not one of {', '.join(STRATEGIES)}")
        return strategy

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
