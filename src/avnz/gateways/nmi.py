"""NMI Payment API ("Direct Post") and Query API.

Payments go to POST /api/transact.php as form fields (credentials in the body as
`security_key`); the answer is HTTP 200 with a URL-encoded query string whose `response` is
1 (approved), 2 (declined) or 3 (error), even for declines and bad credentials. Lookups go to
/api/query.php and come back as XML (`<nm_response><transaction>…`). Live and test accounts share
one host; a test account (or the public demo key) is what makes it a sandbox.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal, TypeVar
from urllib.parse import parse_qs

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from avnz.core.money import Money
from avnz.gateways.base import (
    AvsResult,
    CaptureRequest,
    Connector,
    CvvResult,
    DeclineReason,
    Environment,
    GatewayResult,
    GatewayState,
    HttpReply,
    InquireRequest,
    Operation,
    Outcome,
    PaymentRequest,
    RefundRequest,
    TransportFailure,
    VoidRequest,
    config_error,
    declined,
    gateway_text,
    send,
    transport_failure_result,
    unreadable_reply_result,
)

TRANSACT_PATH = "/api/transact.php"
QUERY_PATH = "/api/query.php"

APPROVED, DECLINED, ERROR = "1", "2", "3"

# `response_code` → reason. The hard/soft split follows the network rules (payments-data §5):
# issuer "never" answers (lost, stolen, closed, stop-payment) are hard; "not now" answers are soft.
DECLINE_REASONS: dict[str, DeclineReason] = {
    "200": DeclineReason.GENERIC_DECLINE,
    "201": DeclineReason.DO_NOT_HONOR,
    "202": DeclineReason.INSUFFICIENT_FUNDS,
    "203": DeclineReason.LIMIT_EXCEEDED,
    "204": DeclineReason.RESTRICTED_CARD,
    "220": DeclineReason.INVALID_CARD,
    "221": DeclineReason.INVALID_CARD,
    "222": DeclineReason.INVALID_CARD,
    "223": DeclineReason.EXPIRED_CARD,
    "224": DeclineReason.INVALID_EXPIRY,
    "225": DeclineReason.INVALID_CVV,
    "226": DeclineReason.INVALID_REQUEST,  # bad PIN: re-entering is a data fix, not a retry
    "240": DeclineReason.CALL_ISSUER,
    "250": DeclineReason.STOLEN_OR_LOST,
    "251": DeclineReason.STOLEN_OR_LOST,
    "252": DeclineReason.STOLEN_OR_LOST,
    "253": DeclineReason.FRAUD_SUSPECTED,
    "260": DeclineReason.GENERIC_DECLINE,
    "261": DeclineReason.RESTRICTED_CARD,  # stop all recurring payments
    "262": DeclineReason.RESTRICTED_CARD,  # stop this recurring program
    "263": DeclineReason.INVALID_CARD,  # updated cardholder data available: not the same data
    "264": DeclineReason.GENERIC_DECLINE,  # retry in a few days
    "300": DeclineReason.INVALID_REQUEST,
    "301": DeclineReason.RATE_LIMITED,
    "400": DeclineReason.PROCESSING_ERROR,
    "420": DeclineReason.PROCESSING_ERROR,
    "421": DeclineReason.PROCESSING_ERROR,
    "430": DeclineReason.DUPLICATE_TRANSACTION,
    "440": DeclineReason.INVALID_REQUEST,
    "441": DeclineReason.INVALID_REQUEST,
    "460": DeclineReason.INVALID_REQUEST,
    "461": DeclineReason.CARD_NOT_SUPPORTED,
}

# An unlisted code: a decline (2) is the issuer's generic no, an error (3) the gateway's trouble.
UNKNOWN_CODE_REASONS: dict[str, DeclineReason] = {
    DECLINED: DeclineReason.GENERIC_DECLINE,
    ERROR: DeclineReason.PROCESSING_ERROR,
}

# The account, not the card, is at fault: invalid merchant configuration, inactive account.
CONFIG_CODES = frozenset({"410", "411"})

# `responsetext` prefixes, matched case-insensitively (texts end in a varying `REFID:<n>`), that
# say more than the catch-all code 300 "rejected by gateway".
AUTH_FAILURES = ("authentication failed", "invalid security key", "invalid username")
TEXT_REASONS: tuple[tuple[str, DeclineReason], ...] = (
    ("transaction not found", DeclineReason.TRANSACTION_NOT_FOUND),
    ("invalid transaction id", DeclineReason.TRANSACTION_NOT_FOUND),
    ("only transactions pending settlement can be voided", DeclineReason.INVALID_STATE),
    ("a capture requires that the existing transaction be an auth", DeclineReason.INVALID_STATE),
    ("the specified amount of", DeclineReason.INVALID_AMOUNT),  # capture above authorized
    ("refund amount may not exceed", DeclineReason.INVALID_AMOUNT),
    ("invalid amount", DeclineReason.INVALID_AMOUNT),
    ("invalid credit card number", DeclineReason.INVALID_CARD),
    ("invalid payment token", DeclineReason.INVALID_CARD),
    ("duplicate transaction", DeclineReason.DUPLICATE_TRANSACTION),
    ("rate limit exceeded", DeclineReason.RATE_LIMITED),
    ("the cc payment type", DeclineReason.CARD_NOT_SUPPORTED),  # card brand/currency not accepted
)

AVS_RESULTS: dict[str, AvsResult] = {
    **dict.fromkeys("XYDM26", AvsResult.MATCH),
    **dict.fromkeys("AB37", AvsResult.ADDRESS_ONLY),
    **dict.fromkeys("WZPL15", AvsResult.POSTAL_ONLY),
    **dict.fromkeys("NC48", AvsResult.NO_MATCH),
    **dict.fromkeys("UGIRES0O", AvsResult.UNAVAILABLE),
}

CVV_RESULTS: dict[str, CvvResult] = {
    "M": CvvResult.MATCH,
    "N": CvvResult.NO_MATCH,
    "P": CvvResult.NOT_PROCESSED,
    "S": CvvResult.NOT_PROVIDED,  # merchant says the card has no CVV
    "U": CvvResult.UNAVAILABLE,  # issuer not certified
}

# Query API `condition` → what exists at the gateway. Refunds refine the captured states below.
CONDITION_STATES: dict[str, GatewayState] = {
    "pending": GatewayState.AUTHORIZED,
    "pendingsettlement": GatewayState.CAPTURED,
    "complete": GatewayState.CAPTURED,
    "canceled": GatewayState.VOIDED,
    "failed": GatewayState.DECLINED,
    # in_progress, abandoned, unknown and anything new stay UNKNOWN
}

# The first action of a transaction says what it is; these are the ones that can move money in.
PAYMENT_KINDS = frozenset({"sale", "auth"})
CAPTURING_ACTIONS = frozenset({"sale", "capture"})


class UnreadableReplyError(ValueError):
    """The gateway answered something we cannot read; it may still have acted."""


def _blank_as_zero(value: Any) -> Any:
    return "0" if value in (None, "") else value


class TransactReply(BaseModel):
    """One answer of transact.php, validated before anything reads it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    response: Literal["1", "2", "3"]
    responsetext: str = ""
    authcode: str = ""
    transactionid: str = ""
    avsresponse: str = ""
    cvvresponse: str = ""
    orderid: str = ""
    type: str = ""
    response_code: str = ""


