"""The Authorize.Net sandbox's wire helpers: reading amounts, expiries and instruments from a
request, and writing messages, transaction documents and details the way the gateway does.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response
from stdnum import luhn

from avnz.core import clock
from avnz.core.money import Money
from avnz.gateways.authorize_net.sandbox.tables import (
    BOM,
    BRANDS,
    EXPIRY_FORMATS,
    MAX_LENGTHS,
    NAMESPACE,
    REASONS,
    REFUND,
    SEQUENCES,
    SETTLED_KEY,
)
from avnz.gateways.sandbox.common import SandboxTxn, TxnState


class RequestError(Exception):
    """A request-level failure: only `messages`, no transaction."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


@dataclass
class Answer:
    """What a createTransactionRequest decided, before it is put on the wire."""

    reason: str
    txn: SandboxTxn | None = None
    ref_id: str = ""
    avs: str = "P"
    cvv: str = ""
    account_number: str = ""
    account_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    network_trans_id: str = ""  # the card network's id of an approved authorization

    @property
    def response_code(self) -> str:
        return REASONS[self.reason][0]


def refusal(reason: str, ref_id: str = "") -> Answer:
    """A refused transaction with Authorize.Net's reason code `reason`."""
    return Answer(reason, ref_id=ref_id)


# --- wire helpers ----------------------------------------------------------------------------


def ok_messages() -> dict[str, Any]:
    """The `messages` element of a successful request."""
    return {"resultCode": "Ok", "message": [{"code": "I00001", "text": "Successful."}]}


def error_messages(code: str, text: str) -> dict[str, Any]:
    """The `messages` element of a failed request with one error."""
    return {"resultCode": "Error", "message": [{"code": code, "text": text}]}


def answer(document: Mapping[str, Any]) -> Response:
    # The real gateway prefixes every JSON answer with a byte order mark.
    """A JSON answer as the gateway sends it (UTF-8 with a byte order mark)."""
    return Response(BOM + json.dumps(document), media_type="application/json; charset=utf-8")


def json_amount(minor: int, currency: str) -> float:
    # Reports carry amounts as JSON numbers; a two-decimal value survives float repr exactly.
    """An amount in minor units as the JSON number the reports carry."""
    return float(Money(minor, currency).to_decimal())


def masked(last4: str | None) -> str:
    """A card or account number as the gateway echoes it: `XXXX` and the last four."""
    return f"XXXX{last4}" if last4 else ""


def sequence_problem(name: str, value: Any) -> str | None:
    """The first XSD violation (unknown or out-of-order child, over-long text) under `name`."""
    if isinstance(value, list):
        return next((p for item in value if (p := sequence_problem(name, item))), None)
    if not isinstance(value, dict):
        limit = MAX_LENGTHS.get(name)
        if limit is not None and len(str(value)) > limit:
            return (
                f"The '{NAMESPACE}:{name}' element is invalid - The value is invalid according "
                "to its datatype 'String' - The actual length is greater than the MaxLength value."
            )
        return None
    order = SEQUENCES.get(name)
    position = -1
    for key, child in value.items():
        if order is not None:
            index = order.index(key) if key in order else -1
            if index <= position:
                return (
                    f"The element '{name}' in namespace '{NAMESPACE}' has invalid child element "
                    f"'{key}' in namespace '{NAMESPACE}'."
                )
            position = index
        if problem := sequence_problem(key, child):
            return problem
    return None


def parse_amount(value: Any, currency: str) -> int | None:
    """Minor units of a positive wire amount, or None when the gateway would answer reason 5."""
    try:
        minor = Money.from_decimal(Decimal(str(value)), currency).amount
    except (InvalidOperation, ValueError):
        return None
    return minor if minor > 0 else None


