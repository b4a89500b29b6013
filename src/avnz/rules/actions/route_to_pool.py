"""RouteToPool: send the payment to one of the company's pools, optionally with another strategy."""

from typing import Annotated, Literal

from pydantic import StringConstraints

from avnz.routing.models import PoolStrategy
from avnz.rules.actions.base import ActionModel, Directive
from avnz.rules.context import RuleContext

PoolId = Annotated[str, StringConstraints(pattern=r"^pool_[A-Za-z0-9]+$", max_length=40)]


class RouteToPool(ActionModel):
    type: Literal["route_to_pool"]
    pool_id: PoolId
    strategy: PoolStrategy | None = None  # overrides the pool's own strategy


def apply(action: RouteToPool, directive: Directive, context: RuleContext) -> None:
    """Route to the pool; replaces any earlier route (pool or account)."""
    directive.pool_id = action.pool_id
    directive.strategy = action.strategy.value if action.strategy else None
    directive.account_id = None
