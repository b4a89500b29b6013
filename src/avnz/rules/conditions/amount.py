"""Amount conditions: comparisons, inclusive `between` and named tiers, in the leaf's currency.

A transaction in another currency converts at the indicative rates of `rules/data/rates.csv`;
without a rate for either currency the condition does not match.
"""

from functools import lru_cache
from typing import Any, ClassVar

from pydantic import field_validator

from avnz.core.money import currency_exponent
from avnz.rules import reference
from avnz.rules.conditions import values
from avnz.rules.conditions.base import NUM, Condition, FieldSpec, Predicate, from_getter
from avnz.rules.context import RuleContext

# One transaction meets many amount leaves in a rule walk: convert it once, not per leaf.
_convert = lru_cache(maxsize=1024)(reference.convert)

# Amount tiers in major units of the leaf's currency, half-open [low, high).
TIERS: dict[str, tuple[int, int | None]] = {
    "micro": (0, 5),
    "small": (5, 50),
    "medium": (50, 500),
    "large": (500, 5000),
    "enterprise": (5000, None),
}


def tier_bounds(tier: str, currency: str) -> tuple[int, int | None]:
    """[low, high) of a tier in minor units of `currency`; high None is unbounded."""
    low, high = TIERS[tier]
    scale = 10 ** currency_exponent(currency)
    return low * scale, high * scale if high is not None else None


class AmountCondition(Condition):
    """Amounts in minor units of `currency`; other currencies convert at the indicative rate."""

    NAME: ClassVar[str] = "amount"
    LABEL: ClassVar[str] = "Amount"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec(
            "amount", NUM | {"in_tier"}, values.integer(0), input="amount", params=("currency",)
        ),
    )
    currency: str = "USD"

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, currency: str) -> str:
        return values.currency(currency)

    @classmethod
    def check_value(cls, spec: FieldSpec, operator: str, value: Any) -> Any:
        if operator != "in_tier":
            return super().check_value(spec, operator, value)
        if not isinstance(value, str) or value not in TIERS:
            raise ValueError(f"{value!r} is not one of {', '.join(TIERS)}")
        return value

    def span(self) -> tuple[int, int | None] | None:
        return tier_bounds(self.value, self.currency) if self.operator == "in_tier" else None

    def compile(self) -> Predicate:
        target = self.currency

        def amount(context: RuleContext) -> int | None:
            if context.currency == target:
                return context.amount
            return _convert(context.amount, context.currency, target)

        if self.operator != "in_tier":
            return from_getter(amount, self.operator, self.value)
        low, high = tier_bounds(self.value, target)

        def in_tier(context: RuleContext) -> bool:
            value = amount(context)
            return value is not None and low <= value and (high is None or value < high)

        return in_tier
