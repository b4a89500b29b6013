"""Stripe's vocabulary mapped to ours: decline codes, AVS and CVC checks, PaymentIntent
statuses. Anything not listed maps to an unknown/pending value, never to approved.
"""

from collections.abc import Mapping
from typing import Any, Final

from avnz.gateways.base import AvsResult, CvvResult, DeclineReason, GatewayState, Operation

# Stripe's error `code`, or `decline_code` when code is card_declined (payments-data.md section 6).
DECLINE_CODES: Final[Mapping[str, DeclineReason]] = {
    "authentication_required": DeclineReason.AUTHENTICATION_REQUIRED,
    "approve_with_id": DeclineReason.CALL_ISSUER,
    "call_issuer": DeclineReason.CALL_ISSUER,
    "no_action_taken": DeclineReason.CALL_ISSUER,
    "not_permitted": DeclineReason.CALL_ISSUER,
    "security_violation": DeclineReason.CALL_ISSUER,
    "service_not_allowed": DeclineReason.CALL_ISSUER,
    "transaction_not_allowed": DeclineReason.CALL_ISSUER,
    "revocation_of_authorization": DeclineReason.CALL_ISSUER,
    "revocation_of_all_authorizations": DeclineReason.CALL_ISSUER,
    "stop_payment_order": DeclineReason.CALL_ISSUER,
    "do_not_try_again": DeclineReason.CALL_ISSUER,
    "card_not_supported": DeclineReason.CARD_NOT_SUPPORTED,
    "currency_not_supported": DeclineReason.CARD_NOT_SUPPORTED,
    "card_velocity_exceeded": DeclineReason.LIMIT_EXCEEDED,
    "withdrawal_count_limit_exceeded": DeclineReason.LIMIT_EXCEEDED,
    "card_decline_rate_limit_exceeded": DeclineReason.RATE_LIMITED,
    "rate_limit": DeclineReason.RATE_LIMITED,
    "do_not_honor": DeclineReason.DO_NOT_HONOR,
    "try_again_later": DeclineReason.DO_NOT_HONOR,
    "duplicate_transaction": DeclineReason.DUPLICATE_TRANSACTION,
    "expired_card": DeclineReason.EXPIRED_CARD,
    "fraudulent": DeclineReason.FRAUD_SUSPECTED,
    "merchant_blacklist": DeclineReason.FRAUD_SUSPECTED,
    "generic_decline": DeclineReason.GENERIC_DECLINE,
    "card_declined": DeclineReason.GENERIC_DECLINE,
    "incorrect_number": DeclineReason.INVALID_CARD,
    "invalid_number": DeclineReason.INVALID_CARD,
    "invalid_account": DeclineReason.INVALID_CARD,
    "new_account_information_available": DeclineReason.INVALID_CARD,
    "testmode_decline": DeclineReason.INVALID_CARD,
    "incorrect_cvc": DeclineReason.INVALID_CVV,
    "invalid_cvc": DeclineReason.INVALID_CVV,
    "incorrect_zip": DeclineReason.AVS_MISMATCH,
    "invalid_expiry_month": DeclineReason.INVALID_EXPIRY,
    "invalid_expiry_year": DeclineReason.INVALID_EXPIRY,
    # PIN codes only occur card-present; the same card data will not pass again.
    "incorrect_pin": DeclineReason.RESTRICTED_CARD,
    "invalid_pin": DeclineReason.RESTRICTED_CARD,
    "pin_try_exceeded": DeclineReason.RESTRICTED_CARD,
    "insufficient_funds": DeclineReason.INSUFFICIENT_FUNDS,
    "invalid_amount": DeclineReason.INVALID_AMOUNT,
    "amount_too_small": DeclineReason.INVALID_AMOUNT,
    "amount_too_large": DeclineReason.INVALID_AMOUNT,
    "invalid_charge_amount_no_decimal_compatible": DeclineReason.INVALID_AMOUNT,
    "issuer_not_available": DeclineReason.PROCESSING_ERROR,
    "processing_error": DeclineReason.PROCESSING_ERROR,
    "reenter_transaction": DeclineReason.PROCESSING_ERROR,
    "lost_card": DeclineReason.STOLEN_OR_LOST,
    "stolen_card": DeclineReason.STOLEN_OR_LOST,
    "pickup_card": DeclineReason.STOLEN_OR_LOST,
    "restricted_card": DeclineReason.RESTRICTED_CARD,
    "payment_intent_unexpected_state": DeclineReason.INVALID_STATE,
    "charge_already_captured": DeclineReason.INVALID_STATE,
    "charge_already_refunded": DeclineReason.INVALID_STATE,
    "charge_expired_for_capture": DeclineReason.INVALID_STATE,
    "resource_missing": DeclineReason.TRANSACTION_NOT_FOUND,
}

