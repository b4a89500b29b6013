"""Stripe answers: Pydantic models of the objects we read (untrusted input, validated first) and
the pure `from_*_response` functions that turn them into a GatewayResult.
"""

import re
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from avnz.gateways.base import (
    AvsResult,
    CvvResult,
    DeclineReason,
    GatewayResult,
    GatewayState,
    HttpReply,
    Operation,
    Outcome,
    config_error,
    declined,
    gateway_text,
    unreadable_reply_result,
)
from avnz.gateways.stripe.codes import (
    APPROVED_STATUS,
    AVS_CHECKS,
    CVC_CHECKS,
    DECLINE_CHECKS,
    DECLINE_CODES,
    INTENT_STATES,
    MISSING_OBJECT,
    REFUND_FAILURES,
    STATE_AMOUNT,
    STATE_RANK,
)
from avnz.gateways.stripe.payloads import from_stripe_amount


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Checks(_Model):
    address_line1_check: str | None = None
    address_postal_code_check: str | None = None
    cvc_check: str | None = None


class CardDetails(_Model):
    checks: Checks | None = None


class PaymentMethodDetails(_Model):
    card: CardDetails | None = None


class Charge(_Model):
    id: str
    object: Literal["charge"]
    amount: int
    amount_captured: int = 0
    amount_refunded: int = 0
    refunded: bool = False
    payment_method_details: PaymentMethodDetails | None = None


class ErrorDetail(_Model):
    type: str | None = None
    code: str | None = None
    decline_code: str | None = None
    advice_code: str | None = None
    message: str | None = None


class PaymentIntent(_Model):
    id: str
    object: Literal["payment_intent"]
    amount: int
    amount_capturable: int = 0
    amount_received: int = 0
    currency: str
    status: str
    created: int = 0
    metadata: dict[str, str] = Field(default_factory=dict)
    latest_charge: Charge | str | None = None
    last_payment_error: ErrorDetail | None = None


class StripeError(ErrorDetail):
    payment_intent: PaymentIntent | None = None


class ErrorEnvelope(_Model):
    error: StripeError


class Refund(_Model):
    id: str
    object: Literal["refund"]
    amount: int
    currency: str
    status: str | None = None
    failure_reason: str | None = None


class IntentPage(_Model):
    """A list or a search result: the same envelope around PaymentIntents."""

    object: Literal["list", "search_result"]
    data: list[PaymentIntent]
    has_more: bool = False


class Balance(_Model):
    object: Literal["balance"]


# --- responses: mapping -----------------------------------------------------------------------

M = TypeVar("M", bound=_Model)


def from_payment_response(operation: Operation, reply: HttpReply) -> GatewayResult:
    """A PaymentIntent (sale, authorize, capture, void) or Stripe's error, as a result."""
    return _parse(operation, reply, PaymentIntent, partial(_intent_result, operation))


def from_refund_response(reply: HttpReply) -> GatewayResult:
    """The refund result of a Refund object or a Stripe error."""
    return _parse(Operation.REFUND, reply, Refund, _refund_result)


def from_verify_response(reply: HttpReply) -> GatewayResult:
    """`GET /v1/balance`: a 200 means the key works; it moves no money."""
    return _parse(
        Operation.VERIFY,
        reply,
        Balance,
        lambda _balance: GatewayResult(Operation.VERIFY, Outcome.APPROVED, raw_code="200"),
    )


def from_inquire_response(reply: HttpReply) -> GatewayResult:
    """`GET /v1/payment_intents/{id}`: the state found, or NOT_FOUND for an unknown id."""
    result = _parse(Operation.INQUIRE, reply, PaymentIntent, _inquiry_result)
    if result.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND:
        return replace(result, state=GatewayState.NOT_FOUND)
    return result


def from_search_response(reply: HttpReply, *, order_id: str) -> GatewayResult:
    """The inquiry result of a search page: the order's PaymentIntent, or not found."""
    return _parse(
        Operation.INQUIRE, reply, IntentPage, partial(_page_result, order_id, complete=True)
    )


def from_recent_response(reply: HttpReply, *, order_id: str) -> GatewayResult:
    """The list of recent PaymentIntents, filtered here: it sees what search does not yet."""
    return _parse(Operation.INQUIRE, reply, IntentPage, partial(_page_result, order_id))


