"""Discount: a percent of the amount and/or a flat amount taken off; never the whole charge."""

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import Field

from avnz.rules.actions.base import ActionInput, Adjustment, Directive, adjustment_inputs
from avnz.rules.context import RuleContext


class Discount(Adjustment):
    NAME: ClassVar[str] = "discount"
    LABEL: ClassVar[str] = "Discount"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = adjustment_inputs()
    percent: Annotated[Decimal, Field(gt=0, lt=100, decimal_places=4)] | None = None

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Add to the directive's discount; the total stays below the transaction's amount, so
        at least 1 minor unit is charged whatever the surcharges."""
        ceiling = max(context.amount - 1, 0)
        directive.discount = min(directive.discount + self.amount_for(context), ceiling)
