"""What a transaction costs on a merchant account, from the account's fee table.

The payments record it on each transaction; the LOWEST_COST strategy compares it across
accounts. Fees are Decimal arithmetic on minor units, rounded once, half up, at the end.
"""

from decimal import ROUND_HALF_UP, Decimal

from avnz.core.cards import Brand
from avnz.routing.accounts.schemas import AccountFees

_HUNDRED = Decimal(100)


def transaction_fee(
    fees: AccountFees, amount_minor: int, *, card_brand: Brand | None, international: bool
) -> int:
    """The fee in the account currency's minor units. A card brand's own fee replaces the base
    fee (each part it sets); an international card adds the international fee on top."""
    percentage, flat = fees.base_percentage, fees.base_flat_fee
    brand_fee = fees.card_specific_fees.get(card_brand) if card_brand else None
    if brand_fee is not None:
        percentage = brand_fee.percentage if brand_fee.percentage is not None else percentage
        flat = brand_fee.flat_fee if brand_fee.flat_fee is not None else flat
    if international:
        percentage += fees.international_percentage
        flat += fees.international_flat_fee
    exact = Decimal(amount_minor) * percentage / _HUNDRED + flat
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def reserve_cost(fees: AccountFees, amount_minor: int, yearly_rate: Decimal) -> int:
    """What the account's rolling reserve costs on this transaction: the money held back, for
    the days it is held, at `yearly_rate` (the merchant's cost of capital), in minor units."""
    held = Decimal(amount_minor) * fees.reserve_percentage / _HUNDRED
    exact = held * yearly_rate * Decimal(fees.reserve_hold_days) / Decimal(365)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
