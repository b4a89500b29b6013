"""Authorize.Net connector: the JSON flavour of the Authorize.Net API (`/xml/v1/request.api`).

Every call is one POST of a JSON document. The gateway converts it to XML and validates it against
its XSD, so keys must follow the XSD sequence (an out-of-order key is a parse error, E00003): the
payload builders (payloads.py) write keys in that order on purpose. Answers are HTTP 200 with a
UTF-8 BOM.
A transaction is decided by `transactionResponse.responseCode` ("1" approved, "2" declined,
"3" error, "4" held for review) and its reason code; request-level failures (credentials, schema)
carry only `messages`.

Our order id travels as `order.invoiceNumber` (max 20 characters): it is how a payment is found
again after a timeout (getUnsettledTransactionListRequest), and it feeds the gateway's duplicate
filter, which is the closest thing Authorize.Net has to an idempotency key.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar

from avnz.gateways.authorize_net.codes import SETTLED_STATES
from avnz.gateways.authorize_net.payloads import (
    API_PATH,
    MAX_PAGES,
    Payload,
    to_authenticate_payload,
    to_authorize_payload,
    to_capture_payload,
    to_details_payload,
    to_refund_payload,
    to_sale_payload,
    to_unsettled_list_payload,
    to_void_payload,
)
from avnz.gateways.authorize_net.responses import (
    from_authenticate_response,
    from_details_response,
    from_payment_response,
    from_unsettled_list_response,
    minor_units,
    not_found_result,
    read_details,
)
from avnz.gateways.base import (
    CaptureRequest,
    Connector,
    DeclineReason,
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
    declined,
    gateway_text,
    send,
    transport_failure_result,
)


class AuthorizeNetConnector(Connector):
    name: ClassVar[str] = "authorize_net"
    display_name: ClassVar[str] = "Authorize.Net"
    base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SANDBOX: "https://apitest.authorize.net",
        Environment.PRODUCTION: "https://api.authorize.net",
    }
    credentials_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "title": "Authorize.Net API credentials",
        "required": ["api_login_id", "transaction_key"],
        "additionalProperties": False,
        "properties": {
            "api_login_id": {
                "type": "string",
                "title": "API Login ID",
                "description": "Account > Settings > API Credentials & Keys in the Merchant "
                "Interface. Sandbox and production IDs differ.",
                "minLength": 1,
                "maxLength": 25,
            },
            "transaction_key": {
                "type": "string",
                "title": "Transaction Key",
                "description": "The 16-character key generated next to the API Login ID.",
                "minLength": 16,
                "maxLength": 16,
                "writeOnly": True,
            },
        },
    }

    async def sale(self, request: PaymentRequest) -> GatewayResult:
        return await self._transact(
            Operation.SALE,
            lambda creds: to_sale_payload(request, creds),
            amount=request.amount,
            order_id=request.order_id,
        )

    async def authorize(self, request: PaymentRequest) -> GatewayResult:
        return await self._transact(
            Operation.AUTHORIZE,
            lambda creds: to_authorize_payload(request, creds),
            amount=request.amount,
            order_id=request.order_id,
        )

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        return await self._transact(
            Operation.CAPTURE,
            lambda creds: to_capture_payload(request, creds),
            amount=request.amount,
            order_id=request.order_id,
        )

    async def void(self, request: VoidRequest) -> GatewayResult:
        result = await self._transact(
            Operation.VOID,
            lambda creds: to_void_payload(request, creds),
            amount=None,
            order_id=request.order_id,
        )
        if result.decline_reason is not DeclineReason.TRANSACTION_NOT_FOUND:
            return result
        return await self._explain_void_refusal(request.transaction_id, result)

    async def refund(self, request: RefundRequest) -> GatewayResult:
        basis = await self._refund_basis(request)
        if isinstance(basis, GatewayResult):
            return basis
        amount, last4 = basis
        return await self._transact(
            Operation.REFUND,
            lambda creds: to_refund_payload(request, creds, amount=amount, card_last4=last4),
            amount=amount,
            order_id=request.order_id,
        )

    async def verify(self) -> GatewayResult:
        return await self._call(
            Operation.VERIFY, to_authenticate_payload, from_authenticate_response, order_id=None
        )

    async def inquire(self, request: InquireRequest) -> GatewayResult:
        if request.transaction_id:
            transaction_id = request.transaction_id
            return await self._call(
                Operation.INQUIRE,
                lambda creds: to_details_payload(transaction_id, creds),
                from_details_response,
                order_id=request.order_id,
            )
        assert request.order_id is not None  # InquireRequest guarantees one of the two
        return await self._inquire_by_order(request.order_id)

    # --- plumbing ----------------------------------------------------------------------------

    def _credentials(self) -> Mapping[str, str] | None:
        creds = self.config.credentials
        if not (creds.get("api_login_id") and creds.get("transaction_key")):
            return None
        return creds

    async def _transact(
        self,
        operation: Operation,
        build: Callable[[Mapping[str, str]], Payload],
        *,
        amount: int | None,
        order_id: str | None,
    ) -> GatewayResult:
        return await self._call(
            operation,
            build,
            lambda reply: from_payment_response(operation, reply, amount),
            order_id=order_id,
        )

    async def _call(
        self,
        operation: Operation,
        build: Callable[[Mapping[str, str]], Payload],
        parse: Callable[[HttpReply], GatewayResult],
        *,
        order_id: str | None,
    ) -> GatewayResult:
        """One logged exchange with the gateway, parsed into a result."""
        reply = await self._exchange(operation, build)
        return self.logged(
            reply if isinstance(reply, GatewayResult) else parse(reply), order_id=order_id
        )

    async def _exchange(
        self, operation: Operation, build: Callable[[Mapping[str, str]], Payload]
    ) -> HttpReply | GatewayResult:
        """Build and send one request; a result instead of a reply when that was not possible."""
        credentials = self._credentials()
        if credentials is None:
            return config_error(
                operation, "api_login_id and transaction_key are required", request_sent=False
            )
        try:
            payload = build(credentials)
        except ValueError as exc:  # e.g. a currency without minor units: never left this process
            return declined(
                operation,
                DeclineReason.INVALID_REQUEST,
                raw_code=None,
                raw_message=gateway_text(str(exc)),
                request_sent=False,
            )
        try:
            return await send(
                self.http,
                "POST",
                self.base_url + API_PATH,
                timeouts=self.config.timeouts,
                content=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
            )
        except TransportFailure as failure:
            return transport_failure_result(operation, failure)

    async def _inquire_by_order(self, order_id: str) -> GatewayResult:
        """Page through the unsettled transactions (newest first) for the order's invoice number."""
        result = not_found_result(0.0)
        for page in range(1, MAX_PAGES + 1):
            build = partial(to_unsettled_list_payload, page=page)
            reply = await self._exchange(Operation.INQUIRE, build)
            if isinstance(reply, GatewayResult):
                return self.logged(reply, order_id=order_id)
            result, more = from_unsettled_list_response(reply, order_id)
            if not more:
                break
        return self.logged(result, order_id=order_id)

    async def _refund_basis(self, request: RefundRequest) -> tuple[int, str] | GatewayResult:
        """Amount and card last four for a referenced refund; what the caller left out comes
        from the original transaction (its settled amount, its masked card number)."""
        if request.amount is not None and request.card_last4:
            return request.amount, request.card_last4
        transaction_id = request.transaction_id
        reply = await self._exchange(
            Operation.REFUND, lambda creds: to_details_payload(transaction_id, creds)
        )
        original = reply if isinstance(reply, GatewayResult) else read_details(reply)
        if isinstance(original, GatewayResult):
            return self.logged(
                replace(original, operation=Operation.REFUND), order_id=request.order_id
            )
        amount = (
            request.amount if request.amount is not None else minor_units(original.settleAmount)
        )
        last4 = request.card_last4 or original.card_last4
        if amount is None or last4 is None:
            refusal = declined(
                Operation.REFUND,
                DeclineReason.INVALID_STATE,
                raw_code=original.transactionStatus,
                raw_message="the original transaction has no settled amount or card",
            )
            return self.logged(refusal, order_id=request.order_id)
        return amount, last4

    async def _explain_void_refusal(
        self, transaction_id: str, refusal: GatewayResult
    ) -> GatewayResult:
        """A void only sees unsettled transactions: reason 16 also means "settled". Ask, so the
        caller can tell a wrong id (stays not-found) from a refund-instead case (invalid state)."""
        found = await self.inquire(InquireRequest(transaction_id=transaction_id))
        if found.state not in SETTLED_STATES:
            return refusal
        return declined(
            Operation.VOID,
            DeclineReason.INVALID_STATE,
            raw_code=refusal.raw_code,
            raw_message=f"{found.raw_code}: settled transactions are refunded, not voided",
            transaction_id=transaction_id,
            latency_ms=refusal.latency_ms + found.latency_ms,
        )
