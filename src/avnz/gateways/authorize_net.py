"""Authorize.Net connector: the JSON flavour of the Authorize.Net API (`/xml/v1/request.api`).

Every call is one POST of a JSON document. The gateway converts it to XML and validates it against
its XSD, so keys must follow the XSD sequence (an out-of-order key is a parse error, E00003): the
payload builders below write keys in that order on purpose. Answers are HTTP 200 with a UTF-8 BOM.
A transaction is decided by `transactionResponse.responseCode` ("1" approved, "2" declined,
"3" error, "4" held for review) and its reason code; request-level failures (credentials, schema)
carry only `messages`.

Our order id travels as `order.invoiceNumber` (max 20 characters): it is how a payment is found
again after a timeout (getUnsettledTransactionListRequest), and it feeds the gateway's duplicate
filter, which is the closest thing Authorize.Net has to an idempotency key.
"""

import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avnz.core.money import Money
from avnz.gateways.base import (
    Address,
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

API_PATH = "/xml/v1/request.api"
INVOICE_MAX = 20
PAGE_SIZE = 1000  # the most getUnsettledTransactionListRequest returns per page
MAX_PAGES = 20
ACCEPT_JS_DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"
# Every currency Authorize.Net settles in (USD, CAD, EUR, GBP, AUD, NZD) has two decimals, and its
# reports carry no currency: amounts read back are converted with this exponent.
REPORT_CURRENCY = "USD"

Payload = dict[str, Any]


# --- gateway codes -> our vocabulary ---------------------------------------------------------

AVS_RESULTS: dict[str, AvsResult] = {
    "A": AvsResult.ADDRESS_ONLY,  # street matches, ZIP does not
    "B": AvsResult.UNAVAILABLE,  # no address submitted
    "E": AvsResult.UNAVAILABLE,  # AVS error
    "G": AvsResult.UNAVAILABLE,  # non-US issuer
    "N": AvsResult.NO_MATCH,
    "P": AvsResult.UNAVAILABLE,  # not applicable
    "R": AvsResult.UNAVAILABLE,  # retry, system unavailable
    "S": AvsResult.UNAVAILABLE,  # not supported by issuer
    "U": AvsResult.UNAVAILABLE,  # address information unavailable
    "W": AvsResult.POSTAL_ONLY,  # nine-digit ZIP matches, street does not
    "X": AvsResult.MATCH,  # street and nine-digit ZIP
    "Y": AvsResult.MATCH,  # street and five-digit ZIP
    "Z": AvsResult.POSTAL_ONLY,  # five-digit ZIP matches, street does not
}

CVV_RESULTS: dict[str, CvvResult] = {
    "M": CvvResult.MATCH,
    "N": CvvResult.NO_MATCH,
    "P": CvvResult.NOT_PROCESSED,
    "S": CvvResult.NOT_PROVIDED,  # should be on the card, merchant says it is not
    "U": CvvResult.UNAVAILABLE,  # issuer not certified
}

# Transaction reason codes (`errors[].errorCode`, or `messages[].code` with responseCode 1).
REASON_CODES: dict[str, DeclineReason] = {
    "2": DeclineReason.GENERIC_DECLINE,
    "3": DeclineReason.CALL_ISSUER,  # referral for voice authorization
    "4": DeclineReason.STOLEN_OR_LOST,  # pick up card
    "5": DeclineReason.INVALID_AMOUNT,
    "6": DeclineReason.INVALID_CARD,
    "7": DeclineReason.INVALID_EXPIRY,
    "8": DeclineReason.EXPIRED_CARD,
    "9": DeclineReason.INVALID_REQUEST,  # ABA routing number
    "10": DeclineReason.INVALID_REQUEST,  # bank account number
    "11": DeclineReason.DUPLICATE_TRANSACTION,
    "15": DeclineReason.INVALID_REQUEST,  # transaction id missing or not numeric
    "16": DeclineReason.TRANSACTION_NOT_FOUND,
    "17": DeclineReason.CARD_NOT_SUPPORTED,
    "19": DeclineReason.PROCESSING_ERROR,
    "20": DeclineReason.PROCESSING_ERROR,
    "21": DeclineReason.PROCESSING_ERROR,
    "22": DeclineReason.PROCESSING_ERROR,
    "23": DeclineReason.PROCESSING_ERROR,
    "25": DeclineReason.PROCESSING_ERROR,
    "26": DeclineReason.PROCESSING_ERROR,
    "27": DeclineReason.AVS_MISMATCH,
    "28": DeclineReason.CARD_NOT_SUPPORTED,
    "33": DeclineReason.INVALID_REQUEST,  # "%s cannot be left blank."
    "37": DeclineReason.INVALID_CARD,
    # The account does not take this currency: another account may, so not a config error.
    "39": DeclineReason.INVALID_REQUEST,
    "41": DeclineReason.FRAUD_SUSPECTED,
    "44": DeclineReason.INVALID_CVV,
    "45": DeclineReason.INVALID_CVV,  # AVS and card code both refused
    "47": DeclineReason.INVALID_AMOUNT,  # capture above the authorized amount
    "49": DeclineReason.LIMIT_EXCEEDED,
    "50": DeclineReason.INVALID_STATE,  # awaiting settlement, cannot be refunded
    "51": DeclineReason.INVALID_AMOUNT,
    "54": DeclineReason.INVALID_STATE,  # refund of an unsettled transaction: void it instead
    "55": DeclineReason.INVALID_AMOUNT,  # refunds would exceed the captured amount
    "57": DeclineReason.PROCESSING_ERROR,
    "58": DeclineReason.PROCESSING_ERROR,
    "59": DeclineReason.PROCESSING_ERROR,
    "60": DeclineReason.PROCESSING_ERROR,
    "61": DeclineReason.PROCESSING_ERROR,
    "62": DeclineReason.PROCESSING_ERROR,
    "63": DeclineReason.PROCESSING_ERROR,
    "65": DeclineReason.INVALID_CVV,
    "78": DeclineReason.INVALID_CVV,
    "120": DeclineReason.PROCESSING_ERROR,
    "121": DeclineReason.PROCESSING_ERROR,
    "122": DeclineReason.PROCESSING_ERROR,
    "127": DeclineReason.AVS_MISMATCH,
    "165": DeclineReason.INVALID_CVV,
    "250": DeclineReason.FRAUD_SUSPECTED,
    "251": DeclineReason.FRAUD_SUSPECTED,
    "254": DeclineReason.FRAUD_SUSPECTED,
    "310": DeclineReason.INVALID_STATE,  # already voided
    "311": DeclineReason.INVALID_STATE,  # already captured
    "315": DeclineReason.INVALID_CARD,
    "316": DeclineReason.INVALID_EXPIRY,
    "317": DeclineReason.EXPIRED_CARD,
    "318": DeclineReason.DUPLICATE_TRANSACTION,
    "319": DeclineReason.TRANSACTION_NOT_FOUND,
}

# Bad login or a merchant account set up wrong at the processor: the account is the problem.
CONFIG_REASON_CODES = frozenset({"13", "24", "29", "30", "31", "34", "35", "38", "43"})

# The gateway answers 310/311 with responseCode "1": a refusal dressed as an approval.
STATE_REFUSALS = frozenset({"310", "311"})

# Request-level `messages[].code` when there is no transaction to judge.
MESSAGE_CODES: dict[str, DeclineReason] = {
    "E00002": DeclineReason.INVALID_REQUEST,
    "E00003": DeclineReason.INVALID_REQUEST,  # schema / key order / field length
    "E00004": DeclineReason.INVALID_REQUEST,
    "E00013": DeclineReason.INVALID_REQUEST,
    "E00014": DeclineReason.INVALID_REQUEST,
    "E00015": DeclineReason.INVALID_REQUEST,
    "E00016": DeclineReason.INVALID_REQUEST,
    "E00027": DeclineReason.GENERIC_DECLINE,  # "The transaction was unsuccessful." without detail
    "E00040": DeclineReason.TRANSACTION_NOT_FOUND,
    "E00041": DeclineReason.INVALID_REQUEST,
}
CONFIG_MESSAGE_CODES = frozenset(
    {"E00005", "E00006", "E00007", "E00008", "E00009", "E00010", "E00011"}
)

TRANSACTION_STATES: dict[str, GatewayState] = {
    "authorizedPendingCapture": GatewayState.AUTHORIZED,
    "capturedPendingSettlement": GatewayState.CAPTURED,
    "settledSuccessfully": GatewayState.CAPTURED,
    "voided": GatewayState.VOIDED,
    "expired": GatewayState.VOIDED,  # an authorization nobody captured: the hold is gone
    "refundPendingSettlement": GatewayState.REFUNDED,
    "refundSettledSuccessfully": GatewayState.REFUNDED,
    "declined": GatewayState.DECLINED,
    "generalError": GatewayState.DECLINED,
    "failedReview": GatewayState.DECLINED,
    # underReview, FDSPendingReview, approvedReview, couldNotVoid, communicationError,
    # settlementError, returnedItem, chargeback ...: UNKNOWN, a person has to look.
}
# A found payment that holds money outranks a declined retry or a refund of the same order.
_STATE_RANK: dict[GatewayState, int] = {
    GatewayState.CAPTURED: 0,
    GatewayState.AUTHORIZED: 0,
    GatewayState.UNKNOWN: 1,
    GatewayState.DECLINED: 2,
    GatewayState.VOIDED: 2,
    GatewayState.REFUNDED: 3,
}
_SETTLED = frozenset({GatewayState.CAPTURED, GatewayState.REFUNDED})


# --- request payloads (keys in XSD order) ----------------------------------------------------

_BILL_TO_LIMITS = {
    "firstName": 50,
    "lastName": 50,
    "company": 50,
    "address": 60,
    "city": 40,
    "state": 40,
    "zip": 20,
    "country": 60,
    "phoneNumber": 25,
}


def _compact(**fields: Any) -> Payload:
    """The fields in the order given (the XSD's), without those we do not send."""
    return {key: value for key, value in fields.items() if value not in (None, "", {}, [])}


def _tail(value: str | None, limit: int) -> str | None:
    # Our ids are prefixed ULIDs (`txn_01j…`, 30 chars): their tail is the random, unique part.
    return value[-limit:] if value else None


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


def invoice_number(order_id: str) -> str:
    """The order id as it fits `order.invoiceNumber` (20 characters)."""
    return order_id[-INVOICE_MAX:]


def wire_amount(amount: int, currency: str) -> str:
    """Minor units as the decimal string the gateway expects: 1234 USD -> "12.34"."""
    return str(Money(amount, currency).to_decimal())


def merchant_authentication(credentials: Mapping[str, str]) -> Payload:
    return {"name": credentials["api_login_id"], "transactionKey": credentials["transaction_key"]}


def _payment(request: PaymentRequest) -> Payload:
    card = request.card
    if card is None:  # a gateway token is an Accept.js nonce
        return {"opaqueData": {"dataDescriptor": ACCEPT_JS_DESCRIPTOR, "dataValue": request.token}}
    return {
        "creditCard": _compact(
            cardNumber=card.number,
            expirationDate=f"{card.exp_year:04d}-{card.exp_month:02d}",
            cardCode=card.cvv,
        )
    }


def _bill_to(address: Address | None) -> Payload | None:
    if address is None:
        return None
    street = " ".join(part for part in (address.line1, address.line2) if part)
    fields = _compact(
        firstName=address.first_name,
        lastName=address.last_name,
        company=address.company,
        address=street,
        city=address.city,
        state=address.state,
        zip=address.postal_code,
        country=address.country,
        phoneNumber=address.phone,
    )
    return {key: value[: _BILL_TO_LIMITS[key]] for key, value in fields.items()}


def _ipv4(value: str | None) -> str | None:
    # The field holds up to 15 characters, an IPv4 address: anything else fails the request.
    try:
        return value if value and ipaddress.ip_address(value).version == 4 else None
    except ValueError:
        return None


def _user_fields(metadata: Mapping[str, str]) -> Payload | None:
    fields = [{"name": key, "value": value} for key, value in list(metadata.items())[:20]]
    return {"userField": fields} if fields else None


def _payment_transaction(transaction_type: str, request: PaymentRequest) -> Payload:
    return _compact(
        transactionType=transaction_type,
        amount=wire_amount(request.amount, request.currency),
        currencyCode=request.currency,
        payment=_payment(request),
        order=_compact(
            invoiceNumber=invoice_number(request.order_id),
            description=_clip(request.description, 255),
        ),
        customer=_compact(id=_tail(request.customer_id, 20), email=_clip(request.email, 255)),
        billTo=_bill_to(request.billing),
        customerIP=_ipv4(request.ip_address),
        userFields=_user_fields(request.metadata),
    )


def _transaction_envelope(credentials: Mapping[str, str], transaction: Payload) -> Payload:
    return {
        "createTransactionRequest": {
            "merchantAuthentication": merchant_authentication(credentials),
            "transactionRequest": transaction,
        }
    }


def to_sale_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> Payload:
    return _transaction_envelope(
        credentials, _payment_transaction("authCaptureTransaction", request)
    )


def to_authorize_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> Payload:
    return _transaction_envelope(credentials, _payment_transaction("authOnlyTransaction", request))


def to_capture_payload(request: CaptureRequest, credentials: Mapping[str, str]) -> Payload:
    """Without an amount the gateway captures everything that was authorized."""
    amount = None if request.amount is None else wire_amount(request.amount, request.currency)
    transaction = _compact(
        transactionType="priorAuthCaptureTransaction",
        amount=amount,
        refTransId=request.transaction_id,
    )
    return _transaction_envelope(credentials, transaction)


def to_void_payload(request: VoidRequest, credentials: Mapping[str, str]) -> Payload:
    transaction = _compact(transactionType="voidTransaction", refTransId=request.transaction_id)
    return _transaction_envelope(credentials, transaction)


def to_refund_payload(
    request: RefundRequest, credentials: Mapping[str, str], *, amount: int, card_last4: str
) -> Payload:
    """A referenced refund: the gateway wants the card's last four digits, never the PAN."""
    transaction = _compact(
        transactionType="refundTransaction",
        amount=wire_amount(amount, request.currency),
        payment={"creditCard": {"cardNumber": card_last4, "expirationDate": "XXXX"}},
        refTransId=request.transaction_id,
        order=_compact(
            invoiceNumber=invoice_number(request.order_id) if request.order_id else None,
            description=_clip(request.reason, 255),
        ),
    )
    return _transaction_envelope(credentials, transaction)


def to_authenticate_payload(credentials: Mapping[str, str]) -> Payload:
    return {
        "authenticateTestRequest": {"merchantAuthentication": merchant_authentication(credentials)}
    }


def to_details_payload(transaction_id: str, credentials: Mapping[str, str]) -> Payload:
    return {
        "getTransactionDetailsRequest": {
            "merchantAuthentication": merchant_authentication(credentials),
            "transId": transaction_id,
        }
    }


def to_unsettled_list_payload(credentials: Mapping[str, str], page: int = 1) -> Payload:
    """Newest first, so the latest attempt for an order is met before older ones."""
    return {
        "getUnsettledTransactionListRequest": {
            "merchantAuthentication": merchant_authentication(credentials),
            "sorting": {"orderBy": "submitTimeUTC", "orderDescending": True},
            "paging": {"limit": PAGE_SIZE, "offset": page},
        }
    }


# --- response models (untrusted input: validated before it is read) ---------------------------


class _Wire(BaseModel):
    # Reporting calls send numbers where payment calls send strings ("responseCode": 1 vs "1").
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _Message(_Wire):
    code: str = ""
    text: str = ""


class _Messages(_Wire):
    resultCode: str = ""
    message: list[_Message] = Field(default_factory=list)

    @property
    def first(self) -> _Message:
        return self.message[0] if self.message else _Message()


class _TransactionMessage(_Wire):
    code: str = ""
    description: str = ""


class _TransactionError(_Wire):
    errorCode: str = ""
    errorText: str = ""


class _TransactionResponse(_Wire):
    responseCode: str | None = None
    authCode: str = ""
    avsResultCode: str = ""
    cvvResultCode: str = ""
    transId: str = ""
    messages: list[_TransactionMessage] = Field(default_factory=list)
    errors: list[_TransactionError] = Field(default_factory=list)

    @property
    def reason(self) -> tuple[str, str]:
        """(reason code, text): the first error, else the first message."""
        if self.errors:
            return self.errors[0].errorCode, self.errors[0].errorText
        if self.messages:
            return self.messages[0].code, self.messages[0].description
        return "", ""


class _Envelope(_Wire):
    messages: _Messages


class _TransactionEnvelope(_Envelope):
    transactionResponse: _TransactionResponse | None = None


class _MaskedCard(_Wire):
    cardNumber: str = ""  # "XXXX1111"


class _MaskedPayment(_Wire):
    creditCard: _MaskedCard | None = None


class _Order(_Wire):
    invoiceNumber: str = ""


class _Transaction(_Wire):
    transId: str = ""
    transactionStatus: str = ""
    authCode: str = ""
    AVSResponse: str = ""
    cardCodeResponse: str = ""
    authAmount: Decimal | None = None
    settleAmount: Decimal | None = None
    order: _Order | None = None
    payment: _MaskedPayment | None = None

    @property
    def card_last4(self) -> str | None:
        card = self.payment.creditCard if self.payment else None
        return card.cardNumber[-4:] if card and card.cardNumber else None


class _DetailsEnvelope(_Envelope):
    transaction: _Transaction | None = None


class _ListedTransaction(_Wire):
    transId: str = ""
    transactionStatus: str = ""
    invoiceNumber: str = ""
    settleAmount: Decimal | None = None


class _ListEnvelope(_Envelope):
    transactions: list[_ListedTransaction] = Field(default_factory=list)


_Model = TypeVar("_Model", bound=_Envelope)


def _read(model: type[_Model], reply: HttpReply) -> _Model | str:
    """The validated body, or why it cannot be trusted."""
    if not 200 <= reply.status < 300:
        return f"HTTP {reply.status} from the gateway"
    try:
        return model.model_validate_json(reply.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValidationError) as exc:
        return f"unreadable reply ({type(exc).__name__})"


def _minor(value: Decimal | None) -> int | None:
    return None if value is None else Money.from_decimal(value, REPORT_CURRENCY).amount


# --- response -> result ----------------------------------------------------------------------


def _from_messages(operation: Operation, messages: _Messages, latency_ms: float) -> GatewayResult:
    """A request-level failure: there is no transaction, only `messages`."""
    code, text = messages.first.code, messages.first.text
    if code in CONFIG_MESSAGE_CODES:
        return config_error(operation, gateway_text(text), raw_code=code, latency_ms=latency_ms)
    reason = MESSAGE_CODES.get(code)
    if reason is None:  # E00001 "try again" and anything unknown: the gateway may have acted
        return GatewayResult(
            operation=operation,
            outcome=Outcome.GATEWAY_ERROR,
            decline_reason=DeclineReason.PROCESSING_ERROR,
            retryable=True,
            raw_code=code or None,
            raw_message=gateway_text(text),
            latency_ms=latency_ms,
        )
    state = GatewayState.NOT_FOUND if reason is DeclineReason.TRANSACTION_NOT_FOUND else None
    return declined(
        operation,
        reason,
        raw_code=code,
        raw_message=gateway_text(text),
        latency_ms=latency_ms,
        state=state,
    )


def _from_transaction(
    operation: Operation, txn: _TransactionResponse, amount: int | None, latency_ms: float
) -> GatewayResult:
    code, text = txn.reason
    fields: dict[str, Any] = {
        "transaction_id": txn.transId if txn.transId not in ("", "0") else None,
        "auth_code": txn.authCode or None,
        "avs": AVS_RESULTS.get(txn.avsResultCode, AvsResult.UNAVAILABLE),
        "cvv": CVV_RESULTS.get(txn.cvvResultCode, CvvResult.UNAVAILABLE),
        "latency_ms": latency_ms,
    }
    if txn.responseCode == "1" and code not in STATE_REFUSALS:
        return GatewayResult(
            operation=operation,
            outcome=Outcome.APPROVED,
            amount=amount,
            raw_code=code or None,
            raw_message=gateway_text(text),
            **fields,
        )
    if txn.responseCode == "4":
        # Held for review, or partially approved: money may move later. Not an approval, not a
        # decline; the caller keeps the id and inquires, and must not charge elsewhere meanwhile.
        return GatewayResult(
            operation=operation,
            outcome=Outcome.GATEWAY_ERROR,
            decline_reason=DeclineReason.PROCESSING_ERROR,
            raw_code=code or None,
            raw_message=gateway_text(text),
            **fields,
        )
    if code in CONFIG_REASON_CODES:
        return config_error(operation, gateway_text(text), raw_code=code, **fields)
    fallback = DeclineReason.GENERIC_DECLINE if txn.responseCode == "2" else None
    reason = REASON_CODES.get(code, fallback or DeclineReason.PROCESSING_ERROR)
    return declined(
        operation, reason, raw_code=code or None, raw_message=gateway_text(text), **fields
    )


def from_payment_response(
    operation: Operation, reply: HttpReply, amount: int | None = None
) -> GatewayResult:
    """A createTransactionResponse (any transaction type) as a result. `amount` is what we asked
    for: a full approval means the gateway processed exactly that."""
    parsed = _read(_TransactionEnvelope, reply)
    if isinstance(parsed, str):
        return unreadable_reply_result(operation, reply, parsed)
    txn = parsed.transactionResponse
    if txn is None or not txn.responseCode:
        return _from_messages(operation, parsed.messages, reply.latency_ms)
    if txn.responseCode not in ("1", "2", "3", "4"):
        return unreadable_reply_result(operation, reply, f"unknown responseCode {txn.responseCode}")
    return _from_transaction(operation, txn, amount, reply.latency_ms)


def from_authenticate_response(reply: HttpReply) -> GatewayResult:
    parsed = _read(_Envelope, reply)
    if isinstance(parsed, str):
        return unreadable_reply_result(Operation.VERIFY, reply, parsed)
    if parsed.messages.resultCode != "Ok":
        return _from_messages(Operation.VERIFY, parsed.messages, reply.latency_ms)
    return GatewayResult(
        operation=Operation.VERIFY,
        outcome=Outcome.APPROVED,
        raw_code=parsed.messages.first.code or None,
        raw_message=gateway_text(parsed.messages.first.text),
        latency_ms=reply.latency_ms,
    )


def _found(
    transaction_id: str, status: str, amount: Decimal | None, latency_ms: float, **fields: Any
) -> GatewayResult:
    return GatewayResult(
        operation=Operation.INQUIRE,
        outcome=Outcome.APPROVED,
        transaction_id=transaction_id,
        amount=_minor(amount),
        raw_code=status,
        latency_ms=latency_ms,
        state=TRANSACTION_STATES.get(status, GatewayState.UNKNOWN),
        **fields,
    )


def _read_details(reply: HttpReply) -> _Transaction | GatewayResult:
    parsed = _read(_DetailsEnvelope, reply)
    if isinstance(parsed, str):
        return unreadable_reply_result(Operation.INQUIRE, reply, parsed)
    if parsed.transaction is None or parsed.messages.resultCode != "Ok":
        return _from_messages(Operation.INQUIRE, parsed.messages, reply.latency_ms)
    return parsed.transaction


def from_details_response(reply: HttpReply) -> GatewayResult:
    """A getTransactionDetailsResponse as an inquiry result (E00040 -> state NOT_FOUND)."""
    txn = _read_details(reply)
    if isinstance(txn, GatewayResult):
        return txn
    return _found(
        txn.transId,
        txn.transactionStatus,
        txn.settleAmount if txn.settleAmount is not None else txn.authAmount,
        reply.latency_ms,
        auth_code=txn.authCode or None,
        avs=AVS_RESULTS.get(txn.AVSResponse, AvsResult.UNAVAILABLE),
        cvv=CVV_RESULTS.get(txn.cardCodeResponse, CvvResult.UNAVAILABLE),
    )


def _not_found(latency_ms: float) -> GatewayResult:
    return declined(
        Operation.INQUIRE,
        DeclineReason.TRANSACTION_NOT_FOUND,
        raw_code="I00004",
        raw_message="no unsettled transaction has this invoice number",
        latency_ms=latency_ms,
        state=GatewayState.NOT_FOUND,
    )


def _rank(listed: _ListedTransaction) -> int:
    state = TRANSACTION_STATES.get(listed.transactionStatus, GatewayState.UNKNOWN)
    return _STATE_RANK.get(state, 1)


def from_unsettled_list_response(reply: HttpReply, order_id: str) -> tuple[GatewayResult, bool]:
    """The order's transaction in one page of getUnsettledTransactionListResponse, and whether a
    further page may hold it (this one was full and had no match)."""
    parsed = _read(_ListEnvelope, reply)
    if isinstance(parsed, str):
        return unreadable_reply_result(Operation.INQUIRE, reply, parsed), False
    if parsed.messages.resultCode != "Ok":
        return _from_messages(Operation.INQUIRE, parsed.messages, reply.latency_ms), False
    invoice = invoice_number(order_id)
    matches = [t for t in parsed.transactions if t.invoiceNumber == invoice]
    if not matches:
        return _not_found(reply.latency_ms), len(parsed.transactions) >= PAGE_SIZE
    best = min(matches, key=_rank)  # min keeps the first (newest) of equal rank
    return _found(best.transId, best.transactionStatus, best.settleAmount, reply.latency_ms), False


# --- the connector ---------------------------------------------------------------------------


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
        result = _not_found(0.0)
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
        original = reply if isinstance(reply, GatewayResult) else _read_details(reply)
        if isinstance(original, GatewayResult):
            return self.logged(
                replace(original, operation=Operation.REFUND), order_id=request.order_id
            )
        amount = request.amount if request.amount is not None else _minor(original.settleAmount)
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
        if found.state not in _SETTLED:
            return refusal
        return declined(
            Operation.VOID,
            DeclineReason.INVALID_STATE,
            raw_code=refusal.raw_code,
            raw_message=f"{found.raw_code}: settled transactions are refunded, not voided",
            transaction_id=transaction_id,
            latency_ms=refusal.latency_ms + found.latency_ms,
        )
