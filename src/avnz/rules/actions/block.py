"""Block: decline the payment with a reason, for good or until a time (after it, no effect)."""

from typing import Literal

from pydantic import AwareDatetime

from avnz.rules.actions.base import ActionModel, BlockDecision, Directive, Reason
from avnz.rules.context import RuleContext


class Block(ActionModel):
    type: Literal["block"]
    reason: Reason
    until: AwareDatetime | None = None  # None: permanent


def apply(action: Block, directive: Directive, context: RuleContext) -> None:
    """Block the payment, unless the block has expired at the payment's moment."""
    if action.until is not None and context.moment >= action.until:
        return
    directive.block = BlockDecision(reason=action.reason, until=action.until)
