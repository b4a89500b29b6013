"""Block: decline the payment with a reason, for good or until a time (after it, no effect)."""

from typing import ClassVar

from pydantic import AwareDatetime

from avnz.rules.actions.base import (
    BLOCKED,
    Action,
    ActionInput,
    Directive,
    Names,
    Reason,
    Refusal,
)
from avnz.rules.context import RuleContext


class Block(Action):
    NAME: ClassVar[str] = "block"
    LABEL: ClassVar[str] = "Block"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (
        ActionInput("reason", "text", "Reason"),
        ActionInput("until", "datetime", "Until (UTC, empty: permanent)"),
    )
    reason: Reason
    until: AwareDatetime | None = None  # None: permanent

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Refuse the payment, unless the block has expired at the payment's moment."""
        if self.until is not None and context.moment >= self.until:
            return
        directive.refusals[BLOCKED] = Refusal(
            BLOCKED, f"blocked the payment: {self.reason}", until=self.until
        )

    def describe(self, names: Names) -> str:
        until = f" until {self.until.isoformat()}" if self.until else ""
        return f"Block: {self.reason}{until}"
