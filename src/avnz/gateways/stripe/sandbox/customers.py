"""Customers and SetupIntents in the Stripe sandbox.

Customers: create (optionally with a `payment_method` to attach), retrieve, update, delete,
list (by `email`), and their PaymentMethods. A deleted customer reads as
`{"id", "object": "customer", "deleted": true}` and takes no new PaymentMethods.

SetupIntents save a card for later: create (with `confirm=true` to run it at once), confirm,
cancel, retrieve. A confirmed SetupIntent runs the card as a $0 verification: a declining test
card fails it (402 card_error with `setup_intent`, back in requires_payment_method), a 3-D
Secure card leaves it in requires_action, any other card succeeds and, when the SetupIntent has
a customer, attaches the PaymentMethod to it.
"""

import secrets
from typing import Any

from avnz.core import clock
from avnz.gateways.stripe.sandbox.calls import (
    Call,
    Params,
    StripeApiError,
    StripeSandbox,
    emit,
    find_record,
    invalid_request,
    listing,
    live_customer,
)
from avnz.gateways.stripe.sandbox.cards import (
    ERROR_PARAMS,
    attach,
    card_param,
    find_method,
    method_card,
    methods_of,
)
from avnz.gateways.stripe.sandbox.tables import (
    APPROVE,
    MESSAGES,
    TRIGGERS,
    customer_ids,
    setup_ids,
)

CUSTOMER_FIELDS = ("email", "name", "description", "phone")


