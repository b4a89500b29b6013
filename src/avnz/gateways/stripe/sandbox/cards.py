"""Cards in the Stripe sandbox: reading the card of a request (a test PaymentMethod, a stored
one, or raw card data) and the PaymentMethods API (create, retrieve, update, attach, detach,
list).

A stored PaymentMethod keeps what the card does, never a card number: the brand, last four,
expiry, which checks its data allows, and a digest of the number when it is one of Stripe's
published test cards (its trigger). A test PaymentMethod id (`pm_card_visa`) is usable as is;
attaching one to a Customer stores a copy under a new id, as Stripe does.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stdnum import luhn

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
    missing,
)
from avnz.gateways.stripe.sandbox.tables import (
    BRANDS,
    MESSAGES,
    PAYMENT_METHODS,
    RAW_CARDS_REFUSED,
    TOKENS,
    TRIGGERS,
    method_ids,
)

PUBLIC = frozenset({*TRIGGERS, *PAYMENT_METHODS.values(), *TOKENS.values()})


def trigger_key(number: str) -> str:
    """What a record keeps of a test card: a digest, never the number (empty for others)."""
    return hashlib.sha256(number.encode()).hexdigest()[:16] if number in PUBLIC else ""


_BY_KEY = {trigger_key(number): number for number in PUBLIC}


def trigger_number(key: str) -> str:
    """The test card a `trigger_key` stands for (empty for any other card)."""
    return _BY_KEY.get(key, "")


# Which request field a card data error names (Stripe's `param`).
ERROR_PARAMS = {
    "incorrect_number": "number",
    "invalid_number": "number",
    "invalid_expiry_month": "exp_month",
    "invalid_expiry_year": "exp_year",
    "expired_card": "exp_month",
    "invalid_cvc": "cvc",
    "incorrect_cvc": "cvc",
}


@dataclass(frozen=True, slots=True)
class CardInput:
    """The card of one request. `number` is only ever a published test number (or empty)."""

    number: str
    last4: str
    brand: str
    exp_month: int
    exp_year: int
    cvc_sent: bool
    line1_sent: bool
    postal_sent: bool
    method_id: str | None = None  # the PaymentMethod it came from, if any

    def details(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "last4": self.last4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "funding": "credit",
            "country": "US",
        }


def brand_of(number: str) -> str:
    """Stripe's brand name for a card number."""
    return next((name for prefix, name in BRANDS if number.startswith(prefix)), "unknown")


def _card(number: str, month: int, year: int, *, cvc: bool, line1: bool, postal: bool) -> CardInput:
    kept = number if number in PUBLIC else ""
    return CardInput(kept, number[-4:], brand_of(number), month, year, cvc, line1, postal)


# --- the card of a payment or setup ----------------------------------------------------------


def card_param(sandbox: StripeSandbox, params: Params) -> CardInput | None:
    """The card of a request (a PaymentMethod or raw card data), None when it has none."""
    token = params.get("payment_method")
    has_data = params.has_prefix("payment_method_data[")
    if token and has_data:
        raise invalid_request(
            "You cannot specify both payment_method and payment_method_data.",
            param="payment_method_data",
        )
    if token:
        return method_card(sandbox, token)
    if not has_data:
        return None
    # Stripe makes a PaymentMethod of the data; the payment refers to it by id.
    card = _raw_card(sandbox, params, nested=True)
    billing = params.prefixed("payment_method_data[billing_details]")
    method = store_method(sandbox, card, billing)
    return _with_id(card, method["id"])


def method_card(sandbox: StripeSandbox, method_id: str) -> CardInput:
    """The card of PaymentMethod `method_id` (a test id or a stored one)."""
    stored = sandbox.records("payment_methods").get(method_id)
    if stored is not None:
        return _stored_card(stored)
    number = PAYMENT_METHODS.get(method_id)
    if number is None:
        raise missing("PaymentMethod", method_id, "payment_method")
    # A saved test PaymentMethod was created with CVC and billing address: every check runs.
    year = clock.now().year + 3
    card = _card(number, 12, year, cvc=True, line1=True, postal=True)
    return _with_id(card, method_id)


def _with_id(card: CardInput, method_id: str) -> CardInput:
    return CardInput(**{**_fields(card), "method_id": method_id})


def _fields(card: CardInput) -> dict[str, Any]:
    return {name: getattr(card, name) for name in CardInput.__slots__}


