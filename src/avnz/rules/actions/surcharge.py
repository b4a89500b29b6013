"""Surcharge: a percent of the amount and/or a flat fee, optionally capped, added to the payment."""

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import Field

from avnz.rules.actions.base import (
    ActionInput,
    Adjustment,
    Directive,
    Minor,
    Names,
    adjustment_inputs,
    in_transaction_currency,
    money_text,
)
from avnz.rules.context import RuleContext


class Surcharge(Adjustment):
    NAME: ClassVar[str] = "surcharge"
    LABEL: ClassVar[str] = "Surcharge"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = adjustment_inputs(
        ActionInput("cap", "money", "At most")
    )
    MONEY: ClassVar[tuple[str, ...]] = ("flat", "cap")
    percent: Annotated[Decimal, Field(gt=0, le=100, decimal_places=4)] | None = None
    cap: Minor | None = None  # in `currency`, like `flat`

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Add percent + flat (converted), at most `cap` (converted), to the surcharge."""
        amount = self.amount_for(context)
        if self.cap is not None:
            amount = min(amount, in_transaction_currency(self.cap, self.currency, context))
        directive.surcharge += amount

    def describe(self, names: Names) -> str:
        cap = money_text(self.cap, self.currency)
        return super().describe(names) + (f" (at most {cap})" if cap else "")
