"""PaymentIntents in the Stripe sandbox: create and confirm (at once or later), capture,
cancel, retrieve, list and search, with the charge each one carries, and the webhook events of
each change. State changes only through these handlers.
"""

import re
import secrets
from collections.abc import Callable
from typing import Any, NoReturn

from avnz.core import clock
from avnz.gateways.sandbox.common import SandboxTxn, auth_code
from avnz.gateways.stripe.sandbox.calls import (
    Call,
    Params,
    StripeApiError,
    StripeSandbox,
    check_amount,
    currency_param,
    emit,
    int_param,
    invalid_request,
    live_customer,
    missing,
    positive,
)
from avnz.gateways.stripe.sandbox.cards import (
    ERROR_PARAMS,
    CardInput,
    attach,
    card_param,
    method_card,
    trigger_key,
    trigger_number,
)
from avnz.gateways.stripe.sandbox.disputes import open_dispute
from avnz.gateways.stripe.sandbox.tables import (
    APPROVE,
    CANCELABLE,
    CANCELLATION_REASONS,
    CAPTURE_METHODS,
    CREATED_FILTERS,
    MESSAGES,
    SEARCH_CLAUSE,
    SEARCH_FIELDS,
    STATUS_STATE,
    TRIGGERS,
    Trigger,
    charge_ids,
)


def create_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_intents: create, and with confirm=true charge the card."""
    params = call.params
    amount = int_param(params, "amount", required=True) or 0
    currency = currency_param(params)
    check_amount(amount, currency)
    capture_method = params.get("capture_method") or "automatic"
    if capture_method not in CAPTURE_METHODS:
        raise invalid_request(
            "Invalid capture_method: must be one of automatic, automatic_async, or manual",
            param="capture_method",
        )
    customer = _customer(sandbox, params)
    card = card_param(sandbox, params)
    confirm = params.get("confirm") == "true"
    if confirm and card is None:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    txn = sandbox.state.ledger.add(_new_intent(sandbox, params, amount, currency, card))
    txn.extra |= {"capture_method": capture_method, "customer": customer}
    emit(sandbox, call, "payment_intent.created", _intent_json(txn, set()))
    # The PaymentIntent exists before the card runs: a declined one stays in the ledger.
    if confirm and card is not None:
        _confirm(sandbox, call, txn, card)
    return _intent_json(txn, params.expand())


def confirm_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_intents/{intent}/confirm, optionally with the payment method."""
    txn = find_intent(sandbox, call.path["intent"])
    _require_status(
        txn, ("requires_payment_method", "requires_confirmation", "requires_action"), "confirmed"
    )
    card = card_param(sandbox, call.params) or _intent_card(sandbox, txn)
    if card is None:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    txn.card_last4 = card.last4
    txn.extra |= {"payment_method": card.method_id, "card": card.details()}
    txn.extra["last_payment_error"] = txn.extra["next_action"] = None
    _confirm(sandbox, call, txn, card)
    return _intent_json(txn, call.params.expand())


def _intent_card(sandbox: StripeSandbox, txn: SandboxTxn) -> CardInput | None:
    method_id = txn.extra.get("payment_method")
    return method_card(sandbox, method_id) if method_id else None


def _customer(sandbox: StripeSandbox, params: Params) -> str | None:
    customer_id = params.get("customer")
    if not customer_id:
        return None
    return str(live_customer(sandbox, customer_id, "customer")["id"])


def _new_intent(
    sandbox: StripeSandbox, params: Params, amount: int, currency: str, card: CardInput | None
) -> SandboxTxn:
    metadata = params.prefixed("metadata")
    status = "requires_confirmation" if card else "requires_payment_method"
    return SandboxTxn(
        id=sandbox.state.ledger.new_id(),
        kind="payment_intent",
        amount=amount,
        currency=currency,
        state=STATUS_STATE[status],
        order_id=metadata.get("order_id"),
        card_last4=card.last4 if card else None,
        extra={
            "status": status,
            "created": int(clock.now().timestamp()),
            "secret": secrets.token_urlsafe(18),
            "metadata": metadata,
            "description": params.get("description"),
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "payment_method": card.method_id if card else None,
            "card": card.details() if card else None,
            "setup_future_usage": params.get("setup_future_usage"),
            "amount_capturable": 0,
        },
    )


