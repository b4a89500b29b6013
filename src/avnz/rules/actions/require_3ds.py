"""Require3DS: the payment must go through 3-D Secure authentication."""

from typing import Literal

from avnz.rules.actions.base import ActionModel, Directive, Reason
from avnz.rules.context import RuleContext


class Require3DS(ActionModel):
    type: Literal["require_3ds"]
    reason: Reason | None = None  # for people reading the rule; not sent anywhere


def apply(action: Require3DS, directive: Directive, context: RuleContext) -> None:
    """Ask for 3-D Secure."""
    directive.require_3ds = True
