"""Payment method conditions: card brand and type, BIN range, issuing country, flags.

`bin_range between [low, high]` compares the first len(low) digits of the BIN, so
`["222100", "272099"]` is the 2-series Mastercard range whatever the BIN's length.
"""

from operator import attrgetter
from typing import Any

from avnz.rules.conditions.base import Predicate, from_getter, plain
from avnz.rules.context import RuleContext
from avnz.rules.schema import PaymentMethodCondition


def compile(leaf: PaymentMethodCondition) -> Predicate:
    """The leaf as a predicate, built once."""
    if leaf.field == "bin_range":
        low, high = leaf.value
        width = len(low)

        def in_range(context: RuleContext) -> bool:
            number = context.bin
            return number is not None and len(number) >= width and low <= number[:width] <= high

        return in_range
    if leaf.field == "card_brand":
        return from_getter(
            lambda c: str(c.card_brand) if c.card_brand is not None else None,
            leaf.operator,
            leaf.value,
        )
    return from_getter(attrgetter(leaf.field), leaf.operator, leaf.value)


def extract(leaf: PaymentMethodCondition, context: RuleContext) -> Any:
    """The value the leaf looks at, computed from scratch."""
    if leaf.field == "bin_range":
        width = len(leaf.value[0])
        number = context.bin
        return number[:width] if number is not None and len(number) >= width else None
    if leaf.field == "card_brand":
        return str(context.card_brand) if context.card_brand is not None else None
    return getattr(context, leaf.field)


def evaluate(leaf: PaymentMethodCondition, context: RuleContext) -> bool:
    """The leaf's result for one context, without compiling."""
    return plain(extract(leaf, context), leaf.operator, leaf.value)
