"""One call to the Stripe sandbox, in Stripe's order: the API key (before the route is even
looked at, so an unknown path with a bad key is 401), the `Stripe-Version` header, the route
(Stripe's 404 JSON for an unknown one), unknown parameters (400 `parameter_unknown`), then the
handler inside one store unit with idempotency replay, and the webhooks of what it did, sent
after the answer; and the typed reading of form parameters (amounts, currencies, cards).
"""

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Mapping, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from avnz.core import clock
from avnz.gateways.sandbox.common import FaultMode, SandboxState, gateway_endpoint
from avnz.gateways.sandbox.store import JSON_CODEC
from avnz.gateways.stripe.payloads import API_VERSION, stripe_exponent
from avnz.gateways.stripe.sandbox.tables import (
    MAXIMUM_AMOUNT,
    MINIMUM_AMOUNT,
    SYMBOLS,
    request_ids,
)
from avnz.gateways.stripe.sandbox.webhooks import Delivery, deliver, deliveries, new_event

DOCS = "https://stripe.com/docs"
CHARGES_REMOVED = "2022-11-15"  # the API version that replaced `charges` with `latest_charge`


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
        doc_url = f"{DOCS}/error-codes/{code.replace('_', '-')}" if code else None
        optional = {"code": code, "decline_code": decline_code, "param": param, "doc_url": doc_url}
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
    api_version: str = API_VERSION  # the Stripe-Version the request asked for
    emitted: list[dict[str, Any]] = field(default_factory=list)  # events this call caused


@dataclass
class StripeSandbox:
    """One Stripe account's sandbox: its records live in `state.ledger.store`."""

    state: SandboxState
    api_key: str
    allow_raw_cards: bool = True
    webhook_tolerance: int = 300

    def records(self, namespace: str) -> MutableMapping[str, dict[str, Any]]:
        """The JSON records of `namespace` (customers, idempotency keys, ...) in the store."""
        return self.state.ledger.store.records("stripe", namespace, JSON_CODEC)

    @property
    def idempotency(self) -> MutableMapping[str, dict[str, Any]]:
        """Idempotency-Key -> {fingerprint, status, body} of the first executed request."""
        return self.records("idempotency")


Handler = Callable[[StripeSandbox, Call], dict[str, Any]]
Answer = tuple[int, Any, bool, list[Delivery]]


# --- HTTP plumbing ----------------------------------------------------------------------------

VERSION_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")


def route(
    sandbox: StripeSandbox, path: str, method: str, handler: Handler, allowed: Collection[str]
) -> Route:
    """The route of one API endpoint taking the top-level parameters `allowed` (plus `expand`),
    served through the sandbox's fault injection."""
    names = frozenset({*allowed, "expand"})

    async def endpoint(request: Request) -> Response:
        return await _answer(sandbox, request, handler, names)

    # Every fault strikes the answer after Stripe acted on the request.
    faulted = gateway_endpoint(sandbox.state, endpoint, processed_first=frozenset(FaultMode))
    return Route(path, faulted, methods=[method])


