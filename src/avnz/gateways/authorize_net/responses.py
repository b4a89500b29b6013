"""Authorize.Net answers: Pydantic models of the JSON documents (untrusted input, validated
first) and the pure `from_*_response` functions that turn them into a GatewayResult.
"""

from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avnz.core.money import Money
from avnz.gateways.authorize_net import payloads
from avnz.gateways.authorize_net.codes import (
    AVS_RESULTS,
    CONFIG_MESSAGE_CODES,
    CONFIG_REASON_CODES,
    CVV_RESULTS,
    MESSAGE_CODES,
    REASON_CODES,
    STATE_RANK,
    STATE_REFUSALS,
    TRANSACTION_STATES,
)
from avnz.gateways.authorize_net.payloads import REPORT_CURRENCY, invoice_number
from avnz.gateways.base import (
    AvsResult,
    CvvResult,
    DeclineReason,
    GatewayResult,
    GatewayState,
    HttpReply,
    Operation,
    Outcome,
    config_error,
    declined,
    gateway_text,
    unreadable_reply_result,
)

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


def minor_units(value: Decimal | None) -> int | None:
    """An amount of a report (always USD here) in minor units; None stays None."""
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
    """The verify result of an authenticateTestRequest reply."""
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
        amount=minor_units(amount),
        raw_code=status,
        latency_ms=latency_ms,
        state=TRANSACTION_STATES.get(status, GatewayState.UNKNOWN),
        **fields,
    )


def read_details(reply: HttpReply) -> _Transaction | GatewayResult:
    """The transaction of a getTransactionDetails reply, or the result that explains why not."""
    parsed = _read(_DetailsEnvelope, reply)
    if isinstance(parsed, str):
        return unreadable_reply_result(Operation.INQUIRE, reply, parsed)
    if parsed.transaction is None or parsed.messages.resultCode != "Ok":
        return _from_messages(Operation.INQUIRE, parsed.messages, reply.latency_ms)
    return parsed.transaction


def from_details_response(reply: HttpReply) -> GatewayResult:
    """A getTransactionDetailsResponse as an inquiry result (E00040 -> state NOT_FOUND)."""
    txn = read_details(reply)
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


def not_found_result(latency_ms: float) -> GatewayResult:
    """The inquiry result "no unsettled transaction has this invoice number"."""
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
    return STATE_RANK.get(state, 1)


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
        return not_found_result(reply.latency_ms), len(parsed.transactions) >= payloads.PAGE_SIZE
    best = min(matches, key=_rank)  # min keeps the first (newest) of equal rank
    return _found(best.transId, best.transactionStatus, best.settleAmount, reply.latency_ms), False
