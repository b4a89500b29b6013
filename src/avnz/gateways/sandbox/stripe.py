"""A local Stripe: PaymentIntents, Refunds, balance and lookups on the real API paths, so the
connector only swaps its base URL (reference/gateways.md, section 4; docs.stripe.com/testing).

Credentials: the sandbox accepts one secret key, `SANDBOX_CREDENTIALS["secret_key"]`
(`sk_test_avnzSandboxStripe…`), as `Authorization: Bearer <key>` or as the Basic username. A
missing or different key gets Stripe's 401 `invalid_request_error` ("Invalid API Key provided:
sk_test_****abcd"). `create_app(credentials)` accepts another key instead.

Endpoints: POST /v1/payment_intents (confirm=true, capture_method automatic|manual),
POST /v1/payment_intents/{id}/capture (amount_to_capture), POST /v1/payment_intents/{id}/cancel,
GET /v1/payment_intents/{id}, GET /v1/payment_intents (created[gte|gt|lte|lt], limit),
GET /v1/payment_intents/search (query clauses `metadata['k']:'v'`, `status:'…'`, `currency:'…'`,
`amount:'…'` joined by AND), POST /v1/refunds (payment_intent or charge, amount, reason),
GET /v1/refunds/{id}, GET /v1/balance. `expand[]=latest_charge` (`data.latest_charge` on lists)
embeds the charge with its AVS/CVC checks.

Cards: a test PaymentMethod id as `payment_method=pm_card_…` (tokens stand for a card saved with
CVC, address line 1 and postal code, so every check runs), or a raw card as
`payment_method_data[type]=card&payment_method_data[card][number]=…` plus exp_month, exp_year,
cvc and billing_details. Real Stripe accepts raw numbers only on accounts for which it has
enabled raw card data APIs; `create_app(allow_raw_cards=False)` answers like any other account
(HTTP 402 invalid_request_error "Sending credit card numbers directly…").

Test triggers (number / PaymentMethod → result):
  4242424242424242  pm_card_visa (also _mastercard, _amex, ...)   succeeded
  4000000000000002  pm_card_visa_chargeDeclined                    card_declined/generic_decline
  4000000000009995  pm_card_visa_chargeDeclinedInsufficientFunds   card_declined/insufficient_funds
  4000000000009987  pm_card_visa_chargeDeclinedLostCard            card_declined/lost_card
  4000000000009979  pm_card_visa_chargeDeclinedStolenCard          card_declined/stolen_card
  4000000000006975  pm_card_visa_chargeDeclinedVelocityLimitExceeded  .../card_velocity_exceeded
  4000000000000069  pm_card_chargeDeclinedExpiredCard              expired_card
  4000000000000127  pm_card_chargeDeclinedIncorrectCvc             incorrect_cvc (cvc_check fail)
  4000000000000119  pm_card_chargeDeclinedProcessingError          processing_error
  4100000000000019  pm_card_radarBlock                             card_declined/fraudulent, blocked
  4000000000000010  pm_card_avsFail        succeeded; line1 and postal code checks fail
  4000000000000028  pm_card_avsLine1Fail   succeeded; line1 check fails
  4000000000000036  pm_card_avsZipFail     succeeded; postal code check fails
  4000000000000044  pm_card_avsUnchecked   succeeded; both address checks unavailable
  4000000000000101  pm_card_cvcCheckFail   cvc_check fails; declined incorrect_cvc when a CVC is
                                           sent (Radar's default "block if CVC fails" rule)
  4000002500003155, 4000002760003184 (pm_card_authenticationRequired),
  4000000000003220 (pm_card_threeDSecure2Required)   requires_action (3-D Secure)
  4242424242424241 or any number failing Luhn          incorrect_number (no PaymentIntent made)
  exp_month outside 1-12 / a past month              invalid_expiry_month
  a past exp_year                                    invalid_expiry_year
  a CVC that is not 3-4 digits                       invalid_cvc
  amount below the currency's minimum (USD 50)       amount_too_small (HTTP 400)
  amount above 99,999,999                            amount_too_large (HTTP 400)
A check runs only when its field is sent: no postal code, no postal code check (null).

State rules: capture only from requires_capture, at most amount_capturable, once (the rest is
released); cancel from requires_payment_method/requires_capture/requires_confirmation/
requires_action; refunds only from succeeded, adding up to at most the captured amount
(amount_too_large), and charge_already_refunded once nothing is left. Declined attempts leave
the PaymentIntent in requires_payment_method with last_payment_error, as Stripe does.

Idempotency-Key (POST): the status and body of the first request that started executing are
stored and replayed with `Idempotent-Replayed: true`; the same key with other parameters gets
400 idempotency_error; validation failures (bad parameters, unknown ids, wrong state) are not
stored. Keys survive /_sandbox/reset: use fresh keys after a reset.

Faults (`/_sandbox/faults`) hit the answer after the request was processed: after a hang, a
5xx or a garbled body the PaymentIntent exists, as when a real answer is lost on its way back,
and an inquiry finds it. A hung request ends when its client disconnects, so a test's server
can shut down; over the in-process ASGI transport (no disconnects, no timeouts) do not use hang.
Search is immediately consistent here; Stripe's index lags writes by up to a minute.
"""

