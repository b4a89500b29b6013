"""Card numbers: Luhn, brand from IIN ranges (longest prefix wins), lengths, CVV and expiry.

The ranges are those of reference/payments-data.md §1 (Braintree credit-card-type's rules):
a specific range beats the broad one around it, and Maestro's catch-all ranges lose to all.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from stdnum import luhn


class Brand(enum.StrEnum):
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    DINERS = "diners"
    JCB = "jcb"
    UNIONPAY = "unionpay"
    MAESTRO = "maestro"
    MIR = "mir"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class IinRange:
    brand: Brand
    low: str
    high: str
    lengths: tuple[int, ...]

    def matches(self, number: str) -> bool:
        width = len(self.low)
        return self.low <= number[:width] <= self.high

    @property
    def specificity(self) -> int:
        return len(self.low)


def _r(brand: Brand, low: str, high: str | None, *lengths: int) -> IinRange:
    return IinRange(brand, low, high or low, lengths)


_16_19 = (16, 17, 18, 19)
IIN_RANGES: tuple[IinRange, ...] = (
    _r(Brand.VISA, "4", None, 13, 16, 18, 19),
    _r(Brand.MASTERCARD, "51", "55", 16),
    _r(Brand.MASTERCARD, "2221", "2720", 16),
    _r(Brand.AMEX, "34", None, 15),
    _r(Brand.AMEX, "37", None, 15),
    _r(Brand.DISCOVER, "6011", None, *_16_19),
    _r(Brand.DISCOVER, "644", "649", *_16_19),
    _r(Brand.DISCOVER, "65", None, *_16_19),
    _r(Brand.UNIONPAY, "622126", "622925", *_16_19),  # co-badged; labelled UnionPay
    _r(Brand.DINERS, "300", "305", 14, 16, 17, 18, 19),
    _r(Brand.DINERS, "3095", None, 14, 16, 17, 18, 19),
    _r(Brand.DINERS, "36", None, 14, 16, 17, 18, 19),
    _r(Brand.DINERS, "38", "39", 14, 16, 17, 18, 19),
    _r(Brand.JCB, "3528", "3589", *_16_19),
    _r(Brand.JCB, "3088", "3094", *_16_19),  # legacy JCB range, still on test cards
    _r(Brand.UNIONPAY, "62", None, 14, 15, *_16_19),
    _r(Brand.UNIONPAY, "81", None, *_16_19),
    _r(Brand.MIR, "2200", "2204", *_16_19),
    *(
        _r(Brand.MAESTRO, prefix, None, *range(12, 20))
        for prefix in ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763")
    ),
)
# Lowest priority: the broad Maestro ranges libraries use as a catch-all.
_MAESTRO_CATCH_ALL = (
    _r(Brand.MAESTRO, "50", None, *range(12, 20)),
    _r(Brand.MAESTRO, "56", "69", *range(12, 20)),
)
CVV_LENGTH = {Brand.AMEX: 4}


class CardError(ValueError):
    def __init__(self, message: str, *, code: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def normalize_number(raw: str) -> str:
    digits = raw.replace(" ", "").replace("-", "")
    if not digits.isdigit():
        raise CardError(
            "The card number may hold only digits, spaces and dashes.",
            code="invalid_number",
            field="number",
        )
    return digits


def detect_brand(number: str) -> Brand:
    """The brand of the most specific matching IIN range whose length rules allow `number`."""
    candidates = [r for r in IIN_RANGES if r.matches(number)]
    candidates.sort(key=lambda r: r.specificity, reverse=True)
    for candidate in [*candidates, *(r for r in _MAESTRO_CATCH_ALL if r.matches(number))]:
        if len(number) in candidate.lengths:
            return candidate.brand
    return Brand.UNKNOWN


def brand_of_prefix(prefix: str) -> Brand:
    """The brand of the most specific IIN range a BIN (or any prefix) falls in, whatever the
    card's length; the Maestro catch-all last."""
    matching = sorted(
        (r for r in IIN_RANGES if len(prefix) >= r.specificity and r.matches(prefix)),
        key=lambda r: r.specificity,
        reverse=True,
    )
    catch_all = (r for r in _MAESTRO_CATCH_ALL if r.matches(prefix))
    best = next(iter([*matching, *catch_all]), None)
    return Brand.UNKNOWN if best is None else best.brand


def validate_number(raw: str) -> tuple[str, Brand]:
    number = normalize_number(raw)
    if not 12 <= len(number) <= 19:
        raise CardError("A card number has 12 to 19 digits.", code="invalid_number", field="number")
    brand = detect_brand(number)
    # UnionPay cards need not pass Luhn (reference §1); every other brand must.
    if brand is not Brand.UNIONPAY and not luhn.is_valid(number):
        raise CardError(
            "The card number is not valid (checksum failed).", code="invalid_number", field="number"
        )
    return number, brand


def validate_expiry(month: int, year: int, now: datetime) -> tuple[int, int]:
    """Month 1-12, a two- or four-digit year, and not past the end of the expiry month."""
    if not 1 <= month <= 12:
        raise CardError("exp_month must be 1-12.", code="invalid_expiry_month", field="exp_month")
    year = year + 2000 if year < 100 else year
    if (year, month) < (now.year, now.month):
        raise CardError("The card has expired.", code="expired_card", field="exp_year")
    if year > now.year + 50:
        raise CardError(
            "exp_year is too far in the future.", code="invalid_expiry_year", field="exp_year"
        )
    return month, year


def validate_cvv(cvv: str, brand: Brand) -> str:
    expected = CVV_LENGTH.get(brand, 3)
    if not cvv.isdigit() or len(cvv) != expected:
        raise CardError(
            f"The security code must be {expected} digits for this card.",
            code="invalid_cvc",
            field="cvv",
        )
    return cvv