class QueryAction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    action_type: str = ""
    amount: Annotated[Decimal, BeforeValidator(_blank_as_zero)] = Decimal(0)
    success: str = ""
    response_text: str = ""
    response_code: str = ""


class QueryTransaction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    transaction_id: str
    order_id: str = ""
    condition: str = ""
    currency: str = ""
    authorization_code: str = ""
    actions: tuple[QueryAction, ...] = ()

    @property
    def kind(self) -> str:
        return self.actions[0].action_type if self.actions else ""

    def total(self, action_types: frozenset[str]) -> Decimal:
        """Sum of the successful actions of these types (refunds may be listed as negative)."""
        return sum(
            (
                abs(a.amount)
                for a in self.actions
                if a.success == "1" and a.action_type in action_types
            ),
            Decimal(0),
        )


class QueryAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    error: str | None = None
    transactions: tuple[QueryTransaction, ...] = ()


# --- requests ------------------------------------------------------------------------------------


def amount_text(amount: int, currency: str) -> str:
    """Minor units as NMI's decimal string: 1999 USD → "19.99", 500 JPY → "500"."""
    return f"{Money(amount, currency).to_decimal():f}"


def _drop_empty(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value}


def _names(request: PaymentRequest) -> tuple[str | None, str | None]:
    """Billing names, or the card holder's name split at the last space when billing has none."""
    billing = request.billing
    if billing and (billing.first_name or billing.last_name):
        return billing.first_name, billing.last_name
    holder = request.card.holder_name if request.card else None
    if not holder:
        return None, None
    first, _, last = holder.strip().rpartition(" ")
    return (first, last) if first else (None, last)


