"""The life of a payment: which status can follow which, and the one error for a move that
cannot happen.

    pending ──► authorized ──► captured ──► partially_refunded ──► refunded
       │            │             └──────────────────────────────► refunded
       │            └──► voided
       ├──► captured   (a sale)
       ├──► declined
       └──► failed     (nothing charged: error before send, or an inquiry found nothing)
"""

import enum

from avnz.core.errors import Conflict


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    DECLINED = "declined"
    FAILED = "failed"


class PaymentAction(enum.StrEnum):
    AUTHORIZE = "authorize"  # the gateway approved an authorization
    SALE = "sale"  # the gateway approved a sale
    DECLINE = "decline"
    FAIL = "fail"
    CAPTURE = "capture"
    VOID = "void"
    REFUND_PART = "refund_part"
    REFUND_ALL = "refund_all"


S, A = PaymentStatus, PaymentAction

_MOVES: dict[tuple[PaymentStatus, PaymentAction], PaymentStatus] = {
    (S.PENDING, A.AUTHORIZE): S.AUTHORIZED,
    (S.PENDING, A.SALE): S.CAPTURED,
    (S.PENDING, A.DECLINE): S.DECLINED,
    (S.PENDING, A.FAIL): S.FAILED,
    (S.AUTHORIZED, A.CAPTURE): S.CAPTURED,
    (S.AUTHORIZED, A.VOID): S.VOIDED,
    (S.CAPTURED, A.REFUND_PART): S.PARTIALLY_REFUNDED,
    (S.CAPTURED, A.REFUND_ALL): S.REFUNDED,
    (S.PARTIALLY_REFUNDED, A.REFUND_PART): S.PARTIALLY_REFUNDED,
    (S.PARTIALLY_REFUNDED, A.REFUND_ALL): S.REFUNDED,
}

FINAL = frozenset({S.VOIDED, S.DECLINED, S.FAILED, S.REFUNDED})
# The gateway approved it, whatever happened after (a voided authorization was approved too).
APPROVED = frozenset({S.AUTHORIZED, S.CAPTURED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.VOIDED})


class InvalidPaymentState(Conflict):
    default_code = "invalid_state"


def can(status: PaymentStatus, action: PaymentAction) -> bool:
    return (status, action) in _MOVES


def next_status(status: PaymentStatus, action: PaymentAction) -> PaymentStatus:
    """The status after `action`, or a 409 that says what the payment's status allows."""
    try:
        return _MOVES[(status, action)]
    except KeyError:
        allowed = sorted(a.value for (s, a) in _MOVES if s is status) or ["nothing"]
        raise InvalidPaymentState(
            f"A {status.value} payment cannot {_verb(action)}; it allows: {', '.join(allowed)}."
        ) from None


_PHRASES: dict[PaymentAction, str] = {
    A.AUTHORIZE: "be authorized",
    A.SALE: "be charged",
    A.DECLINE: "be declined",
    A.FAIL: "fail",
    A.CAPTURE: "be captured",
    A.VOID: "be voided",
    A.REFUND_PART: "be refunded",
    A.REFUND_ALL: "be refunded",
}


def _verb(action: PaymentAction) -> str:
    return _PHRASES[action]
