"""NMI answers: the URL-encoded transact reply and the Query API's XML, validated with Pydantic,
and the pure `from_*_response` functions that turn them into a GatewayResult.
"""

import re
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from avnz.core.money import Money
from avnz.gateways.base import (
    AvsResult,
    CvvResult,
    DeclineReason,
    GatewayResult,
    GatewayState,
    InquireRequest,
    Operation,
    Outcome,
    config_error,
    declined,
    gateway_text,
)
from avnz.gateways.nmi.codes import (
    APPROVED,
    AUTH_FAILURES,
    AVS_RESULTS,
    CAPTURING_ACTIONS,
    CONDITION_STATES,
    CONFIG_CODES,
    CVV_RESULTS,
    DECLINE_REASONS,
    PAYMENT_KINDS,
    TEXT_REASONS,
    UNKNOWN_CODE_REASONS,
)


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