def _instrument_fields(request: PaymentRequest) -> dict[str, str | None]:
    if request.card is None:
        # Collect.js payment tokens stand in for the card (and hold its CVV) on NMI's side.
        return {"payment_token": request.token}
    card = request.card
    return {
        "payment": "creditcard",
        "ccnumber": card.number,
        "ccexp": f"{card.exp_month:02d}{card.exp_year % 100:02d}",
        "cvv": card.cvv,
    }


def _billing_fields(request: PaymentRequest) -> dict[str, str | None]:
    first_name, last_name = _names(request)
    billing = request.billing
    if billing is None:
        return {"first_name": first_name, "last_name": last_name}
    return {
        "first_name": first_name,
        "last_name": last_name,
        "company": billing.company,
        "address1": billing.line1,
        "address2": billing.line2,
        "city": billing.city,
        "state": billing.state,
        "zip": billing.postal_code,
        "country": billing.country,
        "phone": billing.phone,
    }


def to_payment_payload(request: PaymentRequest, kind: Literal["sale", "auth"]) -> dict[str, str]:
    """The form fields of a sale or an authorization, without credentials. Our order id goes in
    `orderid`: NMI has no idempotency header, and it is what an inquiry after a timeout uses."""
    return _drop_empty(
        {
            "type": kind,
            "amount": amount_text(request.amount, request.currency),
            "currency": request.currency,
            "orderid": request.order_id,
            "order_description": request.description,
            "email": request.email,
            "ipaddress": request.ip_address,
            **_instrument_fields(request),
            **_billing_fields(request),
        }
    )


def to_sale_payload(request: PaymentRequest) -> dict[str, str]:
    return to_payment_payload(request, "sale")


def to_authorize_payload(request: PaymentRequest) -> dict[str, str]:
    return to_payment_payload(request, "auth")


def to_capture_payload(request: CaptureRequest) -> dict[str, str]:
    """No amount means the whole authorization."""
    amount = amount_text(request.amount, request.currency) if request.amount is not None else None
    return _drop_empty(
        {
            "type": "capture",
            "transactionid": request.transaction_id,
            "amount": amount,
            "orderid": request.order_id,
        }
    )


def to_void_payload(request: VoidRequest) -> dict[str, str]:
    return {"type": "void", "transactionid": request.transaction_id}


def to_refund_payload(request: RefundRequest) -> dict[str, str]:
    """No amount means everything still refundable (NMI refunds the balance when it is absent)."""
    amount = amount_text(request.amount, request.currency) if request.amount is not None else None
    return _drop_empty(
        {"type": "refund", "transactionid": request.transaction_id, "amount": amount}
    )


def to_verify_payload() -> dict[str, str]:
    """NMI has no credentials check; voiding transaction 0 moves no money and proves the key
    (ActiveMerchant's trick): only a bad key answers `Authentication Failed`."""
    return {"type": "void", "transactionid": "0"}