def _stored_card(method: dict[str, Any]) -> CardInput:
    card, sent = method["card"], method["_sent"]
    return CardInput(
        trigger_number(method["_trigger"]),
        card["last4"],
        card["brand"],
        card["exp_month"],
        card["exp_year"],
        cvc_sent=sent["cvc"],
        line1_sent=sent["line1"],
        postal_sent=sent["postal"],
        method_id=method["id"],
    )


def _raw_card(sandbox: StripeSandbox, params: Params, *, nested: bool) -> CardInput:
    """Raw card data: under `payment_method_data[…]` (nested) or at the top (`card[…]`)."""
    if not sandbox.allow_raw_cards:
        raise StripeApiError(402, "invalid_request_error", RAW_CARDS_REFUSED)
    outer = "payment_method_data" if nested else ""
    if nested and params.get("payment_method_data[type]") != "card":
        raise invalid_request(
            "Invalid payment_method_data[type]: must be card.", param="payment_method_data[type]"
        )
    card = params.prefixed(f"{outer}[card]" if nested else "card")
    address = params.prefixed(
        f"{outer}[billing_details][address]" if nested else "billing_details[address]"
    )
    if token := card.get("token"):
        number = TOKENS.get(token)
        if number is None:
            raise missing("token", token, "card[token]")
        return _card(number, 12, clock.now().year + 3, cvc=True, line1=True, postal=True)
    number = re.sub(r"[\s-]", "", card.get("number", ""))
    month, year = _digits(card.get("exp_month")), _digits(card.get("exp_year"))
    cvc = card.get("cvc")
    failure = _card_data_error(number, month, year, cvc, clock.now())
    if failure is not None:
        code, part = failure
        param = f"{outer}[card][{part}]" if nested else part
        raise StripeApiError(402, "card_error", MESSAGES[code], code=code, param=param)
    return _card(
        number,
        month or 0,
        year or 0,
        cvc=bool(cvc),
        line1=bool(address.get("line1")),
        postal=bool(address.get("postal_code")),
    )