# A missing object in a payment request is the card token, not a transaction.
MISSING_OBJECT: Final[Mapping[Operation, DeclineReason]] = {
    Operation.SALE: DeclineReason.INVALID_CARD,
    Operation.AUTHORIZE: DeclineReason.INVALID_CARD,
}

# Stripe checks are pass / fail / unavailable / unchecked / null; only pass and fail say anything.
AVS_CHECKS: Final[Mapping[tuple[str, str], AvsResult]] = {
    ("pass", "pass"): AvsResult.MATCH,
    ("pass", "fail"): AvsResult.ADDRESS_ONLY,
    ("pass", "other"): AvsResult.ADDRESS_ONLY,
    ("fail", "pass"): AvsResult.POSTAL_ONLY,
    ("other", "pass"): AvsResult.POSTAL_ONLY,
    ("fail", "fail"): AvsResult.NO_MATCH,
    ("fail", "other"): AvsResult.NO_MATCH,
    ("other", "fail"): AvsResult.NO_MATCH,
    ("other", "other"): AvsResult.UNAVAILABLE,
}
CVC_CHECKS: Final[Mapping[str | None, CvvResult]] = {
    "pass": CvvResult.MATCH,
    "fail": CvvResult.NO_MATCH,
    "unchecked": CvvResult.NOT_PROCESSED,
    "unavailable": CvvResult.UNAVAILABLE,
    None: CvvResult.NOT_PROVIDED,
}
# What a decline tells about the checks when no charge object came with it.
DECLINE_CHECKS: Final[Mapping[DeclineReason, Mapping[str, Any]]] = {
    DeclineReason.INVALID_CVV: {"cvv": CvvResult.NO_MATCH},
    DeclineReason.AVS_MISMATCH: {"avs": AvsResult.NO_MATCH},
}

# The PaymentIntent status that is the explicit approval of each operation, and which amount
# field then says what was processed.
APPROVED_STATUS: Final[Mapping[Operation, tuple[str, str]]] = {
    Operation.SALE: ("succeeded", "amount_received"),
    Operation.AUTHORIZE: ("requires_capture", "amount_capturable"),
    Operation.CAPTURE: ("succeeded", "amount_received"),
    Operation.VOID: ("canceled", "amount"),
}

INTENT_STATES: Final[Mapping[str, GatewayState]] = {
    "requires_capture": GatewayState.AUTHORIZED,
    "succeeded": GatewayState.CAPTURED,
    "canceled": GatewayState.VOIDED,
}
# Which amount an inquiry reports for each state.
STATE_AMOUNT: Final[Mapping[GatewayState, str]] = {
    GatewayState.AUTHORIZED: "amount_capturable",
    GatewayState.CAPTURED: "amount_received",
    GatewayState.PARTIALLY_REFUNDED: "amount_received",
    GatewayState.REFUNDED: "amount_received",
}
# When one order has several PaymentIntents (a decline, then an approval), the one that moved or
# may move money answers the inquiry; the newest wins among equals.
STATE_RANK: Final[Mapping[GatewayState, int]] = {
    GatewayState.CAPTURED: 0,
    GatewayState.PARTIALLY_REFUNDED: 0,
    GatewayState.REFUNDED: 0,
    GatewayState.AUTHORIZED: 1,
    GatewayState.UNKNOWN: 2,  # processing / requires_action: money may still move
    GatewayState.VOIDED: 3,
    GatewayState.DECLINED: 4,
}

REFUND_FAILURES: Final[Mapping[str, DeclineReason]] = {
    "lost_or_stolen_card": DeclineReason.STOLEN_OR_LOST,
    "expired_or_canceled_card": DeclineReason.EXPIRED_CARD,
}