def _parse(
    operation: Operation,
    reply: HttpReply,
    model: type[M],
    on_success: Callable[[M], GatewayResult],
) -> GatewayResult:
    if reply.status >= 500:
        return unreadable_reply_result(operation, reply, f"Stripe answered HTTP {reply.status}")
    try:
        if 200 <= reply.status < 300:
            result = on_success(model.model_validate_json(reply.body))
        else:
            error = ErrorEnvelope.model_validate_json(reply.body).error
            result = _error_result(operation, reply.status, error)
    except ValueError as exc:  # pydantic's ValidationError too; its text may quote the body
        why = f"unreadable Stripe reply, HTTP {reply.status} ({type(exc).__name__})"
        return unreadable_reply_result(operation, reply, why)
    return replace(result, latency_ms=reply.latency_ms)


def _intent_result(operation: Operation, intent: PaymentIntent) -> GatewayResult:
    charge = _charge(intent)
    fields: dict[str, Any] = {
        "transaction_id": intent.id,
        "avs": avs_result(charge),
        "cvv": cvv_result(charge),
    }
    approved_status, amount_field = APPROVED_STATUS.get(operation, ("", "amount"))
    if intent.status == approved_status:
        amount = _amount(intent, amount_field)
        return GatewayResult(
            operation, Outcome.APPROVED, amount=amount, raw_code=intent.status, **fields
        )
    if intent.status == "requires_action":
        return declined(
            operation,
            DeclineReason.AUTHENTICATION_REQUIRED,
            raw_code=intent.status,
            raw_message="the card requires 3-D Secure authentication by the customer",
            **fields,
        )
    if intent.status == "requires_payment_method" and intent.last_payment_error:
        return _decline(operation, intent.last_payment_error, status=402, **fields)
    # processing, requires_confirmation, or a status this code does not know: money may still
    # move, so this is neither an approval nor a decline; the caller inquires later.
    return GatewayResult(
        operation,
        Outcome.GATEWAY_ERROR,
        decline_reason=DeclineReason.PROCESSING_ERROR,
        raw_code=intent.status,
        raw_message=f"PaymentIntent is {intent.status}",
        **fields,
    )


def _refund_result(refund: Refund) -> GatewayResult:
    fields: dict[str, Any] = {"transaction_id": refund.id, "raw_code": refund.status}
    if refund.status == "succeeded":
        amount = from_stripe_amount(refund.amount, refund.currency)
        return GatewayResult(Operation.REFUND, Outcome.APPROVED, amount=amount, **fields)
    if refund.status in ("failed", "canceled"):
        reason = REFUND_FAILURES.get(refund.failure_reason or "", DeclineReason.GENERIC_DECLINE)
        return declined(Operation.REFUND, reason, raw_message=refund.failure_reason, **fields)
    # pending / requires_action: accepted but not done; inquire before acting on it.
    return GatewayResult(
        Operation.REFUND,
        Outcome.GATEWAY_ERROR,
        decline_reason=DeclineReason.PROCESSING_ERROR,
        raw_message=f"refund is {refund.status}",
        **fields,
    )


def _inquiry_result(intent: PaymentIntent) -> GatewayResult:
    state = intent_state(intent)
    charge = _charge(intent)
    return GatewayResult(
        Operation.INQUIRE,
        Outcome.APPROVED,  # the lookup worked; `state` says what it found
        transaction_id=intent.id,
        amount=_amount(intent, STATE_AMOUNT.get(state, "amount")),
        raw_code=intent.status,
        avs=avs_result(charge),
        cvv=cvv_result(charge),
        state=state,
    )


def _page_result(order_id: str, page: IntentPage, *, complete: bool = False) -> GatewayResult:
    # Search already filtered by order; the list is filtered here. Both are checked, so a
    # search backend that ignored the query could not hand us somebody else's payment.
    intents = [i for i in page.data if i.metadata.get("order_id") == order_id]
    if intents:
        return _inquiry_result(min(intents, key=_inquiry_rank))
    if page.has_more and not complete:
        return GatewayResult(
            Operation.INQUIRE,
            Outcome.GATEWAY_ERROR,
            decline_reason=DeclineReason.PROCESSING_ERROR,
            raw_message="too many recent payments to rule this order out",
            state=GatewayState.UNKNOWN,
        )
    return not_found_result(f"no PaymentIntent with metadata order_id {order_id!r}")


def _inquiry_rank(intent: PaymentIntent) -> tuple[int, int]:
    return STATE_RANK[intent_state(intent)], -intent.created


def not_found_result(message: str) -> GatewayResult:
    """The inquiry result "Stripe has no such PaymentIntent"."""
    return declined(
        Operation.INQUIRE,
        DeclineReason.TRANSACTION_NOT_FOUND,
        raw_code="resource_missing",
        raw_message=message[:200],
        state=GatewayState.NOT_FOUND,
    )


