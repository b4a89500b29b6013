"""Checks that normalise one value of a condition leaf (ValueError naming what is wrong).

Values are normalised on the way in (country codes upper case, weekdays to 0-6, dates parsed),
so a condition's compiled predicate never re-checks them.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pycountry

from avnz.core.money import currency_exponent

Check = Callable[[Any], Any]


def country(value: Any) -> str:
    """An ISO 3166-1 alpha-2 code, upper case."""
    if not isinstance(value, str) or len(value) != 2:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    code = value.upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def text(value: Any) -> str:
    """A non-empty string of at most 200 characters, stripped."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError("must be a non-empty string of at most 200 characters")
    return value.strip()


def lower(value: Any) -> str:
    """`text`, lower case."""
    return text(value).lower()


def upper(value: Any) -> str:
    """`text`, upper case."""
    return text(value).upper()


def choice(choices: Sequence[str], fold: Callable[[str], str]) -> Check:
    """One of `choices` once folded (to upper or lower case)."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or fold(value) not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return fold(value)

    return check


def index_of(choices: Sequence[str]) -> Check:
    """One of `choices` (any case), kept as its index: ordered names compare as numbers."""

    def check(value: Any) -> int:
        if not isinstance(value, str) or value.lower() not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return list(choices).index(value.lower())

    return check


def currency(value: Any) -> str:
    """An ISO 4217 code, upper case."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    currency_exponent(value.upper())
    return value.upper()


def integer(low: int, high: int | None = None) -> Check:
    """A whole number in [low, high] (no upper bound when high is None)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"{value} must be {bound}")
        return value

    return check


def rate(value: Any) -> float:
    """A number between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if not 0 <= value <= 1:
        raise ValueError(f"{value} must be between 0 and 1")
    return float(value)


def iso_date(value: Any) -> date:
    """A date, or its ISO text (YYYY-MM-DD)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def bin_prefix(value: Any) -> str:
    """6 to 8 digits."""
    if not isinstance(value, str) or not value.isdigit() or not 6 <= len(value) <= 8:
        raise ValueError(f"{value!r} is not a BIN of 6 to 8 digits")
    return value


def boolean(value: Any) -> bool:
    """True or false, nothing that merely looks like one."""
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value
