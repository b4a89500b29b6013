"""Product conditions: SKU, category, subscription flags and interval."""

from typing import ClassVar

from avnz.rules.conditions import values
from avnz.rules.conditions.base import EQ, Condition, FieldSpec, flag
from avnz.rules.context import RuleContext

INTERVALS = ("day", "week", "month", "year")


def _category(context: RuleContext) -> str | None:
    category = context.product.category
    return category.lower() if category is not None else None


def _interval(context: RuleContext) -> str | None:
    interval = context.product.interval
    return interval.lower() if interval is not None else None


class ProductCondition(Condition):
    NAME: ClassVar[str] = "product"
    LABEL: ClassVar[str] = "Product"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("sku", EQ, values.text, lambda c: c.product.sku),
        FieldSpec("category", EQ, values.lower, _category),
        flag("is_subscription", lambda c: c.product.is_subscription),
        FieldSpec(
            "subscription_interval",
            EQ,
            values.choice(INTERVALS, str.lower),
            _interval,
            input="choice",
            choices=INTERVALS,
        ),
        flag("is_renewal", lambda c: c.product.is_renewal),
        flag("is_trial", lambda c: c.product.is_trial),
    )
