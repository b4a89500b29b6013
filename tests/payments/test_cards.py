"""Brand detection, Luhn, expiry and CVV rules, and the shipped BIN table."""

from datetime import UTC, datetime

import pytest

from avnz.core.cards import (
    Brand,
    CardError,
    detect_brand,
    validate_cvv,
    validate_expiry,
    validate_number,
)
from avnz.payments import bins

NOW = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4111111111111111", Brand.VISA),
        ("4222222222222", Brand.VISA),
        ("5555555555554444", Brand.MASTERCARD),
        ("2223000048400011", Brand.MASTERCARD),
        ("2720990000000007", Brand.MASTERCARD),
        ("378282246310005", Brand.AMEX),
        ("6011111111111117", Brand.DISCOVER),
        ("6445644564456445", Brand.DISCOVER),
        ("30569309025904", Brand.DINERS),
        ("38000000000006", Brand.DINERS),
        ("3530111333300000", Brand.JCB),
        ("3088000000000017", Brand.JCB),
        ("6200000000000005", Brand.UNIONPAY),
        ("6221260000000000", Brand.UNIONPAY),  # Discover co-badge range: labelled UnionPay
        ("2200000000000004", Brand.MIR),
        ("6759649826438453", Brand.MAESTRO),
        ("6799990100000000019", Brand.MAESTRO),  # catch-all range, lowest priority
        ("2205000000000000", Brand.UNKNOWN),  # between Mir and Mastercard 2-series
        ("9999999999999995", Brand.UNKNOWN),
    ],
)
def test_brand_by_longest_prefix(number, brand):
    assert detect_brand(number) is brand


def test_valid_number_is_normalized():
    assert validate_number("4111 1111-1111 1111") == ("4111111111111111", Brand.VISA)


@pytest.mark.parametrize("bad", ["4111111111111112", "4111", "4111abcd11111111", "1" * 20])
def test_invalid_numbers(bad):
    with pytest.raises(CardError) as error:
        validate_number(bad)
    assert error.value.field == "number"


def test_unionpay_skips_luhn():
    number = "6200000000000006"  # fails Luhn
    assert validate_number(number)[1] is Brand.UNIONPAY


def test_expiry_rules():
    assert validate_expiry(11, 2026, NOW) == (11, 2026)  # valid to the end of its month
    assert validate_expiry(1, 29, NOW) == (1, 2029)
    for month, year, code in [
        (10, 2026, "expired_card"),
        (13, 2030, "invalid_expiry_month"),
        (1, 2099, "invalid_expiry_year"),
    ]:
        with pytest.raises(CardError) as error:
            validate_expiry(month, year, NOW)
        assert error.value.code == code


def test_cvv_length_depends_on_brand():
    assert validate_cvv("1234", Brand.AMEX) == "1234"
    assert validate_cvv("123", Brand.VISA) == "123"
    for cvv, brand in [("123", Brand.AMEX), ("1234", Brand.VISA), ("12a", Brand.VISA)]:
        with pytest.raises(CardError):
            validate_cvv(cvv, brand)


def test_bin_table_longest_prefix_wins():
    assert bins.lookup("4000008260000000").country == "GB"
    assert bins.lookup("4000000000000002").country == "US"
    assert bins.lookup("4000056655665556").card_type == "debit"
    assert bins.lookup("5105105105105100").card_type == "prepaid"
    assert bins.lookup("9999999999999995") == bins.UNKNOWN
