"""RouteToAccount: send the payment to one merchant account of the company."""

from typing import Annotated, ClassVar

from pydantic import StringConstraints

from avnz.rules.actions.base import Action, ActionInput, Directive, Names, Target
from avnz.rules.context import RuleContext

AccountId = Annotated[str, StringConstraints(pattern=r"^ma_[A-Za-z0-9]+$", max_length=40)]


class RouteToAccount(Action):
    NAME: ClassVar[str] = "route_to_account"
    LABEL: ClassVar[str] = "Route to account"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (ActionInput("account_id", "account", "Account"),)
    account_id: AccountId

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Route to the account; replaces any earlier route (pool or account)."""
        directive.account_id = self.account_id
        directive.pool_id = None
        directive.strategy = None

    def describe(self, names: Names) -> str:
        return f"Route to account {names.get(self.account_id, self.account_id)}"

    def targets(self) -> tuple[Target, ...]:
        return (Target("account", self.account_id, "account_id"),)
