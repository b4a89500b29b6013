"""Stripe: PaymentIntents and Refunds over form-encoded REST (reference/gateways.md, section 4).

A sale or an authorization is one `POST /v1/payment_intents` with `confirm=true`; capture, cancel
and refund follow by PaymentIntent id. Lookups use `GET /v1/payment_intents/{id}` and, by our
order id (always sent as `metadata[order_id]`), the search API. Stripe's search index lags writes
(usually under a minute), so an empty search is confirmed against the strongly consistent list of
recent PaymentIntents before we answer NOT_FOUND: after a timeout "not found" must mean "not
charged", or the caller would charge the customer twice.

Cards: a gateway token is a PaymentMethod id (`pm_…`) sent as `payment_method`. Raw card numbers
go out as `payment_method_data[card][…]` and only work on accounts for which Stripe has enabled
raw card data APIs (PCI SAQ D); any other account refuses them, which we report as CONFIG_ERROR.

The wire mapping lives in the pure functions `to_*_payload` / `to_*_params` and `from_*_response`
below; the connector class only sends and logs.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar, Final, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from avnz.core import clock
from avnz.core.money import Money, currency_exponent
from avnz.gateways.base import (
    Address,
    AvsResult,
    CaptureRequest,
    Card,
    Connector,
    CvvResult,
    DeclineReason,
    Environment,
    GatewayResult,
    GatewayState,
    HttpReply,
    InquireRequest,
    Operation,
    Outcome,
    PaymentRequest,
    RefundRequest,
    TransportFailure,
    VoidRequest,
    config_error,
    declined,
    gateway_text,
    send,
    transport_failure_result,
    unreadable_reply_result,
)

# Pinned so the objects we parse keep their shape whatever the account's default version is.
API_VERSION: Final = "2024-06-20"
# How far back the consistent list is read when search finds nothing (search lags about a
# minute; the wide margin covers slow retries without paging through much).
RECENT_WINDOW_SECONDS: Final = 15 * 60
RECENT_LIMIT: Final = 100

# Stripe's smallest unit differs from ISO 4217's minor unit only here: ISK stays two-decimal in
# the API (amounts must be multiples of 100) although ISO and the card networks use none.
STRIPE_EXPONENT: Final[Mapping[str, int]] = {"ISK": 2}

# Stripe's refund reasons; anything else we were given travels as metadata instead.
REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

KEY_PREFIXES: Final[Mapping[Environment, tuple[str, ...]]] = {
    Environment.SANDBOX: ("sk_test_", "rk_test_"),
    Environment.PRODUCTION: ("sk_live_", "rk_live_"),
}

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

# --- amounts ----------------------------------------------------------------------------------


def stripe_exponent(currency: str) -> int:
    code = currency.upper()
    return STRIPE_EXPONENT.get(code, currency_exponent(code))


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our ISO minor units as Stripe's smallest unit (identical except for STRIPE_EXPONENT)."""
    major = Money(amount, currency).to_decimal()
    return int(major.scaleb(stripe_exponent(currency)))


def from_stripe_amount(amount: int, currency: str) -> int:
    """Stripe's smallest unit as ISO minor units; ValueError for a fraction ISO cannot hold."""
    major = Decimal(amount).scaleb(-stripe_exponent(currency))
    return Money.from_decimal(major, currency.upper()).amount


# --- requests ---------------------------------------------------------------------------------


def to_sale_payload(request: PaymentRequest) -> dict[str, str]:
    return _payment_payload(request, capture_method="automatic")


def to_authorize_payload(request: PaymentRequest) -> dict[str, str]:
    return _payment_payload(request, capture_method="manual")


def _payment_payload(request: PaymentRequest, *, capture_method: str) -> dict[str, str]:
    payload = {
        "amount": str(to_stripe_amount(request.amount, request.currency)),
        "currency": request.currency.lower(),
        "confirm": "true",
        "capture_method": capture_method,
        # Card only: recent API versions otherwise enable redirect methods and demand return_url.
        "payment_method_types[]": "card",
        "expand[]": "latest_charge",  # the charge carries the AVS and CVC checks
    }
    payload.update(_optional(description=request.description, **_descriptor(request.descriptor)))
    payload.update(_metadata(request))
    if request.card is not None:
        payload.update(_card_fields(request.card, request.billing, request.email))
    else:
        payload["payment_method"] = str(request.token)
    return payload


def _descriptor(descriptor: str | None) -> dict[str, str | None]:
    # Card payments accept only the suffix (the prefix is set on the account), 22 characters.
    return {"statement_descriptor_suffix": descriptor[:22] if descriptor else None}


