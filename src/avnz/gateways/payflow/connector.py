"""PayPal Payflow Pro over its name-value-pair (NVP) protocol (reference/gateways.md §3).

One POST to `/` per transaction, body `NAME=value&NAME=value` (`text/namevalue`, not URL-encoded);
a value holding `&` or `=` carries a length tag: `BILLTOSTREET[9]=1 & 2 Elm`. Credentials travel
in the body (PARTNER, VENDOR, USER, PWD). The answer is NVP too, `RESULT=0&PNREF=...`; RESULT 0
is the only approval. We send `PAYPAL-NVP: Y` so the answer comes back length-tagged and a RESPMSG
holding `&` or `=` cannot break parsing.

What shapes the mapping:
- A delayed capture (TRXTYPE D) is a transaction of its own with its own PNREF. Credits (C) must
  reference the sale or that capture: crediting the authorization is refused with RESULT 105.
- `X-VPS-REQUEST-ID` makes a retry return the original answer; it is derived from the idempotency
  key, so the same key always replays instead of charging twice.
- Every sale and authorization carries our order id as CUSTREF (and INVNUM), so an inquiry
  (TRXTYPE I) finds it after a timeout when we never saw its PNREF. Payflow keeps credits as
  separate transactions, so an inquiry never reports a transaction as refunded.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from avnz.gateways.base import (
    CaptureRequest,
    Connector,
    DeclineReason,
    Environment,
    GatewayResult,
    InquireRequest,
    Operation,
    PaymentRequest,
    RefundRequest,
    TransportFailure,
    VoidRequest,
    config_error,
    declined,
    send,
    transport_failure_result,
    unreadable_reply_result,
)
from avnz.gateways.payflow.nvp import PayflowReply, encode_nvp, parse_reply
from avnz.gateways.payflow.payloads import (
    MissingCredentials,
    request_headers,
    to_authorize_payload,
    to_capture_payload,
    to_inquire_payload,
    to_refund_payload,
    to_sale_payload,
    to_verify_payload,
    to_void_payload,
)
from avnz.gateways.payflow.responses import (
    from_inquire_response,
    from_payment_response,
    from_reference_response,
    from_verify_response,
)

PILOT_URL = "https://pilot-payflowpro.paypal.com"
LIVE_URL = "https://payflowpro.paypal.com"


Interpret = Callable[[PayflowReply], GatewayResult]


class PayflowConnector(Connector):
    name: ClassVar[str] = "payflow"
    display_name: ClassVar[str] = "PayPal Payflow Pro"
    base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SANDBOX: PILOT_URL,
        Environment.PRODUCTION: LIVE_URL,
    }
    credentials_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "title": "PayPal Payflow Pro credentials",
        "required": ["partner", "vendor", "password"],
        "additionalProperties": False,
        "properties": {
            "partner": {
                "type": "string",
                "title": "Partner",
                "description": "The reseller that registered the account; PayPal when you "
                "signed up with PayPal directly.",
                "default": "PayPal",
                "minLength": 1,
            },
            "vendor": {
                "type": "string",
                "title": "Vendor (merchant login)",
                "description": "The merchant login ID chosen when the account was registered.",
                "minLength": 1,
            },
            "user": {
                "type": "string",
                "title": "User",
                "description": "An API user set up in PayPal Manager; leave empty to use the "
                "vendor login.",
            },
            "password": {
                "type": "string",
                "title": "Password",
                "description": "The password of the user (or of the vendor login).",
                "minLength": 6,
                "maxLength": 32,
                "writeOnly": True,
            },
        },
    }

    async def sale(self, request: PaymentRequest) -> GatewayResult:
        return await self._payment(Operation.SALE, to_sale_payload, request)

    async def authorize(self, request: PaymentRequest) -> GatewayResult:
        return await self._payment(Operation.AUTHORIZE, to_authorize_payload, request)

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        return await self._call(
            Operation.CAPTURE,
            lambda: to_capture_payload(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_reference_response(
                Operation.CAPTURE, reply, amount=request.amount, currency=request.currency
            ),
        )

    async def void(self, request: VoidRequest) -> GatewayResult:
        return await self._call(
            Operation.VOID,
            lambda: to_void_payload(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_reference_response(Operation.VOID, reply),
        )

    async def refund(self, request: RefundRequest) -> GatewayResult:
        return await self._call(
            Operation.REFUND,
            lambda: to_refund_payload(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_reference_response(
                Operation.REFUND, reply, amount=request.amount, currency=request.currency
            ),
        )

    async def verify(self) -> GatewayResult:
        return await self._call(
            Operation.VERIFY,
            lambda: to_verify_payload(self.config.credentials),
            None,
            from_verify_response,
        )

    async def inquire(self, request: InquireRequest) -> GatewayResult:
        return await self._call(
            Operation.INQUIRE,
            lambda: to_inquire_payload(request, self.config.credentials),
            None,  # a lookup moves nothing; a fresh request id keeps it from replaying a stale one
            from_inquire_response,
        )

    async def _payment(
        self,
        operation: Operation,
        build: Callable[[PaymentRequest, Mapping[str, str]], dict[str, str]],
        request: PaymentRequest,
    ) -> GatewayResult:
        cvv_sent = bool(request.card and request.card.cvv)
        return await self._call(
            operation,
            lambda: build(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_payment_response(
                operation,
                reply,
                amount=request.amount,
                currency=request.currency,
                cvv_sent=cvv_sent,
            ),
        )

    async def _call(
        self,
        operation: Operation,
        build: Callable[[], dict[str, str]],
        idempotency_key: str | None,
        interpret: Interpret,
    ) -> GatewayResult:
        return self.logged(await self._exchange(operation, build, idempotency_key, interpret))

    async def _exchange(
        self,
        operation: Operation,
        build: Callable[[], dict[str, str]],
        idempotency_key: str | None,
        interpret: Interpret,
    ) -> GatewayResult:
        try:
            body = encode_nvp(build()).encode("utf-8")
        except MissingCredentials as exc:
            return config_error(operation, str(exc), request_sent=False)
        except ValueError as exc:  # e.g. a currency with no minor unit: never sent
            return declined(
                operation,
                DeclineReason.INVALID_REQUEST,
                raw_code=None,
                raw_message=str(exc)[:200],
                request_sent=False,
            )
        timeouts = self.config.timeouts
        try:
            reply = await send(
                self.http,
                "POST",
                f"{self.base_url}/",
                timeouts=timeouts,
                content=body,
                headers=request_headers(idempotency_key, timeouts),
            )
        except TransportFailure as failure:
            return transport_failure_result(operation, failure)
        if reply.status != 200:
            return unreadable_reply_result(operation, reply, f"HTTP {reply.status}")
        try:
            parsed = parse_reply(reply.body)
        except ValueError as exc:
            # The parser's message may quote the body; the type is enough to tell failures apart.
            why = f"not a Payflow reply ({type(exc).__name__})"
            return unreadable_reply_result(operation, reply, why)
        return dataclasses.replace(interpret(parsed), latency_ms=reply.latency_ms)