def unknown_route(sandbox: StripeSandbox) -> Route:
    """The last route: any other path or method, answered only once the key is good."""

    def unrecognized(_sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
        raise StripeApiError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({call.path['method']}: {call.path['url'][:80]}). Please "
            "see https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    async def endpoint(request: Request) -> Response:
        return await _answer(sandbox, request, unrecognized, None)

    return Route("/{rest:path}", endpoint, methods=["GET", "POST", "DELETE", "PUT", "PATCH"])


async def _answer(
    sandbox: StripeSandbox, request: Request, handler: Handler, allowed: frozenset[str] | None
) -> Response:
    raw = (await request.body()).decode("utf-8", "replace")
    problem = _auth_problem(sandbox.api_key, request.headers.get("authorization"))
    version = request.headers.get("stripe-version") or API_VERSION
    if not VERSION_PATTERN.fullmatch(version):
        problem = problem or invalid_request(f"Invalid Stripe API version: {version[:40]}")
        version = API_VERSION
    if problem is not None:
        return _json(problem.body, problem.status, version)
    query = raw if request.method == "POST" else request.url.query
    params = Params(parse_qsl(query, keep_blank_values=True))
    where = {"method": request.method, "url": request.url.path}
    call = Call(params, request.path_params if allowed is not None else where, version)
    unknown = None if allowed is None else _unknown_parameter(params, allowed)
    if unknown is not None:
        return _json(unknown.body, unknown.status, version)
    key = request.headers.get("idempotency-key") if request.method == "POST" else None
    with sandbox.state.ledger.store.unit():
        if key is None:
            status, body, _, sending = _execute(sandbox, handler, call)
            replayed = False
        else:
            run = functools.partial(_execute, sandbox, handler, call)
            status, body, sending, replayed = _idempotent(
                sandbox, key, _fingerprint(request, call), run
            )
    task = BackgroundTask(deliver, sending) if sending else None
    return _json(versioned(body, version), status, version, replayed=replayed, background=task)


def _unknown_parameter(params: Params, allowed: frozenset[str]) -> StripeApiError | None:
    for key, _ in params.pairs:
        root = key.partition("[")[0]
        if root not in allowed:
            return invalid_request(
                f"Received unknown parameter: {root[:60]}", code="parameter_unknown", param=root
            )
    return None


def _execute(sandbox: StripeSandbox, handler: Handler, call: Call) -> Answer:
    endpoints = sandbox.records("webhook_endpoints")
    try:
        body = handler(sandbox, call)
    except StripeApiError as error:
        # A stored error (a decline) happened; a refused request did nothing to tell anyone.
        emitted = call.emitted if error.stored else []
        return error.status, error.body, error.stored, deliveries(endpoints.values(), emitted)
    return 200, body, True, deliveries(endpoints.values(), call.emitted)


def emit(
    sandbox: StripeSandbox,
    call: Call,
    kind: str,
    obj: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record the event `kind` about `obj` (GET /v1/events finds it) and queue its webhooks."""
    created = int(clock.now().timestamp())
    event = new_event(kind, obj, previous, call.api_version, created)
    sandbox.records("events")[event["id"]] = event
    call.emitted.append(event)
    return event


def _idempotent(
    sandbox: StripeSandbox, key: str, fingerprint: str, run: Callable[[], Answer]
) -> tuple[int, Any, list[Delivery], bool]:
    if len(key) > 255:
        error = invalid_request("Idempotency-Key must be at most 255 characters long.")
        return error.status, error.body, [], False
    stored = sandbox.idempotency.get(key)
    if stored is not None and stored["fingerprint"] != fingerprint:
        error = StripeApiError(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
        )
        return error.status, error.body, [], False
    if stored is not None:
        return int(stored["status"]), stored["body"], [], True
    status, body, keep, sending = run()
    if keep:
        sandbox.idempotency[key] = {"fingerprint": fingerprint, "status": status, "body": body}
    return status, body, sending, False


def _fingerprint(request: Request, call: Call) -> str:
    canonical = f"{request.method} {request.url.path}\n{urlencode(sorted(call.params.pairs))}"
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json(
    body: Any,
    status: int,
    version: str,
    *,
    replayed: bool = False,
    background: BackgroundTask | None = None,
) -> Response:
    request_id = request_ids()
    headers = {"Request-Id": request_id, "Stripe-Version": version}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
        log_url = f"https://dashboard.stripe.com/test/logs/{request_id}"
        body = {"error": {**body["error"], "request_log_url": log_url}}
    return JSONResponse(body, status_code=status, headers=headers, background=background)


def versioned(body: Any, version: str) -> Any:
    """`body` as API `version` shapes it: before 2022-11-15 a PaymentIntent lists its charges
    (`charges`) where later versions name the latest one (`latest_charge`)."""
    if version >= CHARGES_REMOVED or not isinstance(body, dict):
        return body
    if body.get("object") == "payment_intent":
        latest = body.get("latest_charge")
        charges = [latest] if isinstance(latest, dict) else []
        url = f"/v1/charges?payment_intent={body['id']}"
        listed = {"object": "list", "data": charges, "has_more": False, "url": url}
        return {k: v for k, v in body.items() if k != "latest_charge"} | {"charges": listed}
    if isinstance(body.get("data"), list):
        return {**body, "data": [versioned(item, version) for item in body["data"]]}
    if isinstance(body.get("error"), dict) and "payment_intent" in body["error"]:
        intent = versioned(body["error"]["payment_intent"], version)
        return {"error": {**body["error"], "payment_intent": intent}}
    return body


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


def missing(kind: str, object_id: str, param: str) -> StripeApiError:
    """Stripe's 404 for an id that names nothing: `No such <kind>: '<id>'`."""
    return StripeApiError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{object_id[:60]}'",
        code="resource_missing",
        param=param,
    )


def find_record(sandbox: StripeSandbox, namespace: str, object_id: str, param: str) -> Any:
    """The record `object_id` of `namespace` (`customers` names a `customer`), or Stripe's 404."""
    found = sandbox.records(namespace).get(object_id)
    if found is None:
        raise missing(namespace.removesuffix("s"), object_id, param)
    return found


def live_customer(sandbox: StripeSandbox, customer_id: str, param: str) -> dict[str, Any]:
    """The customer `customer_id` unless it is unknown or deleted (Stripe's 404 then)."""
    customer: dict[str, Any] = find_record(sandbox, "customers", customer_id, param)
    if customer.get("deleted"):
        raise missing("customer", customer_id, param)
    return customer


def listing(url: str, items: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """A list object of `items` (newest first) after `starting_after`, at most `limit` long."""
    limit = min(max(int_param(params, "limit") or 10, 1), 100)
    after = params.get("starting_after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit, "url": url}
