"""What the Stripe sandbox knows by heart: the documented test cards, PaymentMethods and decline
triggers, Stripe's messages and amount limits, and the filters of its list and search APIs.
"""

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from avnz.gateways.sandbox.common import SandboxTxn, TxnState, alnum_ids

SANDBOX_CREDENTIALS: dict[str, str] = {"secret_key": "sk_test_avnzSandboxStripe000000000000000000"}


@dataclass(frozen=True, slots=True)
class Trigger:
    """What a test card does."""

    code: str | None = None  # a card error code: the charge is declined
    decline_code: str | None = None
    line1: str = "pass"  # address_line1_check when a line1 is sent
    postal: str = "pass"  # address_postal_code_check when a postal code is sent
    cvc: str = "pass"  # cvc_check when a CVC is sent
    cvc_declines: bool = False  # declined with incorrect_cvc when a CVC is sent
    blocked: bool = False  # Radar stops it before the card network
    requires_action: bool = False  # 3-D Secure
    dispute: str | None = None  # the reason of the dispute a captured charge gets
    inquiry: bool = False  # the dispute starts as an inquiry (warning_needs_response)


APPROVE: Final = Trigger()

TRIGGERS: Final[Mapping[str, Trigger]] = {
    "4000000000000002": Trigger(code="card_declined", decline_code="generic_decline"),
    "4000000000009995": Trigger(code="card_declined", decline_code="insufficient_funds"),
    "4000000000009987": Trigger(code="card_declined", decline_code="lost_card"),
    "4000000000009979": Trigger(code="card_declined", decline_code="stolen_card"),
    "4000000000006975": Trigger(code="card_declined", decline_code="card_velocity_exceeded"),
    "4000000000000069": Trigger(code="expired_card"),
    "4000000000000127": Trigger(code="incorrect_cvc", cvc="fail"),
    "4000000000000119": Trigger(code="processing_error"),
    "4100000000000019": Trigger(code="card_declined", decline_code="fraudulent", blocked=True),
    "4000000000000010": Trigger(line1="fail", postal="fail"),
    "4000000000000028": Trigger(line1="fail"),
    "4000000000000036": Trigger(postal="fail"),
    "4000000000000044": Trigger(line1="unavailable", postal="unavailable"),
    "4000000000000101": Trigger(cvc="fail", cvc_declines=True),
    "4000002500003155": Trigger(requires_action=True),
    "4000002760003184": Trigger(requires_action=True),
    "4000000000003220": Trigger(requires_action=True),
    "4000000000000259": Trigger(dispute="fraudulent"),
    "4000000000002685": Trigger(dispute="product_not_received"),
    "4000000000001976": Trigger(dispute="fraudulent", inquiry=True),
}

# Test PaymentMethod ids and the card each stands for. Public code spells some declines both
# `pm_card_visa_chargeDeclined…` and `pm_card_chargeDeclined…`; both are accepted.
PAYMENT_METHODS: Final[Mapping[str, str]] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_visa_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded": "4000000000006975",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_radarBlock": "4100000000000019",
    "pm_card_avsFail": "4000000000000010",
    "pm_card_avsLine1Fail": "4000000000000028",
    "pm_card_avsZipFail": "4000000000000036",
    "pm_card_avsUnchecked": "4000000000000044",
    "pm_card_cvcCheckFail": "4000000000000101",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_createDisputeProductNotReceived": "4000000000002685",
    "pm_card_createDisputeInquiry": "4000000000001976",
}

# Test tokens (`card[token]=tok_visa` when creating a PaymentMethod) and their cards.
TOKENS: Final[Mapping[str, str]] = {
    "tok_visa": "4242424242424242",
    "tok_visa_debit": "4000056655665556",
    "tok_mastercard": "5555555555554444",
    "tok_amex": "378282246310005",
    "tok_discover": "6011111111111117",
    "tok_chargeDeclined": "4000000000000002",
    "tok_chargeDeclinedInsufficientFunds": "4000000000009995",
    "tok_createDispute": "4000000000000259",
}

