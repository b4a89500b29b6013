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

The wire mapping lives in the pure functions `to_*_payload` / `to_*_params` (payloads.py) and
`from_*_response` (responses.py); the connector class only sends and logs.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar, Final
from urllib.parse import quote

from avnz.core import clock
from avnz.gateways.base import (
    CaptureRequest,
    Connector,
    Environment,
    GatewayResult,
    GatewayState,
    HttpReply,
    InquireRequest,
    Operation,
    PaymentRequest,
    RefundRequest,
    TransportFailure,
    VoidRequest,
    config_error,
    send,
    transport_failure_result,
)
from avnz.gateways.stripe.payloads import (
    API_VERSION,
    to_authorize_payload,
    to_capture_payload,
    to_lookup_params,
    to_recent_params,
    to_refund_payload,
    to_sale_payload,
    to_search_params,
    to_void_payload,
)
from avnz.gateways.stripe.responses import (
    from_inquire_response,
    from_payment_response,
    from_recent_response,
    from_refund_response,
    from_search_response,
    from_verify_response,
)

KEY_PREFIXES: Final[Mapping[Environment, tuple[str, ...]]] = {
    Environment.SANDBOX: ("sk_test_", "rk_test_"),
    Environment.PRODUCTION: ("sk_live_", "rk_live_"),
}


def key_problem(environment: Environment, key: str) -> str | None:
    """Why this key cannot work in this environment (a live key against the sandbox...)."""
    if key.startswith(KEY_PREFIXES[environment]):
        return None
    expected = " or ".join(f"{prefix}…" for prefix in KEY_PREFIXES[environment])
    return f"a {environment.value} Stripe account needs a key starting {expected}"


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
            "webhook_secret": {
                "type": "string",
                "title": "Webhook signing secret",
                "description": (
                    "The signing secret (whsec_…) of the Stripe webhook endpoint that sends this "
                    "account's dispute events to /api/v1/gateway-webhooks/stripe/{account id}; "
                    "without it, dispute webhooks are refused."
                ),
                "pattern": "^whsec_[A-Za-z0-9]+$",
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