def _confirm(sandbox: StripeSandbox, call: Call, txn: SandboxTxn, card: CardInput) -> None:
    """Run the card: approve, ask for 3-D Secure, or decline (raising Stripe's 402)."""
    trigger = TRIGGERS.get(card.number, APPROVE)
    txn.extra["trigger"] = trigger_key(card.number)  # never the number itself
    if trigger.requires_action:
        _set_status(txn, "requires_action")
        txn.extra["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
        emit(sandbox, call, "payment_intent.requires_action", _intent_json(txn, set()))
        return
    failure = _failure(card, trigger)
    txn.extra["charge"] = _new_charge(card, trigger, failure)
    if failure is not None:
        _decline(sandbox, call, txn, *failure)
    txn.auth_code = auth_code()
    customer = txn.extra.get("customer")
    if customer and txn.extra.get("setup_future_usage") and card.method_id:
        attach(sandbox, card.method_id, customer, call)
    emit(sandbox, call, "charge.succeeded", charge_json(txn))
    if txn.extra["capture_method"] == "manual":
        txn.extra["amount_capturable"] = txn.amount
        _set_status(txn, "requires_capture")
        emit(sandbox, call, "payment_intent.amount_capturable_updated", _intent_json(txn, set()))
    else:
        txn.captured = txn.amount
        _set_status(txn, "succeeded")
        emit(sandbox, call, "payment_intent.succeeded", _intent_json(txn, set()))
        _disputed(sandbox, call, txn, trigger)


def _disputed(sandbox: StripeSandbox, call: Call, txn: SandboxTxn, trigger: Trigger) -> None:
    """A dispute test card is disputed as soon as its charge is captured."""
    if trigger.dispute is not None:
        txn.extra["dispute"] = open_dispute(sandbox, call, txn, trigger)


def _failure(card: CardInput, trigger: Trigger) -> tuple[str, str | None] | None:
    if trigger.code:
        return trigger.code, trigger.decline_code
    if trigger.cvc_declines and card.cvc_sent:
        return "incorrect_cvc", None
    return None


def _new_charge(
    card: CardInput, trigger: Trigger, failure: tuple[str, str | None] | None
) -> dict[str, Any]:
    return {
        "id": charge_ids(),
        "status": "failed" if failure else "succeeded",
        "created": int(clock.now().timestamp()),
        "failure_code": failure[0] if failure else None,
        "outcome": _outcome(trigger, failure),
        "card": card.details(),
        "checks": {
            "address_line1_check": trigger.line1 if card.line1_sent else None,
            "address_postal_code_check": trigger.postal if card.postal_sent else None,
            "cvc_check": trigger.cvc if card.cvc_sent else None,
        },
    }


def _outcome(trigger: Trigger, failure: tuple[str, str | None] | None) -> dict[str, Any]:
    if failure is None:
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    if trigger.blocked:
        return {
            "network_status": "not_sent_to_network",
            "reason": "highest_risk_level",
            "risk_level": "highest",
            "seller_message": "Stripe blocked this payment as too risky.",
            "type": "blocked",
        }
    code, decline_code = failure
    return {
        "network_status": "declined_by_network",
        "reason": decline_code or code,
        "risk_level": "normal",
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def _decline(
    sandbox: StripeSandbox, call: Call, txn: SandboxTxn, code: str, decline_code: str | None
) -> NoReturn:
    charge_id = txn.extra["charge"]["id"]
    param = ERROR_PARAMS.get(code)
    error = {
        "type": "card_error",
        "code": code,
        "message": MESSAGES[decline_code or code],
        "charge": charge_id,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        **({"decline_code": decline_code} if decline_code else {}),
        **({"param": param} if param else {}),
        "payment_method": {"id": txn.extra["payment_method"], "object": "payment_method"},
    }
    txn.extra["last_payment_error"] = error
    _set_status(txn, "requires_payment_method")
    emit(sandbox, call, "charge.failed", charge_json(txn))
    emit(sandbox, call, "payment_intent.payment_failed", _intent_json(txn, set()))
    # A decline is an executed request: Stripe stores it under the Idempotency-Key.
    raise StripeApiError(
        402,
        "card_error",
        error["message"],
        code=code,
        decline_code=decline_code,
        param=param,
        extra={
            "charge": charge_id,
            "payment_intent": _intent_json(txn, set()),
            "payment_method": error["payment_method"],
        },
        stored=True,
    )


def _set_status(txn: SandboxTxn, status: str) -> None:
    txn.extra["status"] = status
    txn.state = STATUS_STATE[status]


def capture_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_intents/{intent}/capture: all or part of the capturable."""
    txn = find_intent(sandbox, call.path["intent"])
    _require_status(txn, ("requires_capture",), "captured")
    capturable = int(txn.extra["amount_capturable"])
    requested = int_param(call.params, "amount_to_capture")
    amount = capturable if requested is None else positive(requested, "amount_to_capture")
    if amount > capturable:
        raise invalid_request(
            "The payment could not be captured because the requested capture amount is greater "
            "than the amount you can capture for this charge.",
            code="amount_too_large",
            param="amount_to_capture",
        )
    txn.captured = amount  # the rest of the authorization is released
    txn.extra["amount_capturable"] = 0
    _set_status(txn, "succeeded")
    emit(sandbox, call, "charge.captured", charge_json(txn))
    emit(sandbox, call, "payment_intent.succeeded", _intent_json(txn, set()))
    number = trigger_number(str(txn.extra.get("trigger") or ""))
    _disputed(sandbox, call, txn, TRIGGERS.get(number, APPROVE))
    return _intent_json(txn, call.params.expand())


def cancel_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_intents/{intent}/cancel: release an uncaptured intent."""
    txn = find_intent(sandbox, call.path["intent"])
    _require_status(txn, CANCELABLE, "canceled")
    reason = call.params.get("cancellation_reason")
    if reason and reason not in CANCELLATION_REASONS:
        raise invalid_request(
            f"Invalid cancellation_reason: {reason[:40]}", param="cancellation_reason"
        )
    txn.extra |= {
        "amount_capturable": 0,
        "canceled_at": int(clock.now().timestamp()),
        "cancellation_reason": reason,
    }
    _set_status(txn, "canceled")
    emit(sandbox, call, "payment_intent.canceled", _intent_json(txn, set()))
    return _intent_json(txn, call.params.expand())


def retrieve_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/payment_intents/{intent}."""
    return _intent_json(find_intent(sandbox, call.path["intent"]), call.params.expand())


def list_intents(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/payment_intents, newest first, filtered by `created`."""
    bounds = [(op, int_param(call.params, key)) for key, op in CREATED_FILTERS.items()]
    matches = [
        txn
        for txn in _intents_newest_first(sandbox)
        if all(op(int(txn.extra["created"]), value) for op, value in bounds if value is not None)
    ]
    return _page("list", "/v1/payment_intents", matches, call.params)


def search_intents(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/payment_intents/search with Stripe's query language (AND clauses)."""
    query = call.params.get("query")
    if not query:
        raise invalid_request(
            "Missing required param: query.", code="parameter_missing", param="query"
        )
    clauses = [_clause(part) for part in re.split(r"\s+AND\s+", query.strip())]
    matches = [
        txn for txn in _intents_newest_first(sandbox) if all(match(txn) for match in clauses)
    ]
    page = _page("search_result", "/v1/payment_intents/search", matches, call.params)
    return page | {"next_page": None}


def _clause(text: str) -> Callable[[SandboxTxn], bool]:
    found = SEARCH_CLAUSE.fullmatch(text.strip())
    if found is None:
        raise invalid_request(
            "This sandbox searches PaymentIntents by metadata['key']:'value', status, currency "
            "and amount joined by AND.",
            param="query",
        )
    value = re.sub(r"\\(.)", r"\1", found["value"])
    key = found["key"]
    if key is not None:
        return lambda txn: txn.extra["metadata"].get(key) == value
    read = SEARCH_FIELDS[found["field"]]
    return lambda txn: read(txn) == value


def _page(kind: str, url: str, matches: list[SandboxTxn], params: Params) -> dict[str, Any]:
    limit = min(max(int_param(params, "limit") or 10, 1), 100)
    nested = {e.removeprefix("data.") for e in params.expand() if e.startswith("data.")}
    return {
        "object": kind,
        "data": [_intent_json(txn, nested) for txn in matches[:limit]],
        "has_more": len(matches) > limit,
        "url": url,
    }


def _intents_newest_first(sandbox: StripeSandbox) -> list[SandboxTxn]:
    intents = [t for t in sandbox.state.ledger.transactions.values() if t.kind == "payment_intent"]
    # The ledger keeps creation order, so within one second the later one still comes first.
    return sorted(reversed(intents), key=lambda t: -int(t.extra["created"]))


def find_intent(sandbox: StripeSandbox, intent_id: str) -> SandboxTxn:
    """The PaymentIntent `intent_id`, or Stripe's 404 resource_missing."""
    txn = sandbox.state.ledger.get(intent_id)
    if txn is None or txn.kind != "payment_intent":
        raise missing("payment_intent", intent_id, "intent")
    return txn


def _require_status(txn: SandboxTxn, allowed: tuple[str, ...], done: str) -> None:
    status = txn.extra["status"]
    if status in allowed:
        return
    raise invalid_state(
        f"This PaymentIntent could not be {done} because it has a status of {status}. Only a "
        f"PaymentIntent with one of the following statuses may be {done}: {', '.join(allowed)}.",
        txn,
    )


def invalid_state(message: str, txn: SandboxTxn) -> StripeApiError:
    """The error for an operation this PaymentIntent's status does not allow."""
    return StripeApiError(
        400,
        "invalid_request_error",
        message,
        code="payment_intent_unexpected_state",
        extra={"payment_intent": _intent_json(txn, set())},
    )


def _intent_json(txn: SandboxTxn, expand: set[str]) -> dict[str, Any]:
    extra = txn.extra
    charge = extra.get("charge")
    latest = None
    if charge is not None:
        latest = charge_json(txn) if "latest_charge" in expand else charge["id"]
    return {
        "id": txn.id,
        "object": "payment_intent",
        "amount": txn.amount,
        "amount_capturable": extra["amount_capturable"],
        "amount_received": txn.captured,
        "canceled_at": extra.get("canceled_at"),
        "cancellation_reason": extra.get("cancellation_reason"),
        "capture_method": extra.get("capture_method", "automatic"),
        "client_secret": f"{txn.id}_secret_{extra['secret']}",
        "confirmation_method": "automatic",
        "created": extra["created"],
        "currency": txn.currency,
        "customer": extra.get("customer"),
        "description": extra["description"],
        "last_payment_error": extra.get("last_payment_error"),
        "latest_charge": latest,
        "livemode": False,
        "metadata": extra["metadata"],
        "next_action": extra.get("next_action"),
        "payment_method": extra["payment_method"],
        "payment_method_types": ["card"],
        "setup_future_usage": extra.get("setup_future_usage"),
        "statement_descriptor_suffix": extra["statement_descriptor_suffix"],
        "status": extra["status"],
    }


def charge_json(txn: SandboxTxn) -> dict[str, Any]:
    """The Charge object of a PaymentIntent's latest charge."""
    charge = txn.extra["charge"]
    return {
        "id": charge["id"],
        "object": "charge",
        "amount": txn.amount,
        "amount_captured": txn.captured,
        "amount_refunded": txn.refunded,
        "captured": txn.captured > 0,
        "created": charge["created"],
        "currency": txn.currency,
        "customer": txn.extra.get("customer"),
        "disputed": bool(txn.extra.get("dispute")),
        "failure_code": charge["failure_code"],
        "failure_message": MESSAGES.get(charge["failure_code"] or ""),
        "livemode": False,
        "metadata": txn.extra["metadata"],
        "outcome": charge["outcome"],
        "paid": charge["status"] == "succeeded",
        "payment_intent": txn.id,
        "payment_method": txn.extra["payment_method"],
        "payment_method_details": {
            "type": "card",
            "card": {**charge["card"], "checks": charge["checks"]},
        },
        "refunded": txn.captured > 0 and txn.refunded >= txn.captured,
        "status": charge["status"],
    }