def to_inquire_payload(request: InquireRequest) -> dict[str, str]:
    """The gateway id when we have it (exact); our order id after a timeout-after-send."""
    if request.transaction_id:
        return {"transaction_id": request.transaction_id}
    return {"order_id": request.order_id or ""}


# --- answers -------------------------------------------------------------------------------------


def parse_transact_body(body: bytes) -> TransactReply:
    """The URL-encoded answer, validated; raises UnreadableReplyError for anything else."""
    text = body.decode("utf-8", errors="replace")
    fields = {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}
    try:
        return TransactReply.model_validate(fields)
    except ValidationError:
        raise UnreadableReplyError("not an NMI transact answer") from None


def _prefixed(text: str, prefixes: tuple[str, ...]) -> bool:
    return text.strip().lower().startswith(prefixes)


def _is_config_error(text: str, code: str) -> bool:
    return code in CONFIG_CODES or _prefixed(text, AUTH_FAILURES)


def decline_reason(reply: TransactReply) -> DeclineReason:
    """The reason of a non-approval: the error text where it is specific, else the result code,
    else the class of the answer."""
    for prefix, reason in TEXT_REASONS:
        if _prefixed(reply.responsetext, (prefix,)):
            return reason
    return DECLINE_REASONS.get(reply.response_code, UNKNOWN_CODE_REASONS[reply.response])


def from_payment_response(
    reply: TransactReply, *, operation: Operation, amount: int | None = None
) -> GatewayResult:
    """Any transact.php answer (sale, auth, capture, void, refund) as a result. `amount` is what
    we asked for: NMI does not echo it, and approves all of it (partial approvals are off)."""
    raw_code = reply.response_code or reply.response
    message = gateway_text(reply.responsetext)
    if reply.response != APPROVED and _is_config_error(reply.responsetext, reply.response_code):
        return config_error(operation, message, raw_code=raw_code)
    fields: dict[str, Any] = {
        "transaction_id": reply.transactionid or None,
        "auth_code": reply.authcode or None,
        "avs": AVS_RESULTS.get(reply.avsresponse.upper(), AvsResult.UNAVAILABLE),
        "cvv": CVV_RESULTS.get(reply.cvvresponse.upper(), CvvResult.UNAVAILABLE),
    }
    if reply.response == APPROVED:
        return GatewayResult(
            operation=operation,
            outcome=Outcome.APPROVED,
            amount=amount,
            raw_code=raw_code,
            raw_message=message,
            **fields,
        )
    return declined(
        operation, decline_reason(reply), raw_code=raw_code, raw_message=message, **fields
    )


def from_verify_response(reply: TransactReply) -> GatewayResult:
    """Voiding transaction 0 fails for a good key too; only the failure's kind matters."""
    result = from_payment_response(reply, operation=Operation.VERIFY)
    if (
        result.outcome is Outcome.CONFIG_ERROR
        or result.decline_reason is DeclineReason.RATE_LIMITED
    ):
        return result
    return GatewayResult(
        operation=Operation.VERIFY,
        outcome=Outcome.APPROVED,
        raw_code=result.raw_code,
        raw_message=result.raw_message,
    )


def _refuses_dtd(body: bytes) -> None:
    # No entity expansion from a gateway: a DOCTYPE in an answer is an attack or garbage.
    if re.search(rb"<!(DOCTYPE|ENTITY)", body, re.IGNORECASE):
        raise UnreadableReplyError("XML with a DTD")


def _element_fields(element: ET.Element) -> dict[str, str]:
    return {child.tag: (child.text or "").strip() for child in element if len(child) == 0}


