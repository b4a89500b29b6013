"""FlagForReview: queue the payment for a person to look at, optionally holding the funds."""

from typing import ClassVar, Literal

from avnz.rules.actions.base import Action, ActionInput, Directive, Names, Reason, Review
from avnz.rules.context import RuleContext

SEVERITIES = ("low", "medium", "high", "critical")


class FlagForReview(Action):
    NAME: ClassVar[str] = "flag_for_review"
    LABEL: ClassVar[str] = "Flag for review"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (
        ActionInput("reason", "text", "Reason"),
        ActionInput("severity", "choice", "Severity", SEVERITIES),
        ActionInput("hold_funds", "bool", "Hold funds (authorize only)"),
    )
    reason: Reason
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    hold_funds: bool = False  # authorize only; capture once reviewed

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Set the review (a later flag replaces an earlier one)."""
        directive.review = Review(
            reason=self.reason, severity=self.severity, hold_funds=self.hold_funds
        )

    def describe(self, names: Names) -> str:
        return f"Flag for review ({self.severity}): {self.reason}"