def create_customer(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/customers."""
    params = call.params
    customer: dict[str, Any] = {
        "id": customer_ids(),
        "object": "customer",
        "address": params.prefixed("address") or None,
        "balance": 0,
        "created": int(clock.now().timestamp()),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "invoice_settings": {"default_payment_method": None},
        "livemode": False,
        "metadata": params.prefixed("metadata"),
        **{name: params.get(name) for name in CUSTOMER_FIELDS},
    }
    sandbox.records("customers")[customer["id"]] = customer
    method_id = params.get("payment_method")
    if method_id:
        attach(sandbox, method_id, customer["id"], call)
    _set_default(sandbox, customer, params)
    emit(sandbox, call, "customer.created", customer)
    return customer


def _set_default(sandbox: StripeSandbox, customer: dict[str, Any], params: Params) -> None:
    default = params.get("invoice_settings[default_payment_method]")
    if default is None:
        return
    if (
        default
        and find_method(sandbox, default, "invoice_settings[default_payment_method]")["customer"]
        != customer["id"]
    ):
        raise invalid_request(
            f"No such PaymentMethod: '{default[:40]}'; It's not attached to this customer.",
            code="resource_missing",
            param="invoice_settings[default_payment_method]",
        )
    customer["invoice_settings"]["default_payment_method"] = default or None


def find_customer(sandbox: StripeSandbox, customer_id: str) -> dict[str, Any]:
    """The customer `customer_id` (deleted ones too), or Stripe's 404."""
    customer: dict[str, Any] = find_record(sandbox, "customers", customer_id, "id")
    return customer


def retrieve_customer(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/customers/{customer}."""
    return find_customer(sandbox, call.path["customer"])


def update_customer(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/customers/{customer}."""
    customer = live_customer(sandbox, call.path["customer"], "id")
    params = call.params
    previous = {name: customer[name] for name in CUSTOMER_FIELDS if params.get(name) is not None}
    customer |= {name: params.get(name) for name in previous}
    customer["metadata"] = {**customer["metadata"], **params.prefixed("metadata")}
    _set_default(sandbox, customer, params)
    emit(sandbox, call, "customer.updated", customer, previous)
    return customer


def delete_customer(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """DELETE /v1/customers/{customer}: detaches its PaymentMethods."""
    customer = live_customer(sandbox, call.path["customer"], "id")
    for method in sandbox.records("payment_methods").values():
        if method["customer"] == customer["id"]:
            method["customer"] = None
    emit(sandbox, call, "customer.deleted", customer)
    gone = {"id": customer["id"], "object": "customer", "deleted": True}
    sandbox.records("customers")[customer["id"]] = gone
    return gone


def list_customers(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/customers, newest first, by `email`."""
    email = call.params.get("email")
    found = [
        c
        for c in sandbox.records("customers").values()
        if not c.get("deleted") and (email is None or c.get("email") == email)
    ]
    return listing("/v1/customers", list(reversed(found)), call.params)


def customer_methods(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/customers/{customer}/payment_methods."""
    customer = live_customer(sandbox, call.path["customer"], "id")
    url = f"/v1/customers/{customer['id']}/payment_methods"
    return methods_of(sandbox, customer["id"], call.params, url)


# --- SetupIntents ------------------------------------------------------------------------------


def create_setup(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/setup_intents."""
    params = call.params
    customer_id = params.get("customer")
    if customer_id:
        live_customer(sandbox, customer_id, "customer")
    usage = params.get("usage") or "off_session"
    if usage not in ("off_session", "on_session"):
        raise invalid_request("Invalid usage: must be off_session or on_session.", param="usage")
    card = card_param(sandbox, params)
    setup: dict[str, Any] = {
        "id": setup_ids(),
        "object": "setup_intent",
        "cancellation_reason": None,
        "created": int(clock.now().timestamp()),
        "customer": customer_id,
        "description": params.get("description"),
        "last_setup_error": None,
        "livemode": False,
        "metadata": params.prefixed("metadata"),
        "next_action": None,
        "payment_method": card.method_id if card else None,
        "payment_method_types": ["card"],
        "status": "requires_confirmation" if card else "requires_payment_method",
        "usage": usage,
    }
    setup["client_secret"] = f"{setup['id']}_secret_{secrets.token_urlsafe(18)}"
    sandbox.records("setup_intents")[setup["id"]] = setup
    emit(sandbox, call, "setup_intent.created", setup)
    if params.get("confirm") == "true":
        _confirm_setup(sandbox, call, setup)
    return setup


def _find_setup(sandbox: StripeSandbox, setup_id: str) -> dict[str, Any]:
    setup: dict[str, Any] = find_record(sandbox, "setup_intents", setup_id, "intent")
    return setup


def retrieve_setup(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/setup_intents/{intent}."""
    return _find_setup(sandbox, call.path["intent"])


def confirm_setup(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/setup_intents/{intent}/confirm, optionally with the payment method."""
    setup = _find_setup(sandbox, call.path["intent"])
    card = card_param(sandbox, call.params)
    if card is not None:
        setup["payment_method"] = card.method_id
    _confirm_setup(sandbox, call, setup)
    return setup


def _confirm_setup(sandbox: StripeSandbox, call: Call, setup: dict[str, Any]) -> None:
    confirmable = ("requires_payment_method", "requires_confirmation", "requires_action")
    if setup["status"] not in confirmable:
        raise _unexpected(setup, "confirmed")
    method_id = setup["payment_method"]
    if not method_id:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
        )
    card = method_card(sandbox, method_id)
    trigger = TRIGGERS.get(card.number, APPROVE)
    if trigger.requires_action:
        setup |= {"status": "requires_action", "next_action": {"type": "use_stripe_sdk"}}
        return
    code = trigger.code or ("incorrect_cvc" if trigger.cvc_declines and card.cvc_sent else None)
    if code is not None:
        error = {
            "type": "card_error",
            "code": code,
            "message": MESSAGES[trigger.decline_code or code],
            **({"decline_code": trigger.decline_code} if trigger.decline_code else {}),
            **({"param": ERROR_PARAMS[code]} if code in ERROR_PARAMS else {}),
        }
        setup |= {"status": "requires_payment_method", "last_setup_error": error}
        emit(sandbox, call, "setup_intent.setup_failed", setup)
        raise StripeApiError(
            402,
            "card_error",
            error["message"],
            code=code,
            decline_code=trigger.decline_code,
            param=ERROR_PARAMS.get(code),
            extra={"setup_intent": dict(setup)},
            stored=True,
        )
    if setup["customer"]:
        setup["payment_method"] = attach(sandbox, method_id, setup["customer"], call)["id"]
    setup |= {"status": "succeeded", "last_setup_error": None, "next_action": None}
    emit(sandbox, call, "setup_intent.succeeded", setup)


def cancel_setup(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/setup_intents/{intent}/cancel."""
    setup = _find_setup(sandbox, call.path["intent"])
    if setup["status"] in ("succeeded", "canceled"):
        raise _unexpected(setup, "canceled")
    setup |= {"status": "canceled", "cancellation_reason": call.params.get("cancellation_reason")}
    emit(sandbox, call, "setup_intent.canceled", setup)
    return setup


def _unexpected(setup: dict[str, Any], done: str) -> StripeApiError:
    return StripeApiError(
        400,
        "invalid_request_error",
        f"This SetupIntent could not be {done} because it has a status of {setup['status']}.",
        code="setup_intent_unexpected_state",
        extra={"setup_intent": dict(setup)},
    )
