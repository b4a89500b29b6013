"""RouteToAccount: send the payment to one merchant account of the company."""

from typing import Annotated, Literal

from pydantic import StringConstraints

from avnz.rules.actions.base import ActionModel, Directive
from avnz.rules.context import RuleContext

AccountId = Annotated[str, StringConstraints(pattern=r"^ma_[A-Za-z0-9]+$", max_length=40)]


class RouteToAccount(ActionModel):
    type: Literal["route_to_account"]
    account_id: AccountId


def apply(action: RouteToAccount, directive: Directive, context: RuleContext) -> None:
    """Route to the account; replaces any earlier route (pool or account)."""
    directive.account_id = action.account_id
    directive.pool_id = None
    directive.strategy = None