def parse_query_body(body: bytes) -> QueryAnswer:
    """The Query API's XML, validated; raises UnreadableReplyError for anything else."""
    _refuses_dtd(body)
    try:
        root = ET.fromstring(body)  # noqa: S314 - DTDs refused above; expat ≥ 2.4 caps expansion
    except ET.ParseError:
        raise UnreadableReplyError("not XML") from None
    if root.tag != "nm_response":
        raise UnreadableReplyError(f"unexpected XML root {root.tag!r}")
    error = root.findtext("error_response")
    transactions = [
        {**_element_fields(txn), "actions": [_element_fields(a) for a in txn.findall("action")]}
        for txn in root.findall("transaction")
    ]
    try:
        return QueryAnswer.model_validate({"error": error, "transactions": transactions})
    except ValidationError:
        raise UnreadableReplyError("malformed Query API transaction") from None


def _matches(txn: QueryTransaction, request: InquireRequest) -> bool:
    # Filter again on our side: a gateway that ignored the filter would hand back every
    # transaction of the account, and picking one of those would be worse than finding none.
    if request.transaction_id:
        return txn.transaction_id == request.transaction_id
    return txn.order_id == request.order_id and txn.kind in PAYMENT_KINDS


def transaction_state(txn: QueryTransaction) -> GatewayState:
    """What exists: the condition, refined by the refunds recorded against the transaction."""
    state = CONDITION_STATES.get(txn.condition.lower(), GatewayState.UNKNOWN)
    if state is not GatewayState.CAPTURED:
        return state
    if txn.kind == "refund":
        return GatewayState.REFUNDED
    refunded = txn.total(frozenset({"refund"}))
    if not refunded:
        return GatewayState.CAPTURED
    captured = txn.total(CAPTURING_ACTIONS)
    return GatewayState.REFUNDED if refunded >= captured else GatewayState.PARTIALLY_REFUNDED


def pick_transaction(answer: QueryAnswer, request: InquireRequest) -> QueryTransaction | None:
    """The transaction the inquiry is about. Under one order id, a charge that exists outranks a
    declined attempt (money safety after a timeout); otherwise the latest one wins."""
    found = [
        (transaction_state(txn) is not GatewayState.DECLINED, position, txn)
        for position, txn in enumerate(answer.transactions)
        if _matches(txn, request)
    ]
    return max(found, key=lambda item: item[:2])[2] if found else None


def _minor_units(value: Decimal, currency: str) -> int | None:
    if not currency:
        return None  # an amount without its currency cannot be read safely
    try:
        return Money.from_decimal(value, currency.upper()).amount
    except (ValueError, InvalidOperation):
        return None


def _found_amount(txn: QueryTransaction) -> int | None:
    captured = txn.total(CAPTURING_ACTIONS)
    value = captured or (abs(txn.actions[0].amount) if txn.actions else Decimal(0))
    return _minor_units(value, txn.currency)


def from_query_response(answer: QueryAnswer, *, request: InquireRequest) -> GatewayResult:
    """A lookup that worked is APPROVED with the found state; nothing found is a
    TRANSACTION_NOT_FOUND decline, so no caller can read "not found" as "approved"."""
    operation = Operation.INQUIRE
    if answer.error is not None:
        message = gateway_text(answer.error)
        if _prefixed(answer.error, AUTH_FAILURES):
            return config_error(operation, message)
        reason = next(
            (r for prefix, r in TEXT_REASONS if _prefixed(answer.error, (prefix,))),
            DeclineReason.PROCESSING_ERROR,
        )
        return declined(
            operation, reason, raw_code=None, raw_message=message, state=GatewayState.UNKNOWN
        )
    txn = pick_transaction(answer, request)
    if txn is None:
        return declined(
            operation,
            DeclineReason.TRANSACTION_NOT_FOUND,
            raw_code=None,
            raw_message="no matching transaction",
            state=GatewayState.NOT_FOUND,
        )
    last = txn.actions[-1] if txn.actions else None
    return GatewayResult(
        operation=operation,
        outcome=Outcome.APPROVED,
        transaction_id=txn.transaction_id,
        auth_code=txn.authorization_code or None,
        amount=_found_amount(txn),
        raw_code=txn.condition or None,
        raw_message=gateway_text(last.response_text) if last else None,
        state=transaction_state(txn),
    )


# --- the connector -------------------------------------------------------------------------------


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
