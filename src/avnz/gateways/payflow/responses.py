"""Payflow answers: RESULT, AVS, CVV and TRANSSTATE codes mapped to ours, and the pure
`from_*_response` functions. Only RESULT 0 approves; an unknown code is never an approval.
"""

import dataclasses
from typing import Any

from avnz.core.money import Money
from avnz.gateways.base import (
    AvsResult,
    CvvResult,
    DeclineReason,
    GatewayResult,
    GatewayState,
    Operation,
    Outcome,
    config_error,
    declined,
    gateway_text,
)
from avnz.gateways.payflow.nvp import PayflowReply

# --- code tables -----------------------------------------------------------------------------

# RESULT codes that say the account or its credentials are wrong; nothing reached an issuer.
CONFIG_RESULTS: frozenset[int] = frozenset({1, 2, 5, 6, 8, 14, 25, 26, 27, 28, 100, 131})

# RESULT codes after which the processor may have acted although the answer says nothing
# certain (timeouts inside PayPal, fraud review of an authorized payment): inquire first.
UNCERTAIN_RESULTS: frozenset[int] = frozenset({11, 103, 104, 107, 109, 126, 127, 150})

DECLINE_REASONS: dict[int, DeclineReason] = {
    3: DeclineReason.INVALID_REQUEST,  # transaction type not allowed here
    4: DeclineReason.INVALID_AMOUNT,
    7: DeclineReason.INVALID_REQUEST,  # field format error
    9: DeclineReason.INVALID_REQUEST,
    10: DeclineReason.INVALID_REQUEST,
    12: DeclineReason.GENERIC_DECLINE,
    13: DeclineReason.CALL_ISSUER,  # referral: voice authorization only
    19: DeclineReason.TRANSACTION_NOT_FOUND,
    20: DeclineReason.TRANSACTION_NOT_FOUND,  # CUSTREF not found
    22: DeclineReason.INVALID_CARD,
    23: DeclineReason.INVALID_CARD,
    24: DeclineReason.INVALID_EXPIRY,
    29: DeclineReason.INVALID_REQUEST,
    30: DeclineReason.DUPLICATE_TRANSACTION,
    36: DeclineReason.PROCESSING_ERROR,
    50: DeclineReason.INSUFFICIENT_FUNDS,
    51: DeclineReason.LIMIT_EXCEEDED,
    99: DeclineReason.PROCESSING_ERROR,
    101: DeclineReason.INVALID_REQUEST,
    102: DeclineReason.PROCESSING_ERROR,  # processor not available: nothing was processed
    105: DeclineReason.INVALID_STATE,  # credit error
    106: DeclineReason.PROCESSING_ERROR,  # host not available
    108: DeclineReason.INVALID_STATE,  # void error
    110: DeclineReason.INVALID_STATE,
    111: DeclineReason.INVALID_STATE,  # capture error
    112: DeclineReason.AVS_MISMATCH,
    113: DeclineReason.LIMIT_EXCEEDED,
    114: DeclineReason.INVALID_CVV,
    115: DeclineReason.PROCESSING_ERROR,  # system busy
    116: DeclineReason.PROCESSING_ERROR,
    117: DeclineReason.INVALID_REQUEST,  # the merchant's own security settings refused it
    118: DeclineReason.INVALID_REQUEST,
    120: DeclineReason.INVALID_STATE,  # reference to a failed transaction
    122: DeclineReason.LIMIT_EXCEEDED,
    125: DeclineReason.FRAUD_SUSPECTED,
    128: DeclineReason.FRAUD_SUSPECTED,
    151: DeclineReason.PROCESSING_ERROR,  # issuing bank unavailable
    1000: DeclineReason.PROCESSING_ERROR,  # generic host error
}

# (AVSADDR, AVSZIP): X means the issuer did not check that part.
AVS_RESULTS: dict[tuple[str | None, str | None], AvsResult] = {
    ("Y", "Y"): AvsResult.MATCH,
    ("Y", "N"): AvsResult.ADDRESS_ONLY,
    ("Y", "X"): AvsResult.ADDRESS_ONLY,
    ("N", "Y"): AvsResult.POSTAL_ONLY,
    ("X", "Y"): AvsResult.POSTAL_ONLY,
    ("N", "N"): AvsResult.NO_MATCH,
    ("N", "X"): AvsResult.NO_MATCH,
    ("X", "N"): AvsResult.NO_MATCH,
}

CVV_RESULTS: dict[str, CvvResult] = {
    "Y": CvvResult.MATCH,
    "N": CvvResult.NO_MATCH,
    "X": CvvResult.UNAVAILABLE,  # the issuer does not support the check
}

# TRANSSTATE of an inquiry. 0 is an account verification or a "general success" that names no
# state, so it stays UNKNOWN; settlement failures (11, 12, 14, ...) and the +100/+200 "no
# acknowledgement" states are UNKNOWN too.
TRANSSTATES: dict[int, GatewayState] = {
    1: GatewayState.DECLINED,
    3: GatewayState.AUTHORIZED,
    4: GatewayState.CAPTURED,  # partially captured authorization
    6: GatewayState.CAPTURED,  # settlement pending
    7: GatewayState.CAPTURED,  # settlement in progress
    8: GatewayState.CAPTURED,  # settled
    9: GatewayState.CAPTURED,  # authorization captured
}
VOIDED_INCREMENT = 1000  # a void adds 1000 to the original TRANSSTATE (3 → 1003, 6 → 1006)

