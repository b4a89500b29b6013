"""What the Payflow sandbox knows by heart: its credentials, the pilot host's test cards and the
amount, AVS and CVV triggers that decide an answer.
"""

import re
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from avnz.core import clock
from avnz.core.money import Money, currency_exponent

SANDBOX_CREDENTIALS: dict[str, str] = {
    "partner": "PayPal",
    "vendor": "avnzpilot",
    "user": "avnzpilot",
    "password": "pilot-pass-42",
}

TEST_CARDS: frozenset[str] = frozenset(
    {
        "378282246310005",  # Amex
        "371449635398431",
        "378734493671000",
        "30569309025904",  # Diners
        "6011111111111117",  # Discover
        "6011000990139424",
        "3530111333300000",  # JCB
        "3566002020360505",
        "2221000000000009",  # Mastercard
        "2223000048400011",
        "2223016768739313",
        "5555555555554444",
        "5105105105105100",
        "4111111111111111",  # Visa
        "4012888888881881",
        "4222222222222",
    }
)

# RESULT codes an amount of 1000 + code produces; other amounts in 1001-2000 decline with 12.
AMOUNT_RESULTS: frozenset[int] = frozenset(
    {4, 5, 12, 13, 23, 24, 30, 103, 104, 111, 112, 114, 1000}
)

RESPMSG: dict[int, str] = {
    0: "Approved",
    1: "User authentication failed",
    2: "Invalid tender",
    3: "Invalid transaction type",
    4: "Invalid amount",
    5: "Invalid merchant information",
    6: "Invalid or unsupported currency code",
    7: "Field format error",
    12: "Declined",
    13: "Referral",
    19: "Original transaction ID not found",
    20: "Cannot find the customer reference number",
    23: "Invalid account number",
    24: "Invalid expiration date",
    26: "Invalid vendor account",
    30: "Duplicate transaction",
    103: "Error reading response from host",
    104: "Timeout waiting for processor response",
    105: "Credit error",
    108: "Void error",
    111: "Capture error",
    112: "Failed AVS check",
    114: "Card Security Code (CSC) Mismatch",
    120: "Attempt to reference a failed transaction",
    1000: "Generic host error",
}

# (ceiling, code) bands of the AVS and CVV triggers; a value above the last band gets `above`.
Bands = tuple[tuple[int, str], ...]
STREET_BANDS: Bands = ((333, "Y"), (666, "N"))
ZIP_BANDS: Bands = ((50000, "Y"),)
CVV_BANDS: Bands = ((0, ""), (300, "Y"), (600, "N"))

# TRANSSTATE an inquiry reports: settlement never runs here, so sales stay "settlement pending".
BASE_TRANSSTATE: dict[str, int] = {"S": 6, "D": 6, "C": 6, "V": 0}
VOIDED_INCREMENT = 1000

_LEADING_DIGITS = re.compile(r"\d{1,3}")
_ZIP = re.compile(r"\d{5}")
_EXPDATE = re.compile(r"(\d\d)(\d\d)")


class Refused(Exception):
    """Any answer but approval, raised from where the problem is found."""

    def __init__(self, result: int, detail: str | None = None) -> None:
        super().__init__(result)
        self.result = result
        self.message = f"{RESPMSG[result]}: {detail}" if detail else RESPMSG[result]

    def reply(self, pnref: str) -> dict[str, str]:
        return {"RESULT": str(self.result), "PNREF": pnref, "RESPMSG": self.message}


# --- triggers --------------------------------------------------------------------------------


def _band(value: int, bands: Bands, above: str) -> str:
    return next((code for ceiling, code in bands if value <= ceiling), above)


def amount_result(value: Decimal) -> int:
    """The pilot's amount trigger: up to 1000 approves, 1000 + a supported code answers that code,
    anything else above 1000 declines with 12."""
    if value <= 1000:
        return 0
    code = value - 1000
    if code == code.to_integral_value() and int(code) in AMOUNT_RESULTS:
        return int(code)
    return 12


def avs_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The AVSADDR / AVSZIP a reply carries, decided by the street number and ZIP bands."""
    street = _LEADING_DIGITS.match(fields.get("BILLTOSTREET") or fields.get("STREET") or "")
    address = _band(int(street.group()), STREET_BANDS, "X") if street else "X"
    zip_match = _ZIP.match(fields.get("BILLTOZIP") or fields.get("ZIP") or "")
    postal = _band(int(zip_match.group()), ZIP_BANDS, "N") if zip_match else "X"
    country = (fields.get("BILLTOCOUNTRY") or fields.get("COUNTRY") or "US").upper()
    return {
        "AVSADDR": address,
        "AVSZIP": "X" if address == "X" else postal,
        "IAVS": "N" if country in ("US", "840") else "Y",
    }


def cvv_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The CVV2MATCH a reply carries, decided by the CVV2 band; none without a CVV2."""
    cvv = fields.get("CVV2")
    if cvv is None:
        return {}
    match = _band(int(cvv), CVV_BANDS, "X") if cvv.isdigit() else "X"
    return {"CVV2MATCH": match} if match else {}


def expiry_valid(expdate: str) -> bool:
    """Whether EXPDATE (MMYY) is a real month that has not passed."""
    match = _EXPDATE.fullmatch(expdate)
    if match is None or not 1 <= int(match.group(1)) <= 12:
        return False
    today = clock.now()
    year = 2000 + int(match.group(2))
    if year > today.year + 50:  # two-digit years: 0298 is February 1998, long expired
        year -= 100
    return (year, int(match.group(1))) >= (today.year, today.month)


def currency_of(fields: Mapping[str, str]) -> str:
    """The request's ISO currency (USD when absent); RESULT 6 when it is unknown."""
    code = fields.get("CURRENCY", "USD").upper()
    try:
        currency_exponent(code)
    except ValueError:
        raise Refused(6) from None
    return code


def money_of(raw: str | None, currency: str) -> Money:
    """The request's amount as Money; RESULT 4 when it is missing, negative or not a number."""
    try:
        value = Decimal(raw or "")
        if value.is_finite() and value >= 0:
            return Money.from_decimal(value, currency)
    except (InvalidOperation, ValueError):
        pass
    raise Refused(4)


def same_value(given: str | None, expected: str) -> bool:
    """Whether a credential matches, in constant time; a missing one never does."""
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())