def intent_state(intent: PaymentIntent) -> GatewayState:
    """What exists at Stripe per a PaymentIntent, refunds of its charge included."""
    if intent.status == "requires_payment_method":
        # With an error it was tried and declined; without, it was never confirmed.
        return GatewayState.DECLINED if intent.last_payment_error else GatewayState.UNKNOWN
    state = INTENT_STATES.get(intent.status, GatewayState.UNKNOWN)
    charge = _charge(intent)
    if state is GatewayState.CAPTURED and charge is not None and charge.amount_refunded:
        fully = charge.refunded or charge.amount_refunded >= charge.amount_captured
        return GatewayState.REFUNDED if fully else GatewayState.PARTIALLY_REFUNDED
    return state


def _error_result(operation: Operation, status: int, error: StripeError) -> GatewayResult:
    message = clean_message(error.message)
    if status in (401, 403) or _raw_cards_refused(error):
        return config_error(operation, message, raw_code=error.code or str(status))
    if status == 409:
        # The same Idempotency-Key is still being processed (or the object is locked): the
        # first request may be charging right now.
        return GatewayResult(
            operation,
            Outcome.GATEWAY_ERROR,
            decline_reason=DeclineReason.PROCESSING_ERROR,
            raw_code=error.code or "409",
            raw_message=message,
        )
    intent = error.payment_intent
    fields: dict[str, Any] = {"transaction_id": intent.id} if intent else {}
    charge = _charge(intent) if intent else None
    if charge is not None:
        fields |= {"avs": avs_result(charge), "cvv": cvv_result(charge)}
    return _decline(operation, error, status=status, **fields)


def _decline(
    operation: Operation, error: ErrorDetail, *, status: int, **fields: Any
) -> GatewayResult:
    reason = decline_reason(operation, status, error)
    hints = {k: v for k, v in DECLINE_CHECKS.get(reason, {}).items() if k not in fields}
    result = declined(
        operation,
        reason,
        raw_code=error.decline_code or error.code or error.type,
        raw_message=clean_message(error.message),
        **fields,
        **hints,
    )
    if error.advice_code == "do_not_try_again" and result.outcome is Outcome.SOFT_DECLINE:
        # Stripe's retry advice is stronger than the code's usual meaning.
        return replace(result, outcome=Outcome.HARD_DECLINE, retryable=False)
    return result


def decline_reason(operation: Operation, status: int, error: ErrorDetail) -> DeclineReason:
    """Stripe's status, error type and codes as one of our decline reasons."""
    if status == 429:  # rate limited or lock timeout: Stripe did not execute the request
        return DeclineReason.RATE_LIMITED
    if error.type == "idempotency_error":
        return DeclineReason.INVALID_REQUEST
    if status == 404 or error.code == "resource_missing":
        return MISSING_OBJECT.get(operation, DeclineReason.TRANSACTION_NOT_FOUND)
    code = (error.decline_code or error.code) if error.code == "card_declined" else error.code
    fallback = (
        DeclineReason.GENERIC_DECLINE
        if error.type == "card_error"
        else DeclineReason.INVALID_REQUEST
    )
    return DECLINE_CODES.get(code or "", fallback)


def _raw_cards_refused(error: ErrorDetail) -> bool:
    # Stripe gives this refusal no code; its message is the only marker.
    return error.type == "invalid_request_error" and "card numbers directly" in (
        error.message or ""
    )


def avs_result(charge: Charge | None) -> AvsResult:
    """Our AVS result from the charge's address checks."""
    checks = _checks(charge)
    if checks is None:
        return AvsResult.UNAVAILABLE
    key = (_pass_fail(checks.address_line1_check), _pass_fail(checks.address_postal_code_check))
    return AVS_CHECKS[key]


def cvv_result(charge: Charge | None) -> CvvResult:
    """Our CVV result from the charge's cvc_check."""
    checks = _checks(charge)
    if checks is None:
        return CvvResult.UNAVAILABLE
    return CVC_CHECKS.get(checks.cvc_check, CvvResult.UNAVAILABLE)


def _pass_fail(check: str | None) -> str:
    return check if check in ("pass", "fail") else "other"


def _checks(charge: Charge | None) -> Checks | None:
    details = charge.payment_method_details if charge else None
    return details.card.checks if details and details.card else None


def _charge(intent: PaymentIntent) -> Charge | None:
    return intent.latest_charge if isinstance(intent.latest_charge, Charge) else None


def _amount(intent: PaymentIntent, field: str) -> int:
    return from_stripe_amount(int(getattr(intent, field)), intent.currency)


_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,18}")


def clean_message(message: str | None) -> str | None:
    """Stripe's message, short, with anything that looks like a card number or key masked."""
    if not message:
        return None
    return gateway_text(
        _DIGIT_RUN.sub(lambda m: "••••" + re.sub(r"\D", "", m.group(0))[-4:], message)
    )
