"""Surcharge: a percent of the amount and/or a flat fee, optionally capped, added to the payment."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from avnz.rules.actions.base import Adjustment, Directive, Minor, in_transaction_currency
from avnz.rules.context import RuleContext


class Surcharge(Adjustment):
    type: Literal["surcharge"]
    percent: Annotated[Decimal, Field(gt=0, le=100, decimal_places=4)] | None = None
    cap: Minor | None = None  # in `currency`, like `flat`


def apply(action: Surcharge, directive: Directive, context: RuleContext) -> None:
    """Add percent + flat (converted), at most `cap` (converted), to the directive's surcharge."""
    amount = action.amount_for(context)
    if action.cap is not None:
        amount = min(amount, in_transaction_currency(action.cap, action.currency, context))
    directive.surcharge += amount
