"""FlagForReview: queue the payment for a person to look at, optionally holding the funds."""

from typing import Literal

from avnz.rules.actions.base import ActionModel, Directive, Reason, Review
from avnz.rules.context import RuleContext


class FlagForReview(ActionModel):
    type: Literal["flag_for_review"]
    reason: Reason
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    hold_funds: bool = False  # authorize only; capture once reviewed


def apply(action: FlagForReview, directive: Directive, context: RuleContext) -> None:
    """Set the review (a later flag replaces an earlier one)."""
    directive.review = Review(
        reason=action.reason, severity=action.severity, hold_funds=action.hold_funds
    )
