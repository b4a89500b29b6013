"""Money: an integer amount in the currency's minor units plus an ISO 4217 code."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import iso4217
from pydantic import AfterValidator


def currency_exponent(code: str) -> int:
    """Digits after the decimal point for an ISO 4217 code (USD 2, JPY 0, KWD 3)."""
    try:
        exponent = iso4217.Currency(code).exponent
    except ValueError:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code") from None
    if exponent is None:
        raise ValueError(f"{code} has no minor unit and cannot be used for payments")
    return int(exponent)


def _validate_currency(code: str) -> str:
    code = code.upper()
    currency_exponent(code)
    return code


CurrencyCode = Annotated[str, AfterValidator(_validate_currency)]


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be an int in minor units")
        object.__setattr__(self, "currency", _validate_currency(self.currency))

    def __add__(self, other: "Money") -> "Money":
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __str__(self) -> str:
        """For messages people read: `19.99 USD`."""
        return f"{self.to_decimal()} {self.currency}"

    def to_decimal(self) -> Decimal:
        """The major-unit value (1999 USD → Decimal('19.99')), for display and wire formats."""
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str) -> "Money":
        """Exact conversion from major units; refuses values finer than the minor unit."""
        minor = value.scaleb(currency_exponent(currency))
        if minor != minor.to_integral_value():
            raise ValueError(f"{value} has more precision than {currency} allows")
        return cls(int(minor), currency)

    def _same_currency(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")
