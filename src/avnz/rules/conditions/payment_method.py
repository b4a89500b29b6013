"""Payment method conditions: card brand and type, BIN range, issuing country, flags.

`bin_range between [low, high]` compares the first len(low) digits of the BIN, so
`["222100", "272099"]` is the 2-series Mastercard range whatever the BIN's length.
"""

from operator import attrgetter
from typing import Any, ClassVar

from avnz.core.cards import Brand
from avnz.rules.conditions import values
from avnz.rules.conditions.base import EQ, Condition, FieldSpec, Predicate, ascending, flag
from avnz.rules.context import RuleContext

# The brands a rule can name: the card vault's own, and `unknown` for a card it cannot tell.
CARD_BRANDS = tuple(brand.value for brand in Brand if brand is not Brand.UNKNOWN)
UNKNOWN_BRAND = Brand.UNKNOWN.value
CARD_TYPES = ("credit", "debit", "prepaid", "unknown")


def _same_width(low: Any, high: Any) -> None:
    if len(low) != len(high):
        raise ValueError("both ends of a BIN range need the same number of digits")
    ascending(low, high)


class PaymentMethodCondition(Condition):
    NAME: ClassVar[str] = "payment_method"
    LABEL: ClassVar[str] = "Payment method"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec(
            "card_brand",
            EQ,
            values.choice((*CARD_BRANDS, UNKNOWN_BRAND), str.lower),
            attrgetter("card_brand"),
            input="choice",
            choices=CARD_BRANDS,
        ),
        FieldSpec(
            "card_type",
            EQ,
            values.choice(CARD_TYPES, str.lower),
            attrgetter("card_type"),
            input="choice",
            choices=CARD_TYPES,
        ),
        FieldSpec(
            "bin_range",
            frozenset({"between"}),
            values.bin_prefix,
            input="bin",
            label="BIN range",
            check_range=_same_width,
        ),
        FieldSpec(
            "issuing_country", EQ, values.country, attrgetter("issuing_country"), input="country"
        ),
        flag("is_tokenized", attrgetter("is_tokenized")),
        flag("is_3ds_enrolled", attrgetter("is_3ds_enrolled"), "3-D Secure enrolled"),
        flag("is_digital_wallet", attrgetter("is_digital_wallet")),
    )

    def reads(self) -> tuple[Any, ...]:
        if self.field != "bin_range":
            return super().reads()
        # The leaf compares the first len(low) digits: ranges of one width read one value.
        return (*super().reads(), len(self.value[0]))

    def compile(self) -> Predicate:
        if self.field != "bin_range":
            return super().compile()
        low, high = self.value
        width = len(low)

        def in_range(context: RuleContext) -> bool:
            number = context.bin
            return number is not None and len(number) >= width and low <= number[:width] <= high

        return in_range