# A V with an ORIGID that cannot exist moves no money; ActiveMerchant checks credentials this
# way. Good credentials get "not found" (19) or a format error (7), bad ones RESULT 1 or 26.
VERIFY_ACCEPTED: frozenset[int] = frozenset({0, 7, 19})


# Payflow's default currency when a reply does not name one (amounts are "dollars, two decimals").
DEFAULT_CURRENCY = "USD"

# --- replies ---------------------------------------------------------------------------------


def _minor_units(reply: PayflowReply, currency: str | None, fallback: int | None) -> int | None:
    if reply.amt is None:
        return fallback
    try:
        return Money.from_decimal(reply.amt, currency or reply.currency or DEFAULT_CURRENCY).amount
    except ValueError:
        return fallback


def avs_result(reply: PayflowReply) -> AvsResult:
    """Our AVS result from AVSADDR and AVSZIP; unknown pairs are UNAVAILABLE."""
    return AVS_RESULTS.get((reply.avsaddr, reply.avszip), AvsResult.UNAVAILABLE)


def cvv_result(reply: PayflowReply, *, cvv_sent: bool) -> CvvResult:
    """Our CVV result from CVV2MATCH; its absence says whether a CVV was sent."""
    if reply.cvv2match is None:
        return CvvResult.NOT_PROCESSED if cvv_sent else CvvResult.NOT_PROVIDED
    return CVV_RESULTS.get(reply.cvv2match, CvvResult.UNAVAILABLE)


def _classify(operation: Operation, reply: PayflowReply, **fields: Any) -> GatewayResult:
    """RESULT → outcome: 0 approves; unknown codes are never a success nor a decline."""
    common: dict[str, Any] = {
        "transaction_id": reply.pnref,
        "raw_code": str(reply.result),
        "raw_message": gateway_text(reply.respmsg),
        **fields,
    }
    if reply.result == 0:
        return GatewayResult(operation, Outcome.APPROVED, auth_code=reply.authcode, **common)
    common.pop("amount", None)  # nothing was processed
    if reply.result in CONFIG_RESULTS:
        # Nothing reached an issuer, so the same card may succeed on another account.
        return config_error(operation, **common)
    reason = DECLINE_REASONS.get(reply.result)
    if reason is None or reply.result in UNCERTAIN_RESULTS:
        return GatewayResult(
            operation,
            Outcome.GATEWAY_ERROR,
            decline_reason=DeclineReason.PROCESSING_ERROR,
            retryable=False,  # inquire before trying again: the processor may have acted
            **common,
        )
    return declined(operation, reason, **common)


def from_payment_response(
    operation: Operation,
    reply: PayflowReply,
    *,
    amount: int,
    currency: str,
    cvv_sent: bool,
) -> GatewayResult:
    """A sale or an authorization; AVS and CVV are read whatever the RESULT."""
    return _classify(
        operation,
        reply,
        amount=_minor_units(reply, currency, amount),
        avs=avs_result(reply),
        cvv=cvv_result(reply, cvv_sent=cvv_sent),
    )


def from_reference_response(
    operation: Operation,
    reply: PayflowReply,
    *,
    amount: int | None = None,
    currency: str | None = None,
) -> GatewayResult:
    """A capture, void or refund: the new transaction's PNREF and the amount it moved."""
    return _classify(operation, reply, amount=_minor_units(reply, currency, amount))


def from_verify_response(reply: PayflowReply) -> GatewayResult:
    """The verify result: "not found" or a format error means the credentials worked."""
    if reply.result in VERIFY_ACCEPTED:
        return GatewayResult(
            Operation.VERIFY,
            Outcome.APPROVED,
            raw_code=str(reply.result),
            raw_message=gateway_text(reply.respmsg),
        )
    return _classify(Operation.VERIFY, reply, transaction_id=None)


def inquiry_state(reply: PayflowReply) -> GatewayState:
    """What exists at Payflow per an inquiry reply (TRANSSTATE, voids, ORIGRESULT)."""
    if reply.origresult not in (None, 0):
        return GatewayState.DECLINED
    if reply.transstate is None:
        return GatewayState.UNKNOWN
    if VOIDED_INCREMENT <= reply.transstate < 1_000_000:
        return GatewayState.VOIDED
    return TRANSSTATES.get(reply.transstate, GatewayState.UNKNOWN)


def from_inquire_response(reply: PayflowReply) -> GatewayResult:
    """A lookup that found the transaction is APPROVED whatever the transaction's own fate,
    which `state` carries; not found is a TRANSACTION_NOT_FOUND decline with state NOT_FOUND."""
    if reply.result != 0:
        result = _classify(Operation.INQUIRE, reply, transaction_id=None)
        if result.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND:
            return dataclasses.replace(result, state=GatewayState.NOT_FOUND)
        return result
    return GatewayResult(
        Operation.INQUIRE,
        Outcome.APPROVED,
        transaction_id=reply.origpnref or reply.pnref,
        auth_code=reply.authcode,
        amount=_minor_units(reply, None, None),
        avs=avs_result(reply),
        cvv=CVV_RESULTS.get(reply.cvv2match or "", CvvResult.UNAVAILABLE),
        raw_code=str(reply.result),
        raw_message=gateway_text(reply.respmsg),
        state=inquiry_state(reply),
    )