def _metadata(request: PaymentRequest) -> dict[str, str]:
    fields = {f"metadata[{key}]": value for key, value in request.metadata.items()}
    # Our ids win over caller metadata: inquire() finds the payment by metadata[order_id].
    fields["metadata[order_id]"] = request.order_id
    if request.customer_id:
        fields["metadata[customer_id]"] = request.customer_id
    return fields


def _card_fields(card: Card, billing: Address | None, email: str | None) -> dict[str, str]:
    fields = {
        "payment_method_data[type]": "card",
        "payment_method_data[card][number]": card.number,
        "payment_method_data[card][exp_month]": str(card.exp_month),
        "payment_method_data[card][exp_year]": str(card.exp_year),
    }
    if card.cvv:
        fields["payment_method_data[card][cvc]"] = card.cvv
    details = _billing_details(card, billing, email)
    fields.update({f"payment_method_data[billing_details]{k}": v for k, v in details.items()})
    return fields


def _billing_details(card: Card, billing: Address | None, email: str | None) -> dict[str, str]:
    address = billing or Address()
    billing_name = " ".join(filter(None, (address.first_name, address.last_name)))
    return _optional(
        **{
            "[name]": card.holder_name or billing_name or None,
            "[email]": email,
            "[phone]": address.phone,
            "[address][line1]": address.line1,
            "[address][line2]": address.line2,
            "[address][city]": address.city,
            "[address][state]": address.state,
            "[address][postal_code]": address.postal_code,
            "[address][country]": address.country,
        }
    )


def to_capture_payload(request: CaptureRequest) -> dict[str, str]:
    payload = {"expand[]": "latest_charge"}
    if request.amount is not None:
        payload["amount_to_capture"] = str(to_stripe_amount(request.amount, request.currency))
    return payload


def to_void_payload(_request: VoidRequest) -> dict[str, str]:
    return {"expand[]": "latest_charge"}


def to_refund_payload(request: RefundRequest) -> dict[str, str]:
    # Stripe refunds by PaymentIntent; a charge id (ch_…) from an older integration also works.
    target = "charge" if request.transaction_id.startswith("ch_") else "payment_intent"
    payload = {target: request.transaction_id}
    if request.amount is not None:
        payload["amount"] = str(to_stripe_amount(request.amount, request.currency))
    reason_field = "reason" if request.reason in REFUND_REASONS else "metadata[reason]"
    payload.update(_optional(**{reason_field: request.reason}))
    payload.update(_optional(**{"metadata[order_id]": request.order_id}))
    return payload


def to_lookup_params() -> list[tuple[str, str]]:
    return [("expand[]", "latest_charge")]


def to_search_params(order_id: str) -> list[tuple[str, str]]:
    escaped = order_id.replace("\\", "\\\\").replace("'", "\\'")
    return [
        ("query", f"metadata['order_id']:'{escaped}'"),
        ("limit", "100"),
        ("expand[]", "data.latest_charge"),
    ]


def to_recent_params(now_ts: int) -> list[tuple[str, str]]:
    return [
        ("created[gte]", str(now_ts - RECENT_WINDOW_SECONDS)),
        ("limit", str(RECENT_LIMIT)),
        ("expand[]", "data.latest_charge"),
    ]


def _optional(**fields: str | None) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value}


# --- responses: shapes ------------------------------------------------------------------------


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
    return declined(
        Operation.INQUIRE,
        DeclineReason.TRANSACTION_NOT_FOUND,
        raw_code="resource_missing",
        raw_message=message[:200],
        state=GatewayState.NOT_FOUND,
    )


def intent_state(intent: PaymentIntent) -> GatewayState:
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
    checks = _checks(charge)
    if checks is None:
        return AvsResult.UNAVAILABLE
    key = (_pass_fail(checks.address_line1_check), _pass_fail(checks.address_postal_code_check))
    return AVS_CHECKS[key]


def cvv_result(charge: Charge | None) -> CvvResult:
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


def key_problem(environment: Environment, key: str) -> str | None:
    """Why this key cannot work in this environment (a live key against the sandbox...)."""
    if key.startswith(KEY_PREFIXES[environment]):
        return None
    expected = " or ".join(f"{prefix}…" for prefix in KEY_PREFIXES[environment])
    return f"a {environment.value} Stripe account needs a key starting {expected}"


# --- the connector ----------------------------------------------------------------------------

Parser = Callable[[HttpReply], GatewayResult]