import base64
import binascii
import hashlib
import hmac
import operator
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NoReturn
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from stdnum import luhn

from avnz.core import clock
from avnz.gateways.sandbox.common import (
    FaultMode,
    Ledger,
    SandboxState,
    SandboxTxn,
    TxnState,
    alnum_ids,
    auth_code,
    gateway_endpoint,
    sandbox_app,
)
from avnz.gateways.stripe import API_VERSION, stripe_exponent

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
}

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
_CLAUSE = re.compile(
    r"(?:metadata\['(?P<key>[^'\\]+)'\]|(?P<field>status|currency|amount))"
    r":'(?P<value>(?:[^'\\]|\\.)*)'"
)

_charge_ids = alnum_ids("ch_", 24)
_refund_ids = alnum_ids("re_", 24)
_method_ids = alnum_ids("pm_", 24)
_request_ids = alnum_ids("req_", 14)


class StripeApiError(Exception):
    """An answer in Stripe's error shape. `stored`: whether an Idempotency-Key keeps it (Stripe
    keeps nothing for requests that failed validation before executing)."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        decline_code: str | None = None,
        param: str | None = None,
        extra: Mapping[str, Any] | None = None,
        stored: bool = False,
    ) -> None:
        super().__init__(message)
        optional = {"code": code, "decline_code": decline_code, "param": param}
        self.status = status
        self.body = {
            "error": {
                "type": type_,
                "message": message,
                **{k: v for k, v in optional.items() if v},
                **(extra or {}),
            }
        }
        self.stored = stored


def _invalid(message: str, *, code: str | None = None, param: str | None = None) -> StripeApiError:
    return StripeApiError(400, "invalid_request_error", message, code=code, param=param)


@dataclass(frozen=True, slots=True)
class Params:
    """Form or query parameters as Stripe reads them: flat bracketed keys, last value wins."""

    pairs: list[tuple[str, str]]

    def get(self, key: str) -> str | None:
        values = [v for k, v in self.pairs if k == key]
        return values[-1] if values else None

    def prefixed(self, prefix: str) -> dict[str, str]:
        """`metadata[order_id]=42` → {"order_id": "42"} for prefix "metadata"."""
        pattern = re.compile(rf"{re.escape(prefix)}\[([^\]]+)\]")
        return {m.group(1): v for k, v in self.pairs if (m := pattern.fullmatch(k))}

    def expand(self) -> set[str]:
        return {v for k, v in self.pairs if re.fullmatch(r"expand\[\d*\]", k)}

    def has_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k, _ in self.pairs)


@dataclass(frozen=True, slots=True)
class Call:
    params: Params
    path: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CardInput:
    """The card of one request; the full number never leaves this object."""

    number: str
    exp_month: int
    exp_year: int
    cvc_sent: bool
    line1_sent: bool
    postal_sent: bool

    def details(self) -> dict[str, Any]:
        brand = next((name for prefix, name in BRANDS if self.number.startswith(prefix)), "unknown")
        return {
            "brand": brand,
            "last4": self.number[-4:],
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "funding": "credit",
            "country": "US",
        }


@dataclass
class Stored:
    fingerprint: str
    status: int
    body: Any


@dataclass
class StripeSandbox:
    state: SandboxState
    api_key: str
    allow_raw_cards: bool = True
    idempotency: dict[str, Stored] = field(default_factory=dict)


Handler = Callable[[StripeSandbox, Call], dict[str, Any]]


# --- HTTP plumbing ----------------------------------------------------------------------------


def _route(sandbox: StripeSandbox, path: str, method: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        return await _answer(sandbox, request, handler)

    # Every fault strikes the answer after Stripe acted on the request.
    faulted = gateway_endpoint(sandbox.state, endpoint, processed_first=frozenset(FaultMode))
    return Route(path, faulted, methods=[method])


async def _answer(sandbox: StripeSandbox, request: Request, handler: Handler) -> Response:
    raw = (await request.body()).decode("utf-8", "replace")
    query = raw if request.method == "POST" else request.url.query
    call = Call(Params(parse_qsl(query, keep_blank_values=True)), request.path_params)
    problem = _auth_problem(sandbox.api_key, request.headers.get("authorization"))
    if problem is not None:
        return _json(problem.body, problem.status)
    key = request.headers.get("idempotency-key") if request.method == "POST" else None
    if key is None:
        status, body, _ = _execute(sandbox, handler, call)
        return _json(body, status)
    return _idempotent(
        sandbox, key, _fingerprint(request, call), lambda: _execute(sandbox, handler, call)
    )


def _execute(sandbox: StripeSandbox, handler: Handler, call: Call) -> tuple[int, Any, bool]:
    try:
        return 200, handler(sandbox, call), True
    except StripeApiError as error:
        return error.status, error.body, error.stored


def _idempotent(
    sandbox: StripeSandbox, key: str, fingerprint: str, run: Callable[[], tuple[int, Any, bool]]
) -> Response:
    if len(key) > 255:
        error = _invalid("Idempotency-Key must be at most 255 characters long.")
        return _json(error.body, error.status)
    stored = sandbox.idempotency.get(key)
    if stored is not None and stored.fingerprint != fingerprint:
        error = StripeApiError(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
        )
        return _json(error.body, error.status)
    if stored is not None:
        return _json(stored.body, stored.status, replayed=True)
    status, body, keep = run()
    if keep:
        sandbox.idempotency[key] = Stored(fingerprint, status, body)
    return _json(body, status)


def _fingerprint(request: Request, call: Call) -> str:
    canonical = f"{request.method} {request.url.path}\n{urlencode(sorted(call.params.pairs))}"
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json(body: Any, status: int, *, replayed: bool = False) -> Response:
    headers = {"Request-Id": _request_ids(), "Stripe-Version": API_VERSION}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


def _auth_problem(api_key: str, header: str | None) -> StripeApiError | None:
    presented = _presented_key(header)
    if presented is None:
        return StripeApiError(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    if hmac.compare_digest(presented.encode(), api_key.encode()):
        return None
    return StripeApiError(
        401, "invalid_request_error", f"Invalid API Key provided: {_masked(presented)}"
    )


def _presented_key(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":  # the key is the username, the password is empty
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _masked(key: str) -> str:
    prefix = key[:8] if re.match(r"(sk|rk|pk)_(test|live)_", key) else ""
    hidden = max(len(key) - len(prefix) - 4, 4)
    return prefix + "*" * hidden + key[-4:] if len(key) > 4 else "****"


# --- parameters -------------------------------------------------------------------------------


def _int_param(params: Params, name: str, *, required: bool = False) -> int | None:
    raw = params.get(name)
    if not raw:
        if required:
            raise _invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return None
    if not raw.isdigit():
        raise _invalid(f"Invalid integer: {raw[:20]}", code="parameter_invalid_integer", param=name)
    return int(raw)


def _positive(amount: int, name: str) -> int:
    if amount < 1:
        raise _invalid(
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param=name,
        )
    return amount


def _currency(params: Params) -> str:
    raw = params.get("currency")
    if not raw:
        raise _invalid(
            "Missing required param: currency.", code="parameter_missing", param="currency"
        )
    try:
        stripe_exponent(raw)
    except ValueError:
        raise _invalid(f"Invalid currency: {raw[:10].lower()}.", param="currency") from None
    return raw.lower()


def _check_amount(amount: int, currency: str) -> None:
    minimum = MINIMUM_AMOUNT.get(currency, 1)
    if amount < minimum:
        raise _invalid(
            f"Amount must be at least {_display(minimum, currency)} {currency}",
            code="amount_too_small",
            param="amount",
        )
    if amount > MAXIMUM_AMOUNT:
        raise _invalid(
            f"Amount must be no more than {_display(MAXIMUM_AMOUNT, currency)}",
            code="amount_too_large",
            param="amount",
        )


def _display(amount: int, currency: str) -> str:
    major = Decimal(amount).scaleb(-stripe_exponent(currency))
    symbol = SYMBOLS.get(currency, f"{currency.upper()} ")
    return f"{symbol}{major:,}"


def _card(sandbox: StripeSandbox, params: Params) -> CardInput | None:
    token = params.get("payment_method")
    has_data = params.has_prefix("payment_method_data[")
    if token and has_data:
        raise _invalid(
            "You cannot specify both payment_method and payment_method_data.",
            param="payment_method_data",
        )
    if token:
        return _token_card(token)
    return _raw_card(sandbox, params) if has_data else None


def _token_card(token: str) -> CardInput:
    number = PAYMENT_METHODS.get(token)
    if number is None:
        raise _invalid(
            f"No such PaymentMethod: '{token[:40]}'",
            code="resource_missing",
            param="payment_method",
        )
    # A saved PaymentMethod was created with CVC and billing address: every check runs.
    year = clock.now().year + 3
    return CardInput(number, 12, year, cvc_sent=True, line1_sent=True, postal_sent=True)


def _raw_card(sandbox: StripeSandbox, params: Params) -> CardInput:
    if not sandbox.allow_raw_cards:
        raise StripeApiError(402, "invalid_request_error", RAW_CARDS_REFUSED)
    if params.get("payment_method_data[type]") != "card":
        raise _invalid(
            "Invalid payment_method_data[type]: must be card.", param="payment_method_data[type]"
        )
    card = params.prefixed("payment_method_data[card]")
    address = params.prefixed("payment_method_data[billing_details][address]")
    number = re.sub(r"[\s-]", "", card.get("number", ""))
    month, year = _digits(card.get("exp_month")), _digits(card.get("exp_year"))
    cvc = card.get("cvc")
    failure = _card_data_error(number, month, year, cvc, clock.now())
    if failure is not None:
        code, part = failure
        raise StripeApiError(
            402,
            "card_error",
            MESSAGES[code],
            code=code,
            param=f"payment_method_data[card][{part}]",
        )
    return CardInput(
        number,
        month or 0,
        year or 0,
        cvc_sent=bool(cvc),
        line1_sent=bool(address.get("line1")),
        postal_sent=bool(address.get("postal_code")),
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


# --- PaymentIntents ---------------------------------------------------------------------------


def create_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    params = call.params
    amount = _int_param(params, "amount", required=True) or 0
    currency = _currency(params)
    _check_amount(amount, currency)
    capture_method = params.get("capture_method") or "automatic"
    if capture_method not in CAPTURE_METHODS:
        raise _invalid(
            "Invalid capture_method: must be one of automatic, automatic_async, or manual",
            param="capture_method",
        )
    card = _card(sandbox, params)
    confirm = params.get("confirm") == "true"
    if confirm and card is None:
        raise _invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    txn = sandbox.state.ledger.add(_new_intent(sandbox, params, amount, currency, card))
    txn.extra["capture_method"] = capture_method
    # The PaymentIntent exists before the card runs: a declined one stays in the ledger.
    if confirm and card is not None:
        _confirm(txn, card)
    return _intent_json(txn, params.expand())


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
        card_last4=card.number[-4:] if card else None,
        extra={
            "status": status,
            "created": int(clock.now().timestamp()),
            "secret": secrets.token_urlsafe(18),
            "metadata": metadata,
            "description": params.get("description"),
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "payment_method": _method_ids() if card else None,
            "card": card.details() if card else None,
            "amount_capturable": 0,
        },
    )


def _confirm(txn: SandboxTxn, card: CardInput) -> None:
    """Run the card: approve, ask for 3-D Secure, or decline (raising Stripe's 402)."""
    trigger = TRIGGERS.get(card.number, APPROVE)
    if trigger.requires_action:
        _set_status(txn, "requires_action")
        txn.extra["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
        return
    failure = _failure(card, trigger)
    txn.extra["charge"] = _new_charge(card, trigger, failure)
    if failure is not None:
        _decline(txn, *failure)
    txn.auth_code = auth_code()
    if txn.extra["capture_method"] == "manual":
        txn.extra["amount_capturable"] = txn.amount
        _set_status(txn, "requires_capture")
    else:
        txn.captured = txn.amount
        _set_status(txn, "succeeded")


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
        "id": _charge_ids(),
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


def _decline(txn: SandboxTxn, code: str, decline_code: str | None) -> NoReturn:
    charge_id = txn.extra["charge"]["id"]
    error = {
        "type": "card_error",
        "code": code,
        "message": MESSAGES[decline_code or code],
        "charge": charge_id,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        **({"decline_code": decline_code} if decline_code else {}),
    }
    txn.extra["last_payment_error"] = error
    _set_status(txn, "requires_payment_method")
    # A decline is an executed request: Stripe stores it under the Idempotency-Key.
    raise StripeApiError(
        402,
        "card_error",
        error["message"],
        code=code,
        decline_code=decline_code,
        extra={"charge": charge_id, "payment_intent": _intent_json(txn, set())},
        stored=True,
    )


def _set_status(txn: SandboxTxn, status: str) -> None:
    txn.extra["status"] = status
    txn.state = STATUS_STATE[status]


def capture_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    txn = _intent(sandbox, call.path["intent"])
    _require_status(txn, ("requires_capture",), "captured")
    capturable = int(txn.extra["amount_capturable"])
    requested = _int_param(call.params, "amount_to_capture")
    amount = capturable if requested is None else _positive(requested, "amount_to_capture")
    if amount > capturable:
        raise _invalid(
            "The payment could not be captured because the requested capture amount is greater "
            "than the amount you can capture for this charge.",
            code="amount_too_large",
            param="amount_to_capture",
        )
    txn.captured = amount  # the rest of the authorization is released
    txn.extra["amount_capturable"] = 0
    _set_status(txn, "succeeded")
    return _intent_json(txn, call.params.expand())


def cancel_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    txn = _intent(sandbox, call.path["intent"])
    _require_status(txn, CANCELABLE, "canceled")
    reason = call.params.get("cancellation_reason")
    if reason and reason not in CANCELLATION_REASONS:
        raise _invalid(f"Invalid cancellation_reason: {reason[:40]}", param="cancellation_reason")
    txn.extra |= {
        "amount_capturable": 0,
        "canceled_at": int(clock.now().timestamp()),
        "cancellation_reason": reason,
    }
    _set_status(txn, "canceled")
    return _intent_json(txn, call.params.expand())


def retrieve_intent(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    return _intent_json(_intent(sandbox, call.path["intent"]), call.params.expand())


def list_intents(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    bounds = [(op, _int_param(call.params, key)) for key, op in CREATED_FILTERS.items()]
    matches = [
        txn
        for txn in _intents_newest_first(sandbox)
        if all(op(int(txn.extra["created"]), value) for op, value in bounds if value is not None)
    ]
    return _page("list", "/v1/payment_intents", matches, call.params)


def search_intents(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    query = call.params.get("query")
    if not query:
        raise _invalid("Missing required param: query.", code="parameter_missing", param="query")
    clauses = [_clause(part) for part in re.split(r"\s+AND\s+", query.strip())]
    matches = [
        txn for txn in _intents_newest_first(sandbox) if all(match(txn) for match in clauses)
    ]
    page = _page("search_result", "/v1/payment_intents/search", matches, call.params)
    return page | {"next_page": None}


def _clause(text: str) -> Callable[[SandboxTxn], bool]:
    found = _CLAUSE.fullmatch(text.strip())
    if found is None:
        raise _invalid(
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
    limit = min(max(_int_param(params, "limit") or 10, 1), 100)
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


def _intent(sandbox: StripeSandbox, intent_id: str) -> SandboxTxn:
    txn = sandbox.state.ledger.get(intent_id)
    if txn is None or txn.kind != "payment_intent":
        raise StripeApiError(
            404,
            "invalid_request_error",
            f"No such payment_intent: '{intent_id[:60]}'",
            code="resource_missing",
            param="intent",
        )
    return txn


def _require_status(txn: SandboxTxn, allowed: tuple[str, ...], done: str) -> None:
    status = txn.extra["status"]
    if status in allowed:
        return
    raise _invalid_state(
        f"This PaymentIntent could not be {done} because it has a status of {status}. Only a "
        f"PaymentIntent with one of the following statuses may be {done}: {', '.join(allowed)}.",
        txn,
    )


def _invalid_state(message: str, txn: SandboxTxn) -> StripeApiError:
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
        latest = _charge_json(txn) if "latest_charge" in expand else charge["id"]
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
        "description": extra["description"],
        "last_payment_error": extra.get("last_payment_error"),
        "latest_charge": latest,
        "livemode": False,
        "metadata": extra["metadata"],
        "next_action": extra.get("next_action"),
        "payment_method": extra["payment_method"],
        "payment_method_types": ["card"],
        "statement_descriptor_suffix": extra["statement_descriptor_suffix"],
        "status": extra["status"],
    }


def _charge_json(txn: SandboxTxn) -> dict[str, Any]:
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


# --- Refunds and balance ----------------------------------------------------------------------


def create_refund(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    params = call.params
    txn = _refund_target(sandbox, params)
    if txn.extra["status"] != "succeeded":
        # Stripe's exact code here is not documented; an uncaptured payment is canceled instead.
        raise _invalid_state(
            f"This PaymentIntent ({txn.id}) does not have a successful charge to refund.", txn
        )
    charge_id = txn.extra["charge"]["id"]
    if txn.refundable <= 0:
        raise _invalid(
            f"Charge {charge_id} has already been refunded.", code="charge_already_refunded"
        )
    requested = _int_param(params, "amount")
    amount = txn.refundable if requested is None else _positive(requested, "amount")
    if amount > txn.refundable:
        raise _invalid(
            f"Refund amount ({_display(amount, txn.currency)}) is greater than unrefunded amount "
            f"on charge ({_display(txn.refundable, txn.currency)})",
            code="amount_too_large",
            param="amount",
        )
    reason = params.get("reason")
    if reason and reason not in REFUND_REASONS:
        raise _invalid(f"Invalid reason: {reason[:40]}", param="reason")
    refund = sandbox.state.ledger.add(_new_refund(txn, amount, reason, params))
    txn.refunded += amount
    txn.state = TxnState.REFUNDED if txn.refundable == 0 else TxnState.PARTIALLY_REFUNDED
    return _refund_json(refund)


def _refund_target(sandbox: StripeSandbox, params: Params) -> SandboxTxn:
    intent_id, charge_id = params.get("payment_intent"), params.get("charge")
    if intent_id:
        return _intent(sandbox, intent_id)
    if not charge_id:
        raise _invalid(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    owner = next(
        (
            t
            for t in sandbox.state.ledger.transactions.values()
            if t.kind == "payment_intent" and (t.extra.get("charge") or {}).get("id") == charge_id
        ),
        None,
    )
    if owner is None:
        raise StripeApiError(
            404,
            "invalid_request_error",
            f"No such charge: '{charge_id[:60]}'",
            code="resource_missing",
            param="charge",
        )
    return owner


def _new_refund(txn: SandboxTxn, amount: int, reason: str | None, params: Params) -> SandboxTxn:
    return SandboxTxn(
        id=_refund_ids(),
        kind="refund",
        amount=amount,
        currency=txn.currency,
        state=TxnState.REFUNDED,
        parent_id=txn.id,
        extra={
            "charge": txn.extra["charge"]["id"],
            "created": int(clock.now().timestamp()),
            "metadata": params.prefixed("metadata"),
            "reason": reason,
        },
    )


def retrieve_refund(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    refund = sandbox.state.ledger.get(call.path["refund"])
    if refund is None or refund.kind != "refund":
        raise StripeApiError(
            404,
            "invalid_request_error",
            f"No such refund: '{call.path['refund'][:60]}'",
            code="resource_missing",
            param="id",
        )
    return _refund_json(refund)


def _refund_json(refund: SandboxTxn) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "charge": refund.extra["charge"],
        "created": refund.extra["created"],
        "currency": refund.currency,
        "metadata": refund.extra["metadata"],
        "payment_intent": refund.parent_id,
        "reason": refund.extra["reason"],
        "status": "succeeded",  # test cards refund synchronously
    }


def balance(sandbox: StripeSandbox, _call: Call) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for txn in sandbox.state.ledger.transactions.values():
        if txn.kind == "payment_intent":
            totals[txn.currency] = totals.get(txn.currency, 0) + txn.refundable
    funds = [
        {"amount": amount, "currency": currency, "source_types": {"card": amount}}
        for currency, amount in (totals or {"usd": 0}).items()
    ]
    zero = [{**fund, "amount": 0, "source_types": {"card": 0}} for fund in funds]
    return {"object": "balance", "available": funds, "pending": zero, "livemode": False}


# --- the app ----------------------------------------------------------------------------------


def _routes(sandbox: StripeSandbox) -> list[BaseRoute]:
    table: list[tuple[str, str, Handler]] = [
        ("/v1/payment_intents", "POST", create_intent),
        ("/v1/payment_intents", "GET", list_intents),
        ("/v1/payment_intents/search", "GET", search_intents),
        ("/v1/payment_intents/{intent}", "GET", retrieve_intent),
        ("/v1/payment_intents/{intent}/capture", "POST", capture_intent),
        ("/v1/payment_intents/{intent}/cancel", "POST", cancel_intent),
        ("/v1/refunds", "POST", create_refund),
        ("/v1/refunds/{refund}", "GET", retrieve_refund),
        ("/v1/balance", "GET", balance),
    ]
    return [_route(sandbox, path, method, handler) for path, method, handler in table]


def create_app(
    credentials: Mapping[str, str] | None = None, *, allow_raw_cards: bool = True
) -> Starlette:
    """A fresh Stripe sandbox with its own ledger, faults and idempotency keys."""
    api_key = (credentials or SANDBOX_CREDENTIALS)["secret_key"]
    state = SandboxState(ledger=Ledger(id_factory=alnum_ids("pi_", 24)))
    sandbox = StripeSandbox(state=state, api_key=api_key, allow_raw_cards=allow_raw_cards)
    return sandbox_app(state, _routes(sandbox))
