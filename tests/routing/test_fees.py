"""Fees from an account's fee table: base, per brand, international; rounded half up once."""

from decimal import Decimal

import pytest

from avnz.core.cards import Brand
from avnz.routing.accounts.fees import reserve_cost, transaction_fee
from avnz.routing.accounts.schemas import AccountFees

TABLE = AccountFees.model_validate(
    {
        "base_percentage": "2.9",
        "base_flat_fee": 30,
        "international_percentage": "1.5",
        "international_flat_fee": 0,
        "card_specific_fees": {"amex": {"percentage": "3.5"}, "discover": {"flat_fee": 10}},
    }
)


@pytest.mark.parametrize(
    ("amount", "brand", "international", "fee"),
    [
        (10_000, Brand.VISA, False, 320),  # 2.9 % of $100.00 + $0.30
        (10_000, None, False, 320),
        (10_000, Brand.AMEX, False, 380),  # the brand's percentage, the base flat fee
        (10_000, Brand.DISCOVER, False, 300),  # the base percentage, the brand's flat fee
        (10_000, Brand.VISA, True, 470),  # + 1.5 % international
        (1_999, Brand.VISA, False, 88),  # 57.971 + 30 = 87.971 -> 88
        (50, Brand.VISA, False, 31),  # 1.45 + 30 = 31.45 -> 31
        (0, Brand.VISA, False, 30),
    ],
)
def test_fee_table(amount: int, brand: Brand | None, international: bool, fee: int) -> None:
    assert transaction_fee(TABLE, amount, card_brand=brand, international=international) == fee


def test_half_a_minor_unit_rounds_up() -> None:
    table = AccountFees(base_percentage=Decimal("0.5"))
    assert transaction_fee(table, 100, card_brand=None, international=False) == 1  # 0.5 -> 1
    assert transaction_fee(table, 99, card_brand=None, international=False) == 0  # 0.495 -> 0


def test_an_empty_table_costs_nothing() -> None:
    assert transaction_fee(AccountFees(), 123_456, card_brand=Brand.JCB, international=True) == 0


def test_a_rolling_reserve_costs_the_money_it_holds_back() -> None:
    table = AccountFees.model_validate({"reserve_percentage": "10", "reserve_hold_days": 180})
    # 10 % of $100.00 held 180 days at 10 % a year: 1000 * 0.10 * 180 / 365 = 49.3 -> 49
    assert reserve_cost(table, 10_000, Decimal("0.10")) == 49
    assert reserve_cost(table, 10_000, Decimal("0")) == 0
    assert reserve_cost(AccountFees(), 10_000, Decimal("0.10")) == 0
