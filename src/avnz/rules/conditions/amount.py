"""Amount conditions: comparisons, inclusive `between` and named tiers, in the leaf's currency.

A transaction in another currency converts at the indicative rates of `rules/data/rates.csv`;
without a rate for either currency the condition does not match.
"""

from functools import lru_cache
from typing import Any

from avnz.core.money import currency_exponent
from avnz.rules import reference
from avnz.rules.conditions.base import Predicate, from_getter, plain
from avnz.rules.context import RuleContext
from avnz.rules.schema import TIERS, AmountCondition

# One transaction meets many amount leaves in a rule walk: convert it once, not per leaf.
_convert = lru_cache(maxsize=1024)(reference.convert)


def tier_bounds(tier: str, currency: str) -> tuple[int, int | None]:
    """[low, high) of a tier in minor units of `currency`; high None is unbounded."""
    low, high = TIERS[tier]
    scale = 10 ** currency_exponent(currency)
    return low * scale, high * scale if high is not None else None


def compile(leaf: AmountCondition) -> Predicate:
    """The leaf as a predicate, built once."""
    target = leaf.currency

    def amount(context: RuleContext) -> int | None:
        if context.currency == target:
            return context.amount
        return _convert(context.amount, context.currency, target)

    if leaf.operator != "in_tier":
        return from_getter(amount, leaf.operator, leaf.value)
    low, high = tier_bounds(leaf.value, target)

    def in_tier(context: RuleContext) -> bool:
        value = amount(context)
        return value is not None and low <= value and (high is None or value < high)

    return in_tier


def extract(leaf: AmountCondition, context: RuleContext) -> Any:
    """The transaction's amount in the leaf's currency, computed from scratch."""
    return reference.convert(context.amount, context.currency, leaf.currency)


def evaluate(leaf: AmountCondition, context: RuleContext) -> bool:
    """The leaf's result for one context, without compiling."""
    actual = extract(leaf, context)
    if leaf.operator != "in_tier":
        return plain(actual, leaf.operator, leaf.value)
    if actual is None:
        return False
    low, high = tier_bounds(leaf.value, leaf.currency)
    return low <= actual and (high is None or actual < high)