def _digits(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _card_data_error(
    number: str, month: int | None, year: int | None, cvc: str | None, today: datetime
) -> tuple[str, str] | None:
    """The first card data error Stripe reports when creating the PaymentMethod, if any."""
    expired_month = year == today.year and month is not None and month < today.month
    problems = (
        (
            not (number.isdigit() and 12 <= len(number) <= 19 and luhn.is_valid(number)),
            "incorrect_number",
            "number",
        ),
        (
            month is None or not 1 <= month <= 12 or expired_month,
            "invalid_expiry_month",
            "exp_month",
        ),
        (year is None or year < today.year, "invalid_expiry_year", "exp_year"),
        (cvc is not None and not re.fullmatch(r"\d{3,4}", cvc), "invalid_cvc", "cvc"),
    )
    return next(((code, part) for failed, code, part in problems if failed), None)


# --- the PaymentMethods API ------------------------------------------------------------------


def create_method(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_methods: a card PaymentMethod from card data or a test token."""
    params = call.params
    kind = params.get("type")
    if not kind:
        raise invalid_request(
            "Missing required param: type.", code="parameter_missing", param="type"
        )
    if kind != "card":
        raise invalid_request(f"Invalid type: {kind[:20]}; this sandbox makes cards.", param="type")
    card = _raw_card(sandbox, params, nested=False)
    method = store_method(sandbox, card, params.prefixed("billing_details"), params)
    return public(method)


def store_method(
    sandbox: StripeSandbox,
    card: CardInput,
    billing: dict[str, str],
    params: Params | None = None,
) -> dict[str, Any]:
    """Keep `card` as a new PaymentMethod (no customer yet) and return its record."""
    address: dict[str, str | None] = dict.fromkeys(
        ("city", "country", "line1", "line2", "postal_code", "state")
    )
    given = params.prefixed("billing_details[address]") if params else {}
    address |= {k: v for k, v in given.items() if k in address}
    method: dict[str, Any] = {
        "id": method_ids(),
        "object": "payment_method",
        "type": "card",
        "billing_details": {
            "address": address,
            "email": billing.get("email"),
            "name": billing.get("name"),
            "phone": billing.get("phone"),
        },
        "card": {
            **card.details(),
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked" if card.cvc_sent else None,
            },
            "fingerprint": f"fp{card.brand[:3]}{card.last4}",
        },
        "created": int(clock.now().timestamp()),
        "customer": None,
        "livemode": False,
        "metadata": params.prefixed("metadata") if params else {},
        "_trigger": trigger_key(card.number),
        "_sent": {"cvc": card.cvc_sent, "line1": card.line1_sent, "postal": card.postal_sent},
    }
    sandbox.records("payment_methods")[method["id"]] = method
    return method


def public(method: dict[str, Any]) -> dict[str, Any]:
    """A PaymentMethod as the API shows it (without what the sandbox keeps for itself)."""
    return {k: v for k, v in method.items() if not k.startswith("_")}


def _test_method(method_id: str) -> dict[str, Any]:
    card = method_card_for_test(method_id)
    return {
        "id": method_id,
        "object": "payment_method",
        "type": "card",
        "billing_details": {"address": {}, "email": None, "name": None, "phone": None},
        "card": {**card.details(), "checks": {}, "fingerprint": f"fp{card.brand[:3]}{card.last4}"},
        "created": 0,
        "customer": None,
        "livemode": False,
        "metadata": {},
    }


def method_card_for_test(method_id: str) -> CardInput:
    """The card of a test PaymentMethod id."""
    number = PAYMENT_METHODS[method_id]
    return _card(number, 12, clock.now().year + 3, cvc=True, line1=True, postal=True)


def find_method(
    sandbox: StripeSandbox, method_id: str, param: str = "payment_method"
) -> dict[str, Any]:
    """The stored PaymentMethod `method_id`, or Stripe's 404."""
    method: dict[str, Any] = find_record(sandbox, "payment_methods", method_id, param)
    return method


def retrieve_method(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/payment_methods/{method}."""
    method_id = call.path["method"]
    if method_id in PAYMENT_METHODS and method_id not in sandbox.records("payment_methods"):
        return _test_method(method_id)
    return public(find_method(sandbox, method_id, "payment_method"))


def update_method(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_methods/{method}: metadata, billing details, expiry."""
    method = find_method(sandbox, call.path["method"])
    params = call.params
    method["metadata"] = {**method["metadata"], **params.prefixed("metadata")}
    for key, value in params.prefixed("billing_details").items():
        if key in method["billing_details"]:
            method["billing_details"][key] = value
    for key in ("exp_month", "exp_year"):
        given = params.get(f"card[{key}]")
        if given is not None:
            if not given.isdigit():
                raise invalid_request(MESSAGES[f"invalid_expiry_{key[4:]}"], param=f"card[{key}]")
            method["card"][key] = int(given)
    emit(sandbox, call, "payment_method.updated", public(method))
    return public(method)


def attach(sandbox: StripeSandbox, method_id: str, customer_id: str, call: Call) -> dict[str, Any]:
    """Attach PaymentMethod `method_id` to a customer (a test id is stored as a copy first)."""
    if method_id in PAYMENT_METHODS and method_id not in sandbox.records("payment_methods"):
        method = store_method(sandbox, method_card_for_test(method_id), {})
    else:
        method = find_method(sandbox, method_id)
    owner = method["customer"]
    if owner == customer_id:
        return method
    if owner is not None:
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            code="resource_already_exists",
            param="payment_method",
        )
    method["customer"] = customer_id
    emit(sandbox, call, "payment_method.attached", public(method))
    return method


def attach_method(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_methods/{method}/attach with `customer`."""
    customer_id = call.params.get("customer")
    if not customer_id:
        raise invalid_request(
            "Missing required param: customer.", code="parameter_missing", param="customer"
        )
    live_customer(sandbox, customer_id, "customer")
    return public(attach(sandbox, call.path["method"], customer_id, call))


def detach_method(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/payment_methods/{method}/detach."""
    method = find_method(sandbox, call.path["method"])
    if method["customer"] is None:
        raise invalid_request(
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.",
            code="payment_method_unexpected_state",
        )
    previous = method["customer"]
    method["customer"] = None
    emit(sandbox, call, "payment_method.detached", public(method), {"customer": previous})
    return public(method)


def list_methods(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/payment_methods?customer=…&type=card."""
    customer_id = call.params.get("customer")
    return methods_of(sandbox, customer_id, call.params, "/v1/payment_methods")


def methods_of(
    sandbox: StripeSandbox, customer_id: str | None, params: Params, url: str
) -> dict[str, Any]:
    """The list of a customer's PaymentMethods (every stored one when `customer_id` is None)."""
    kind = params.get("type")
    if kind not in (None, "card"):
        return listing(url, [], params)
    found = [
        public(m)
        for m in sandbox.records("payment_methods").values()
        if customer_id is None or m["customer"] == customer_id
    ]
    return listing(url, list(reversed(found)), params)
