"""Product conditions: SKU, category, subscription flags and interval."""

from operator import attrgetter
from typing import Any

from avnz.rules.conditions.base import Predicate, from_getter, plain
from avnz.rules.context import RuleContext
from avnz.rules.schema import ProductCondition

_ATTRIBUTES = {
    "sku": "sku",
    "category": "category",
    "is_subscription": "is_subscription",
    "subscription_interval": "interval",
    "is_renewal": "is_renewal",
    "is_trial": "is_trial",
}
_FOLDED = frozenset({"category", "subscription_interval"})  # compared in lower case


def compile(leaf: ProductCondition) -> Predicate:
    """The leaf as a predicate, built once."""
    read = attrgetter(_ATTRIBUTES[leaf.field])
    if leaf.field in _FOLDED:
        return from_getter(
            lambda c: v.lower() if (v := read(c.product)) is not None else None,
            leaf.operator,
            leaf.value,
        )
    return from_getter(lambda c: read(c.product), leaf.operator, leaf.value)


def extract(leaf: ProductCondition, context: RuleContext) -> Any:
    """The value the leaf looks at, computed from scratch."""
    actual = getattr(context.product, _ATTRIBUTES[leaf.field])
    if leaf.field in _FOLDED and actual is not None:
        return str(actual).lower()
    return actual


def evaluate(leaf: ProductCondition, context: RuleContext) -> bool:
    """The leaf's result for one context, without compiling."""
    return plain(extract(leaf, context), leaf.operator, leaf.value)
