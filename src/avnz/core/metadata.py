"""Metadata: a merchant's own key-value pairs on the objects it creates (payments, refunds,
customers, payment methods, products, orders, webhook endpoints, routing rules), with Stripe's
limits: up to 50 keys, keys of 1-40 characters without square brackets, string values of up to
500 characters. avnz stores and returns them and never acts on them."""

from typing import Annotated

from pydantic import Field, StringConstraints

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500

MetadataKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH, pattern=r"^[^\[\]\x00]+$"),
]
MetadataValue = Annotated[
    str, StringConstraints(max_length=MAX_VALUE_LENGTH, pattern=r"^[^\x00]*$")
]
Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(
        max_length=MAX_KEYS,
        description=(
            f"Your own key-value pairs: up to {MAX_KEYS} keys of up to {MAX_KEY_LENGTH} "
            f"characters (no square brackets), string values of up to {MAX_VALUE_LENGTH}. "
            "An update replaces the whole object; send {} to clear it."
        ),
        examples=[{"order_ref": "A-1042"}],
    ),
]
