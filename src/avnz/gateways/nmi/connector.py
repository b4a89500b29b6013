"""NMI Payment API ("Direct Post") and Query API.

Payments go to POST /api/transact.php as form fields (credentials in the body as
`security_key`); the answer is HTTP 200 with a URL-encoded query string whose `response` is
1 (approved), 2 (declined) or 3 (error), even for declines and bad credentials. Lookups go to
/api/query.php and come back as XML (`<nm_response><transaction>…`). Live and test accounts share
one host; a test account (or the public demo key) is what makes it a sandbox.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from avnz.gateways.base import (
    CaptureRequest,
    Connector,
    Environment,
    GatewayResult,
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
    unreadable_reply_result,
)
from avnz.gateways.nmi.payloads import (
    to_authorize_payload,
    to_capture_payload,
    to_inquire_payload,
    to_refund_payload,
    to_sale_payload,
    to_verify_payload,
    to_void_payload,
)
from avnz.gateways.nmi.responses import (
    UnreadableReplyError,
    from_payment_response,
    from_query_response,
    from_verify_response,
    parse_query_body,
    parse_transact_body,
)

TRANSACT_PATH = "/api/transact.php"
QUERY_PATH = "/api/query.php"


class NmiConnector(Connector):
    name: ClassVar[str] = "nmi"
    display_name: ClassVar[str] = "NMI"
    # One host serves live and test accounts; test mode lives on the account, not the URL.
    base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SANDBOX: "https://secure.nmi.com",
        Environment.PRODUCTION: "https://secure.nmi.com",
    }
    credentials_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "title": "NMI credentials",
        "required": ["security_key"],
        "additionalProperties": False,
        "properties": {
            "security_key": {
                "type": "string",
                "title": "Security key",
                "description": "Private API security key (Merchant Portal → Settings → "
                "Security Keys). A test account's key, or NMI's public demo key, for testing.",
                "minLength": 1,
                "writeOnly": True,
            },
        },
    }

    async def sale(self, request: PaymentRequest) -> GatewayResult:
        return await self._transact(Operation.SALE, to_sale_payload(request), request.amount)

    async def authorize(self, request: PaymentRequest) -> GatewayResult:
        return await self._transact(
            Operation.AUTHORIZE, to_authorize_payload(request), request.amount
        )

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        return await self._transact(Operation.CAPTURE, to_capture_payload(request), request.amount)

    async def void(self, request: VoidRequest) -> GatewayResult:
        return await self._transact(Operation.VOID, to_void_payload(request), None)

    async def refund(self, request: RefundRequest) -> GatewayResult:
        return await self._transact(Operation.REFUND, to_refund_payload(request), request.amount)

    async def verify(self) -> GatewayResult:
        reply = await self._post(Operation.VERIFY, TRANSACT_PATH, to_verify_payload())
        if isinstance(reply, GatewayResult):
            return self.logged(reply)
        try:
            result = from_verify_response(_readable(parse_transact_body, reply))
        except UnreadableReplyError as exc:
            return self.logged(unreadable_reply_result(Operation.VERIFY, reply, str(exc)))
        return self.logged(replace(result, latency_ms=reply.latency_ms))

    async def inquire(self, request: InquireRequest) -> GatewayResult:
        reply = await self._post(Operation.INQUIRE, QUERY_PATH, to_inquire_payload(request))
        if isinstance(reply, GatewayResult):
            return self.logged(reply)
        try:
            result = from_query_response(_readable(parse_query_body, reply), request=request)
        except UnreadableReplyError as exc:
            return self.logged(unreadable_reply_result(Operation.INQUIRE, reply, str(exc)))
        return self.logged(replace(result, latency_ms=reply.latency_ms))

    async def _transact(
        self, operation: Operation, payload: dict[str, str], amount: int | None
    ) -> GatewayResult:
        reply = await self._post(operation, TRANSACT_PATH, payload)
        if isinstance(reply, GatewayResult):
            return self.logged(reply)
        try:
            parsed = _readable(parse_transact_body, reply)
        except UnreadableReplyError as exc:
            return self.logged(unreadable_reply_result(operation, reply, str(exc)))
        result = from_payment_response(parsed, operation=operation, amount=amount)
        return self.logged(replace(result, latency_ms=reply.latency_ms))

    async def _post(
        self, operation: Operation, path: str, payload: dict[str, str]
    ) -> HttpReply | GatewayResult:
        """One POST with the key added; a GatewayResult when no usable exchange took place."""
        try:
            key = self.credential("security_key")
        except ValueError as exc:
            return config_error(operation, str(exc), request_sent=False)
        try:
            return await send(
                self.http,
                "POST",
                self.base_url + path,
                timeouts=self.config.timeouts,
                data={**payload, "security_key": key},
            )
        except TransportFailure as failure:
            return transport_failure_result(operation, failure)


T = TypeVar("T")


def _readable(parse: Callable[[bytes], T], reply: HttpReply) -> T:
    # NMI answers 200 even for declines: any other status came from something else (a proxy,
    # an outage, the 429 throttle) and says nothing about whether the request was processed.
    if reply.status != 200:
        raise UnreadableReplyError(f"HTTP {reply.status}")
    return parse(reply.body)
