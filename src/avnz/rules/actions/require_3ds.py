"""Require3DS: the payment must go through 3-D Secure authentication."""

from typing import ClassVar

from avnz.rules.actions.base import Action, ActionInput, Directive, Names, Reason, Refusal
from avnz.rules.context import RuleContext

NEEDS_3DS = Refusal(
    "authentication_required",
    "requires 3-D Secure: authenticate the cardholder and send the result as `three_d_secure`.",
    lifted_by_authentication=True,
)


class Require3DS(Action):
    NAME: ClassVar[str] = "require_3ds"
    LABEL: ClassVar[str] = "Require 3-D Secure"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (ActionInput("reason", "text", "Note (optional)"),)
    reason: Reason | None = None  # for people reading the rule; not sent anywhere

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Refuse the payment unless it comes 3-D Secure authenticated."""
        directive.refusals[NEEDS_3DS.code] = NEEDS_3DS

    def describe(self, names: Names) -> str:
        return self.LABEL