class StripeConnector(Connector):
    name = "stripe"
    display_name = "Stripe"
    # One host for test and live: the key decides (sk_test_… / sk_live_…).
    base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SANDBOX: "https://api.stripe.com",
        Environment.PRODUCTION: "https://api.stripe.com",
    }
    credentials_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "title": "Stripe",
        "description": "An API key of the Stripe account that processes the payments.",
        "required": ["secret_key"],
        "additionalProperties": False,
        "properties": {
            "secret_key": {
                "type": "string",
                "title": "Secret key",
                "description": (
                    "Secret (sk_…) or restricted (rk_…) key with write access to PaymentIntents "
                    "and Refunds: a test key (sk_test_…) for sandbox accounts, a live key "
                    "(sk_live_…) for production. Raw card numbers also need Stripe to enable "
                    "raw card data APIs on the account; tokens (pm_…) do not."
                ),
                "pattern": "^(sk|rk)_(test|live)_[A-Za-z0-9]+$",
                "minLength": 16,
                "writeOnly": True,
            },
        },
    }

    async def sale(self, request: PaymentRequest) -> GatewayResult:
        return await self._post(
            Operation.SALE,
            "/v1/payment_intents",
            to_sale_payload(request),
            request.idempotency_key,
            partial(from_payment_response, Operation.SALE),
        )

    async def authorize(self, request: PaymentRequest) -> GatewayResult:
        return await self._post(
            Operation.AUTHORIZE,
            "/v1/payment_intents",
            to_authorize_payload(request),
            request.idempotency_key,
            partial(from_payment_response, Operation.AUTHORIZE),
        )

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        return await self._post(
            Operation.CAPTURE,
            f"/v1/payment_intents/{_segment(request.transaction_id)}/capture",
            to_capture_payload(request),
            request.idempotency_key,
            partial(from_payment_response, Operation.CAPTURE),
        )

    async def void(self, request: VoidRequest) -> GatewayResult:
        return await self._post(
            Operation.VOID,
            f"/v1/payment_intents/{_segment(request.transaction_id)}/cancel",
            to_void_payload(request),
            request.idempotency_key,
            partial(from_payment_response, Operation.VOID),
        )

    async def refund(self, request: RefundRequest) -> GatewayResult:
        return await self._post(
            Operation.REFUND,
            "/v1/refunds",
            to_refund_payload(request),
            request.idempotency_key,
            from_refund_response,
        )

    async def verify(self) -> GatewayResult:
        return await self._get(Operation.VERIFY, "/v1/balance", [], from_verify_response)

    async def inquire(self, request: InquireRequest) -> GatewayResult:
        if request.transaction_id:
            path = f"/v1/payment_intents/{_segment(request.transaction_id)}"
            return await self._get(
                Operation.INQUIRE, path, to_lookup_params(), from_inquire_response
            )
        order_id = str(request.order_id)
        found = await self._get(
            Operation.INQUIRE,
            "/v1/payment_intents/search",
            to_search_params(order_id),
            partial(from_search_response, order_id=order_id),
        )
        if found.state is not GatewayState.NOT_FOUND:
            return found
        now_ts = int(clock.now().timestamp())
        recent = await self._get(
            Operation.INQUIRE,
            "/v1/payment_intents",
            to_recent_params(now_ts),
            partial(from_recent_response, order_id=order_id),
        )
        return replace(recent, latency_ms=round(found.latency_ms + recent.latency_ms, 2))

    async def _post(
        self,
        operation: Operation,
        path: str,
        payload: Mapping[str, str],
        idempotency_key: str | None,
        parse: Parser,
    ) -> GatewayResult:
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return await self._exchange(operation, "POST", path, parse, extra, data=payload)

    async def _get(
        self, operation: Operation, path: str, params: list[tuple[str, str]], parse: Parser
    ) -> GatewayResult:
        return await self._exchange(operation, "GET", path, parse, {}, params=params)

    async def _exchange(
        self,
        operation: Operation,
        method: str,
        path: str,
        parse: Parser,
        extra_headers: Mapping[str, str],
        **kwargs: Any,
    ) -> GatewayResult:
        try:
            key = self.credential("secret_key")
        except ValueError as exc:
            return self.logged(config_error(operation, str(exc)[:200], request_sent=False))
        problem = key_problem(self.config.environment, key)
        if problem:
            return self.logged(config_error(operation, problem[:200], request_sent=False))
        headers = {"Authorization": f"Bearer {key}", "Stripe-Version": API_VERSION, **extra_headers}
        try:
            reply = await send(
                self.http,
                method,
                self.base_url + path,
                timeouts=self.config.timeouts,
                headers=headers,
                **kwargs,
            )
        except TransportFailure as failure:
            return self.logged(transport_failure_result(operation, failure))
        return self.logged(parse(reply))


def _segment(transaction_id: str) -> str:
    # Ids come from our database, but a stray "/" must never reach another endpoint.
    return quote(transaction_id, safe="")