def parse_expiry(text: str) -> tuple[int, int] | None:
    """(year, month) of an expiry in one of the accepted formats; None otherwise."""
    for pattern in EXPIRY_FORMATS:
        if match := pattern.match(text):
            year, month = int(match["year"]), int(match["month"])
            year += 2000 if year < 100 else 0
            return (year, month) if 1 <= month <= 12 else None
    return None


def brand(number: str) -> str | None:
    """The card brand of `number` by its BIN range; None when no range matches."""
    for low, high, name in BRANDS:
        prefix = number[: len(low)]
        if low <= prefix <= high:
            return name
    return None


def aba_valid(routing: str) -> bool:
    """Whether `routing` is a nine-digit ABA routing number with a valid checksum."""
    if not (routing.isdigit() and len(routing) == 9):
        return False
    digits = [int(c) for c in routing]
    weights = (3, 7, 1) * 3
    return sum(d * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def settings_of(request: Mapping[str, Any]) -> dict[str, str]:
    """The request's transactionSettings as a name to value mapping."""
    raw = (request.get("transactionSettings") or {}).get("setting") or []
    items = raw if isinstance(raw, list) else [raw]
    return {str(s.get("settingName")): str(s.get("settingValue")) for s in items}


def is_settled(txn: SandboxTxn) -> bool:
    """Whether the settlement batch has settled this ledger entry."""
    return bool(txn.extra.get(SETTLED_KEY))


def status_of(txn: SandboxTxn) -> str:
    """The gateway's transactionStatus for a ledger entry."""
    if txn.state is TxnState.VOIDED:
        return "voided"
    if txn.state is TxnState.DECLINED:
        return "declined"
    if txn.kind == REFUND:
        return "refundSettledSuccessfully" if is_settled(txn) else "refundPendingSettlement"
    if txn.state is TxnState.AUTHORIZED:
        return "authorizedPendingCapture"
    return "settledSuccessfully" if is_settled(txn) else "capturedPendingSettlement"


def settle_amount(txn: SandboxTxn) -> int:
    """What a settlement reports for the entry: the captured amount, else the amount."""
    return txn.captured or txn.amount


@dataclass
class Instrument:
    """The payment method of a request, reduced to what the gateway keeps."""

    last4: str
    account_type: str
    card_code: str | None = None
    number: str = ""
    echeck: bool = False


def read_instrument(payment: Mapping[str, Any]) -> Instrument | str:
    """The card, bank account or Accept.js nonce of a payment, or the reason code refusing it."""
    if card := payment.get("creditCard"):
        return read_card(card)
    if bank := payment.get("bankAccount"):
        routing, account = str(bank.get("routingNumber", "")), str(bank.get("accountNumber", ""))
        if not aba_valid(routing):
            return "9"
        if not (account.isdigit() and 5 <= len(account) <= 17):
            return "10"
        return Instrument(last4=account[-4:], account_type="eCheck", echeck=True)
    if (payment.get("opaqueData") or {}).get("dataValue"):
        # An Accept.js nonce cannot be opened here: it stands for the guide's Visa test card.
        return Instrument(last4="1111", account_type="Visa")
    return "33"


def read_card(card: Mapping[str, Any]) -> Instrument | str:
    """The card of a request, or the response reason code that refuses it."""
    number = str(card.get("cardNumber", ""))
    if not (number.isdigit() and 13 <= len(number) <= 16 and luhn.is_valid(number)):
        return "6"
    expiry = parse_expiry(str(card.get("expirationDate", "")))
    if expiry is None:
        return "7"
    today = clock.now()
    if expiry < (today.year, today.month):
        return "8"
    code = card.get("cardCode")
    if code is not None and not (str(code).isdigit() and 3 <= len(str(code)) <= 4):
        return "78"
    account_type = brand(number)
    if account_type is None:
        return "17"
    return Instrument(
        last4=number[-4:],
        account_type=account_type,
        card_code=None if code is None else str(code),
        number=number,
    )


def transaction_document(decided: Answer) -> dict[str, Any]:
    """A createTransactionResponse in the gateway's key order."""
    code, text = decided.response_code, REASONS[decided.reason][1]
    txn = decided.txn
    outcome_key, outcome = (
        ("messages", [{"code": decided.reason, "description": text}])
        if code in ("1", "4")
        else ("errors", [{"errorCode": decided.reason, "errorText": text}])
    )
    response = {
        "responseCode": code,
        "authCode": (txn.auth_code or "") if txn is not None and code != "2" else "",
        "avsResultCode": decided.avs,
        "cvvResultCode": decided.cvv,
        "cavvResultCode": "",
        "transId": txn.id if txn is not None else "0",
        "refTransID": decided.ref_id,
        "transHash": "",
        "testRequest": "0",
        "accountNumber": decided.account_number,
        "accountType": decided.account_type,
        **decided.extra,
        outcome_key: outcome,
        "transHashSha2": "",
        "SupplementalDataQualificationIndicator": 0,
    }
    if decided.network_trans_id:
        response["networkTransId"] = decided.network_trans_id
    approved = code == "1" or code == "4"
    messages = (
        ok_messages() if approved else error_messages("E00027", "The transaction was unsuccessful.")
    )
    return {"transactionResponse": response, "messages": messages}


def transaction_detail(txn: SandboxTxn) -> dict[str, Any]:
    """The `transaction` of a getTransactionDetailsResponse."""
    reason = str(txn.extra.get("reason", "1"))
    response_code, text = REASONS.get(reason, REASONS["1"])
    detail: dict[str, Any] = {
        "transId": txn.id,
        "refTransId": txn.parent_id,
        "submitTimeUTC": txn.extra["submitted"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        # The sandbox's merchant is on UTC; the gateway reports the merchant's local time too.
        "submitTimeLocal": txn.extra["submitted"].strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "transactionType": txn.kind,
        "transactionStatus": status_of(txn),
        "responseCode": int(response_code),
        "responseReasonCode": int(reason),
        "responseReasonDescription": text,
        "authCode": txn.auth_code or "",
        "AVSResponse": txn.extra.get("avs", "P"),
        "cardCodeResponse": txn.extra.get("cvv", ""),
        "order": {"invoiceNumber": txn.order_id} if txn.order_id else None,
        "authAmount": json_amount(txn.amount, txn.currency),
        "settleAmount": json_amount(settle_amount(txn), txn.currency),
        "payment": payment_detail(txn),
        "product": "Card Not Present",
        "marketType": "eCommerce",
        "networkTransId": txn.extra.get("network_trans_id"),
    }
    return {key: value for key, value in detail.items() if value is not None}


def payment_detail(txn: SandboxTxn) -> dict[str, Any]:
    """The masked `payment` element of a transaction's details."""
    if txn.extra.get("echeck"):
        return {"bankAccount": {"accountNumber": masked(txn.card_last4)}}
    return {
        "creditCard": {
            "cardNumber": masked(txn.card_last4),
            "expirationDate": "XXXX",
            "cardType": txn.extra.get("account_type", ""),
        }
    }


def listed_transaction(txn: SandboxTxn) -> dict[str, Any]:
    """One entry of a getUnsettledTransactionListResponse."""
    entry: dict[str, Any] = {
        "transId": txn.id,
        "submitTimeUTC": txn.extra["submitted"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "transactionStatus": status_of(txn),
        "invoiceNumber": txn.order_id,
        "firstName": txn.extra.get("first_name"),
        "lastName": txn.extra.get("last_name"),
        "accountType": txn.extra.get("account_type", ""),
        "accountNumber": masked(txn.card_last4),
        "settleAmount": json_amount(settle_amount(txn), txn.currency),
        "marketType": "eCommerce",
        "product": "Card Not Present",
        "hasReturnedItemsSpecified": False,
    }
    return {key: value for key, value in entry.items() if value is not None}