# What a dispute's evidence says in test mode decides it (docs.stripe.com/testing#disputes).
WINNING_EVIDENCE, LOSING_EVIDENCE = "winning_evidence", "losing_evidence"
DISPUTE_EVIDENCE_DAYS = 7

BRANDS: Final[tuple[tuple[str, str], ...]] = (
    ("34", "amex"),
    ("37", "amex"),
    ("4", "visa"),
    ("5", "mastercard"),
    ("2", "mastercard"),
    ("6", "discover"),
    ("35", "jcb"),
)

MESSAGES: Final[Mapping[str, str]] = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "fraudulent": "Your card was declined.",
    "card_velocity_exceeded": "Your card was declined for making repeated attempts too "
    "frequently or exceeding its amount limit.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "incorrect_number": "Your card number is incorrect.",
    "invalid_expiry_month": "Your card's expiration month is invalid.",
    "invalid_expiry_year": "Your card's expiration year is invalid.",
    "invalid_cvc": "Your card's security code is invalid.",
}

RAW_CARDS_REFUSED: Final = (
    "Sending credit card numbers directly to the Stripe API is generally unsafe. We suggest you "
    "use test tokens that map to the test card you are using, see https://stripe.com/docs/testing."
    " To enable raw card data APIs in test mode, see "
    "https://support.stripe.com/questions/enabling-access-to-raw-card-data-apis."
)

# Stripe's minimum charge per currency, in its smallest unit; larger amounts go up to the cap.
MINIMUM_AMOUNT: Final[Mapping[str, int]] = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "chf": 50,
    "sgd": 50,
    "brl": 50,
    "inr": 50,
    "jpy": 50,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "pln": 200,
    "hkd": 400,
    "mxn": 1000,
}
MAXIMUM_AMOUNT: Final = 99_999_999
SYMBOLS: Final[Mapping[str, str]] = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}

CAPTURE_METHODS: Final = frozenset({"automatic", "automatic_async", "manual"})
CANCELABLE: Final = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
)
CANCELLATION_REASONS: Final = frozenset(
    {"duplicate", "fraudulent", "requested_by_customer", "abandoned"}
)
REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

# The ledger's coarse state for each PaymentIntent status (the status itself is in `extra`).
STATUS_STATE: Final[Mapping[str, TxnState]] = {
    "requires_capture": TxnState.AUTHORIZED,
    "succeeded": TxnState.CAPTURED,
    "canceled": TxnState.VOIDED,
    # Not authorized: declined, waiting for 3-D Secure, or never confirmed.
    "requires_payment_method": TxnState.DECLINED,
    "requires_action": TxnState.DECLINED,
    "requires_confirmation": TxnState.DECLINED,
}

CREATED_FILTERS: Final[Mapping[str, Callable[[int, int], bool]]] = {
    "created": operator.eq,
    "created[gt]": operator.gt,
    "created[gte]": operator.ge,
    "created[lt]": operator.lt,
    "created[lte]": operator.le,
}

SEARCH_FIELDS: Final[Mapping[str, Callable[[SandboxTxn], str]]] = {
    "status": lambda txn: str(txn.extra["status"]),
    "currency": lambda txn: txn.currency,
    "amount": lambda txn: str(txn.amount),
}
SEARCH_CLAUSE = re.compile(
    r"(?:metadata\['(?P<key>[^'\\]+)'\]|(?P<field>status|currency|amount))"
    r":'(?P<value>(?:[^'\\]|\\.)*)'"
)

charge_ids = alnum_ids("ch_", 24)
refund_ids = alnum_ids("re_", 24)
method_ids = alnum_ids("pm_", 24)
customer_ids = alnum_ids("cus_", 14)
setup_ids = alnum_ids("seti_", 24)
dispute_ids = alnum_ids("dp_", 24)
endpoint_ids = alnum_ids("we_", 24)
secret_ids = alnum_ids("whsec_", 32)
request_ids = alnum_ids("req_", 14)
