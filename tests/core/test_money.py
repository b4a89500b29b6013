"""Money: integer minor units, ISO 4217 currencies, exact decimal conversion."""

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from avnz.core.money import CurrencyCode, Money, currency_exponent


@pytest.mark.parametrize(
    ("currency", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3)]
)
def test_currency_exponent(currency, exponent):
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("currency", "reason"),
    [
        ("ZZZ", "not an ISO 4217"),
        ("US", "not an ISO 4217"),
        ("usdollar", "not an ISO 4217"),
        ("", "not an ISO 4217"),
        ("XAU", "no minor unit"),  # gold: no minor unit, no payments
    ],
)
def test_unknown_currency_or_one_without_minor_unit_is_refused(currency, reason):
    with pytest.raises(ValueError, match=reason):
        Money(100, currency)


def test_currency_is_normalized_to_upper_case():
    assert Money(1999, "usd") == Money(1999, "USD")


@pytest.mark.parametrize("amount", [19.99, 20.0, True, False, Decimal("19.99"), "1999", None])
def test_amount_must_be_an_int_in_minor_units(amount):
    with pytest.raises(TypeError):
        Money(amount, "USD")


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (Decimal("19.99"), "USD", 1999),
        (Decimal("19.990"), "USD", 1999),
        (Decimal("0.01"), "USD", 1),
        (Decimal("500"), "JPY", 500),
        (Decimal("1.234"), "KWD", 1234),
        (Decimal("-5.50"), "EUR", -550),
    ],
)
def test_from_decimal_and_back_is_exact(value, currency, minor):
    money = Money.from_decimal(value, currency)
    assert money == Money(minor, currency)
    assert money.to_decimal() == value


@pytest.mark.parametrize(
    ("value", "currency"),
    [(Decimal("19.999"), "USD"), (Decimal("1.5"), "JPY"), (Decimal("1.2345"), "KWD")],
)
def test_from_decimal_refuses_precision_finer_than_the_minor_unit(value, currency):
    with pytest.raises(ValueError, match="precision"):
        Money.from_decimal(value, currency)


def test_to_decimal_uses_the_currency_exponent():
    assert str(Money(1999, "USD").to_decimal()) == "19.99"
    assert str(Money(1999, "JPY").to_decimal()) == "1999"
    assert str(Money(1999, "KWD").to_decimal()) == "1.999"


def test_arithmetic_within_one_currency():
    assert Money(1000, "USD") + Money(250, "USD") == Money(1250, "USD")
    assert Money(1000, "USD") - Money(250, "USD") == Money(750, "USD")


@pytest.mark.parametrize("combine", [Money.__add__, Money.__sub__])
def test_mismatched_currencies_cannot_be_combined(combine):
    with pytest.raises(ValueError, match="USD with EUR"):
        combine(Money(100, "USD"), Money(100, "EUR"))


def test_money_is_immutable():
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.amount = 200  # type: ignore[misc]


class _Priced(BaseModel):
    currency: CurrencyCode


def test_currency_code_type_validates_and_normalizes_api_input():
    assert _Priced(currency="jpy").currency == "JPY"
    with pytest.raises(ValidationError):
        _Priced(currency="ABC")


def test_money_reads_as_major_units_and_code() -> None:
    assert str(Money(1999, "USD")) == "19.99 USD"
    assert str(Money(500, "JPY")) == "500 JPY"
    assert str(Money(1234, "KWD")) == "1.234 KWD"
