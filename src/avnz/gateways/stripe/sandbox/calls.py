"""One call to the Stripe sandbox: the API key check, idempotency replay, Stripe-shaped errors
and the typed reading of form parameters (amounts, currencies, cards).
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from stdnum import luhn

from avnz.core import clock
from avnz.gateways.sandbox.common import FaultMode, SandboxState, gateway_endpoint
from avnz.gateways.stripe.payloads import API_VERSION, stripe_exponent
from avnz.gateways.stripe.sandbox.tables import (
    BRANDS,
    MAXIMUM_AMOUNT,
    MESSAGES,
    MINIMUM_AMOUNT,
    PAYMENT_METHODS,
    RAW_CARDS_REFUSED,
    SYMBOLS,
    request_ids,
)


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


def invalid_request(
    message: str, *, code: str | None = None, param: str | None = None
) -> StripeApiError:
    """A 400 invalid_request_error as Stripe words it."""
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


def route(sandbox: StripeSandbox, path: str, method: str, handler: Handler) -> Route:
    """The route of one API endpoint, served through the sandbox's fault injection."""

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
        error = invalid_request("Idempotency-Key must be at most 255 characters long.")
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
    headers = {"Request-Id": request_ids(), "Stripe-Version": API_VERSION}
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


def int_param(params: Params, name: str, *, required: bool = False) -> int | None:
    """An integer form parameter; None when absent and optional, a Stripe error otherwise."""
    raw = params.get(name)
    if not raw:
        if required:
            raise invalid_request(
                f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return None
    if not raw.isdigit():
        raise invalid_request(
            f"Invalid integer: {raw[:20]}", code="parameter_invalid_integer", param=name
        )
    return int(raw)


def positive(amount: int, name: str) -> int:
    """`amount` when it is at least 1; Stripe's error naming the parameter otherwise."""
    if amount < 1:
        raise invalid_request(
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param=name,
        )
    return amount


def currency_param(params: Params) -> str:
    """The lower-case `currency` parameter, refused when missing or unknown."""
    raw = params.get("currency")
    if not raw:
        raise invalid_request(
            "Missing required param: currency.", code="parameter_missing", param="currency"
        )
    try:
        stripe_exponent(raw)
    except ValueError:
        raise invalid_request(f"Invalid currency: {raw[:10].lower()}.", param="currency") from None
    return raw.lower()


def check_amount(amount: int, currency: str) -> None:
    """Refuse an amount below the currency's minimum or above Stripe's maximum."""
    minimum = MINIMUM_AMOUNT.get(currency, 1)
    if amount < minimum:
        raise invalid_request(
            f"Amount must be at least {display_amount(minimum, currency)} {currency}",
            code="amount_too_small",
            param="amount",
        )
    if amount > MAXIMUM_AMOUNT:
        raise invalid_request(
            f"Amount must be no more than {display_amount(MAXIMUM_AMOUNT, currency)}",
            code="amount_too_large",
            param="amount",
        )


def display_amount(amount: int, currency: str) -> str:
    """An amount as Stripe's messages print it, e.g. `$0.50`."""
    major = Decimal(amount).scaleb(-stripe_exponent(currency))
    symbol = SYMBOLS.get(currency, f"{currency.upper()} ")
    return f"{symbol}{major:,}"


def card_param(sandbox: StripeSandbox, params: Params) -> CardInput | None:
    """The card of a request (test PaymentMethod or raw card data), None when it has none."""
    token = params.get("payment_method")
    has_data = params.has_prefix("payment_method_data[")
    if token and has_data:
        raise invalid_request(
            "You cannot specify both payment_method and payment_method_data.",
            param="payment_method_data",
        )
    if token:
        return _token_card(token)
    return _raw_card(sandbox, params) if has_data else None


def _token_card(token: str) -> CardInput:
    number = PAYMENT_METHODS.get(token)
    if number is None:
        raise invalid_request(
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
        raise invalid_request(
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
