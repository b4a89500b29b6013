"""Types of the query parameters list routes share: instants and days are ISO 8601 text, never
numbers. Pydantic would read `created_lte=0.5` as a Unix time (half a second into 1970) and
filter by it; a client who sends a number meant something else, so it is a 400 instead."""

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be ISO 8601 text such as 2026-01-31T00:00:00Z, not a number")
    return value


# An instant with or without an offset (naive ones are read as UTC where the route says so).
IsoDatetime = Annotated[datetime, BeforeValidator(_not_a_number)]
# An instant that must carry its offset.
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
# A calendar day, 2026-01-31.
IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
