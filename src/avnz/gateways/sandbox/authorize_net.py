"""Authorize.Net sandbox: the JSON API at `POST /xml/v1/request.api`, answered as the real
sandbox (an account in Live Mode) answers it, so a connector only swaps its base URL.

Credentials: SANDBOX_CREDENTIALS, i.e. API Login ID `avnzSandbox` and Transaction Key
`SandboxKey000001`, unless create_app() is given others. Any other pair gets E00007.

Methods: createTransactionRequest (authCaptureTransaction, authOnlyTransaction,
priorAuthCaptureTransaction, voidTransaction, refundTransaction), authenticateTestRequest,
getTransactionDetailsRequest (E00040 when unknown) and getUnsettledTransactionListRequest (sorting,
paging; I00004 when empty). Every answer starts with a UTF-8 BOM. Keys must follow the XSD order,
as on the real gateway: an out-of-order or unknown key, or an over-long invoiceNumber/refId, is
E00003.

Test triggers (Authorize.Net testing guide):
- Cards: any Luhn-valid Visa, Mastercard, Amex, Discover, JCB or Diners number with a future
  expiry is approved (the guide's 4007000000027, 4012888818888, 4111111111111111,
  5424000000000015, 2223000010309703, 2223000010309711, 370000000000002, 6011000000000012,
  3088000000000017, 38000000000006 among them). Bad number -> 6, bad expiry -> 7, past expiry -> 8,
  malformed card code -> 78, other brands -> 17.
- billTo.zip 46282 -> declined (responseCode 2, reason 2).
- AVS by billTo.zip: 46201 A, 46203 E, 46204 G, 46205 N, 46206 P, 46207 R, 46208 S, 46209 U,
  46211 W, 46214 X, 46217 Z; otherwise Y with an address, B without one.
- cardCode: 900 M, 901 N, 902 S, 903 U, 904 P; otherwise M, or empty when none was sent.
- Partial authorization, billTo.zip 46225-46228: with the transaction setting allowPartialAuth=true
  20/40/60/80 % of the amount is approved (responseCode 4, reason 295, prePaidCard, splitTenderId);
  without it the card is declined (reason 2). The guide names the ZIPs but not the share.
- eCheck (payment.bankAccount): up to $100.00 accepted, above declined, and declined once the
  month's accepted eCheck total would pass $5,000.00. Bad routing number -> 9, account -> 10.
- Legacy "error generation" card 4222222222222 (unconfirmed for today's real sandbox): the amount in
  whole dollars picks the reason code, e.g. $27.00 -> 27 AVS mismatch, $8.00 -> 8 expired.
- Duplicate filter: the same type, card, amount and invoiceNumber within duplicateWindow seconds
  (transaction setting, default 120) -> reason 11.

Lifecycle, as the real gateway: capture once (311 after that, 310 after a void), never above the
authorized amount (47); void only unsettled transactions (310 when already voided, 16 for settled
ones, which the void no longer finds); refund only settled ones (54), the card's last four must
match (54), refunds add up and never pass the captured amount (55). Captures and refunds are
"pending settlement" until `POST /_sandbox/settle` runs the batch the real gateway runs daily.

Faults come from common.Faults. A request that hits "hang" is processed before the hang: the real
gateway finishes a transaction whose answer got lost, which is exactly why a timeout after sending
is ambiguous, so an inquiry by order id then finds it. "error" and "malformed" are not processed.
"""

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from stdnum import luhn

from avnz.core import clock
from avnz.core.money import Money
from avnz.gateways.sandbox.common import (
    Ledger,
    SandboxState,
    SandboxTxn,
    TxnState,
    auth_code,
    gateway_endpoint,
    numeric_ids,
    sandbox_app,
)

SANDBOX_CREDENTIALS: dict[str, str] = {
    "api_login_id": "avnzSandbox",
    "transaction_key": "SandboxKey000001",
}

API_PATH = "/xml/v1/request.api"
BOM = "\ufeff"
NAMESPACE = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"

SALE, AUTH_ONLY, REFUND = "authCaptureTransaction", "authOnlyTransaction", "refundTransaction"
CURRENCIES = frozenset({"USD", "CAD", "EUR", "GBP", "AUD", "NZD"})

DECLINE_ZIP = "46282"
AVS_BY_ZIP = {
    "46201": "A",
    "46203": "E",
    "46204": "G",
    "46205": "N",
    "46206": "P",
    "46207": "R",
    "46208": "S",
    "46209": "U",
    "46211": "W",
    "46214": "X",
    "46217": "Z",
}
CVV_BY_CODE = {"900": "M", "901": "N", "902": "S", "903": "U", "904": "P"}
PARTIAL_AUTH_PERCENT = {"46225": 20, "46226": 40, "46227": 60, "46228": 80}
ERROR_GENERATION_CARD = "4222222222222"
ECHECK_LIMIT = 10_000  # cents, per transaction
ECHECK_MONTHLY_LIMIT = 500_000
DUPLICATE_WINDOW_SECONDS = 120

# Reason code -> (responseCode, text), as responseCodes.json words them.
REASONS: dict[str, tuple[str, str]] = {
    "1": ("1", "This transaction has been approved."),
    "2": ("2", "This transaction has been declined."),
    "3": ("2", "This transaction has been declined."),
    "4": ("2", "This transaction has been declined."),
    "5": ("3", "A valid amount is required."),
    "6": ("3", "The credit card number is invalid."),
    "7": ("3", "Credit card expiration date is invalid."),
    "8": ("3", "The credit card has expired."),
    "9": ("3", "The ABA code is invalid"),
    "10": ("3", "The account number is invalid"),
    "11": ("3", "A duplicate transaction has been submitted."),
    "16": ("3", "The transaction cannot be found."),
    "17": ("3", "The merchant does not accept this type of credit card."),
    "19": ("3", "An error occurred during processing.  Please try again."),
    "27": ("2", "The transaction has been declined because of an AVS mismatch."),
    "28": ("3", "The merchant does not accept this type of credit card."),
    "33": ("3", "Credit card number cannot be left blank."),
    "35": ("3", "An error occurred during processing. Call Merchant Service Provider."),
    "37": ("3", "The credit card number is invalid."),
    "39": (
        "3",
        "The supplied currency code is either invalid, not supported, not allowed for "
        "this merchant or doesnt have an exchange rate.",
    ),
    "41": ("2", "This transaction has been declined."),
    "44": ("2", "This transaction has been declined."),
    "45": ("2", "This transaction has been declined."),
    "47": (
        "3",
        "The amount requested for settlement cannot be greater than the original amount "
        "authorized.",
    ),
    "54": ("3", "The referenced transaction does not meet the criteria for issuing a credit."),
    "55": (
        "3",
        "The sum of credits against the referenced transaction would exceed original debit amount.",
    ),
    "57": ("3", "An error occurred in processing. Please try again in 5 minutes."),
    "65": ("2", "This transaction has been declined."),
    "78": ("3", "The Card Code (CVV2/CVC2/CID) is invalid."),
    "127": (
        "2",
        "The transaction resulted in an AVS mismatch. The address provided does not "
        "match billing address of cardholder.",
    ),
    "250": ("2", "This transaction has been declined."),
    "251": ("2", "This transaction has been declined."),
    "295": (
        "4",
        "The amount of this request was only partially approved on the given prepaid "
        "card. An additional payment is required to fulfill the balance of this "
        "transaction.",
    ),
    "310": ("1", "This transaction has already been voided."),
    "311": ("1", "This transaction has already been captured."),
}

# XSD sequences of the elements whose order we check (the gateway validates them all).
SEQUENCES: dict[str, tuple[str, ...]] = {
    "createTransactionRequest": (
        "merchantAuthentication",
        "clientId",
        "refId",
        "transactionRequest",
    ),
    "authenticateTestRequest": ("merchantAuthentication", "clientId", "refId"),
    "getTransactionDetailsRequest": ("merchantAuthentication", "clientId", "refId", "transId"),
    "getUnsettledTransactionListRequest": (
        "merchantAuthentication",
        "clientId",
        "refId",
        "status",
        "sorting",
        "paging",
    ),
    "merchantAuthentication": (
        "name",
        "transactionKey",
        "sessionToken",
        "password",
        "impersonationAuthentication",
        "fingerPrint",
        "clientKey",
        "accessToken",
        "mobileDeviceId",
    ),
    "transactionRequest": (
        "transactionType",
        "amount",
        "currencyCode",
        "payment",
        "profile",
        "solution",
        "callId",
        "terminalNumber",
        "authCode",
        "refTransId",
        "splitTenderId",
        "order",
        "lineItems",
        "tax",
        "duty",
        "shipping",
        "taxExempt",
        "poNumber",
        "customer",
        "billTo",
        "shipTo",
        "customerIP",
        "cardholderAuthentication",
        "retail",
        "employeeId",
        "transactionSettings",
        "userFields",
        "surcharge",
        "merchantDescriptor",
        "subMerchant",
        "tip",
        "processingOptions",
        "subsequentAuthInformation",
        "otherTax",
        "shipFrom",
        "authorizationIndicatorType",
    ),
    "payment": (
        "creditCard",
        "bankAccount",
        "trackData",
        "encryptedTrackData",
        "payPal",
        "opaqueData",
        "emv",
        "dataSource",
    ),
    "creditCard": (
        "cardNumber",
        "expirationDate",
        "cardCode",
        "isPaymentToken",
        "cryptogram",
        "tokenRequestorName",
        "tokenRequestorId",
        "tokenRequestorEci",
    ),
    "bankAccount": (
        "accountType",
        "routingNumber",
        "accountNumber",
        "nameOnAccount",
        "echeckType",
        "bankName",
        "checkNumber",
    ),
    "opaqueData": ("dataDescriptor", "dataValue", "dataKey", "expirationTimeStamp"),
    "order": (
        "invoiceNumber",
        "description",
        "discountAmount",
        "taxIsAfterDiscount",
        "totalTaxTypeCode",
        "purchaserVATRegistrationNumber",
        "merchantVATRegistrationNumber",
        "vatInvoiceReferenceNumber",
        "purchaserCode",
        "summaryCommodityCode",
        "purchaseOrderDateUTC",
        "supplierOrderReference",
        "authorizedContactName",
        "cardAcceptorRefNumber",
        "amexDataTAA1",
        "amexDataTAA2",
        "amexDataTAA3",
        "amexDataTAA4",
    ),
    "customer": ("type", "id", "email"),
    "billTo": (
        "firstName",
        "lastName",
        "company",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "phoneNumber",
        "faxNumber",
    ),
    "transactionSettings": ("setting",),
    "setting": ("settingName", "settingValue"),
    "userFields": ("userField",),
    "userField": ("name", "value"),
    "sorting": ("orderBy", "orderDescending"),
    "paging": ("limit", "offset"),
}
MAX_LENGTHS = {"invoiceNumber": 20, "refId": 20, "description": 255, "id": 20, "email": 255}

# Card brands by IIN prefix range (inclusive), as the gateway names them in accountType.
BRANDS: tuple[tuple[str, str, str], ...] = (
    ("4", "4", "Visa"),
    ("51", "55", "MasterCard"),
    ("2221", "2720", "MasterCard"),
    ("34", "34", "AmericanExpress"),
    ("37", "37", "AmericanExpress"),
    ("6011", "6011", "Discover"),
    ("644", "649", "Discover"),
    ("65", "65", "Discover"),
    ("3528", "3589", "JCB"),
    ("3088", "3088", "JCB"),
    ("300", "305", "DinersClub"),
    ("36", "36", "DinersClub"),
    ("38", "39", "DinersClub"),
)

EXPIRY_FORMATS = (
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})$"),
    re.compile(r"^(?P<month>\d{2})[/-]?(?P<year>\d{2}|\d{4})$"),
)

_SETTLED = "settled"  # key in SandboxTxn.extra


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

    @property
    def response_code(self) -> str:
        return REASONS[self.reason][0]


def refusal(reason: str, ref_id: str = "") -> Answer:
    return Answer(reason, ref_id=ref_id)


# --- wire helpers ----------------------------------------------------------------------------


def ok_messages() -> dict[str, Any]:
    return {"resultCode": "Ok", "message": [{"code": "I00001", "text": "Successful."}]}


def error_messages(code: str, text: str) -> dict[str, Any]:
    return {"resultCode": "Error", "message": [{"code": code, "text": text}]}


def answer(document: Mapping[str, Any]) -> Response:
    # The real gateway prefixes every JSON answer with a byte order mark.
    return Response(BOM + json.dumps(document), media_type="application/json; charset=utf-8")


def json_amount(minor: int, currency: str) -> float:
    # Reports carry amounts as JSON numbers; a two-decimal value survives float repr exactly.
    return float(Money(minor, currency).to_decimal())


def masked(last4: str | None) -> str:
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
    for pattern in EXPIRY_FORMATS:
        if match := pattern.match(text):
            year, month = int(match["year"]), int(match["month"])
            year += 2000 if year < 100 else 0
            return (year, month) if 1 <= month <= 12 else None
    return None


def brand(number: str) -> str | None:
    for low, high, name in BRANDS:
        prefix = number[: len(low)]
        if low <= prefix <= high:
            return name
    return None


def aba_valid(routing: str) -> bool:
    if not (routing.isdigit() and len(routing) == 9):
        return False
    digits = [int(c) for c in routing]
    weights = (3, 7, 1) * 3
    return sum(d * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def settings_of(request: Mapping[str, Any]) -> dict[str, str]:
    raw = (request.get("transactionSettings") or {}).get("setting") or []
    items = raw if isinstance(raw, list) else [raw]
    return {str(s.get("settingName")): str(s.get("settingValue")) for s in items}


def is_settled(txn: SandboxTxn) -> bool:
    return bool(txn.extra.get(_SETTLED))


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
    return txn.captured or txn.amount


@dataclass
class Instrument:
    """The payment method of a request, reduced to what the gateway keeps."""

    last4: str
    account_type: str
    card_code: str | None = None
    number: str = ""
    echeck: bool = False


# --- the gateway -----------------------------------------------------------------------------


class AuthorizeNetSandbox:
    def __init__(self, state: SandboxState, credentials: Mapping[str, str]) -> None:
        self.state = state
        self.ledger: Ledger = state.ledger
        self.credentials = credentials
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "createTransactionRequest": self.create_transaction,
            "authenticateTestRequest": lambda _content: {"messages": ok_messages()},
            "getTransactionDetailsRequest": self.transaction_details,
            "getUnsettledTransactionListRequest": self.unsettled_list,
        }
        self.transaction_types: dict[str, Callable[[dict[str, Any]], Answer]] = {
            SALE: self.payment,
            AUTH_ONLY: self.payment,
            "priorAuthCaptureTransaction": self.capture,
            "voidTransaction": self.void,
            REFUND: self.refund,
        }

    # --- HTTP ------------------------------------------------------------------------------

    async def api(self, request: Request) -> Response:
        ref_id: str | None = None
        try:
            method, content = self.method_of(await request.body())
            ref_id = content.get("refId")
            if (problem := sequence_problem(method, content)) is not None:
                raise RequestError("E00003", problem)
            self.authenticate(content.get("merchantAuthentication"))
            document = self.methods[method](content)
        except RequestError as failure:
            document = {"messages": error_messages(failure.code, failure.text)}
        if ref_id is not None:  # echoed just before `messages`, as the gateway does
            messages = document.pop("messages")
            document = {**document, "refId": ref_id, "messages": messages}
        return answer(document)

    def settle(self) -> int:
        """The daily batch: every unsettled transaction but open authorizations settles."""
        batch = [
            t
            for t in self.ledger.transactions.values()
            if not is_settled(t) and t.state is not TxnState.AUTHORIZED
        ]
        for txn in batch:
            txn.extra[_SETTLED] = True
        return len(batch)

    def method_of(self, body: bytes) -> tuple[str, dict[str, Any]]:
        try:
            document = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RequestError("E00003", "An error occurred while parsing the request.") from None
        if not (isinstance(document, dict) and len(document) == 1):
            raise RequestError("E00003", "The request must have exactly one root element.")
        method, content = next(iter(document.items()))
        if method not in self.methods:
            raise RequestError("E00004", "The name of the requested API method is invalid.")
        if not isinstance(content, dict):
            raise RequestError("E00003", f"The element '{method}' is invalid.")
        return method, content

    def authenticate(self, auth: Any) -> None:
        auth = auth if isinstance(auth, dict) else {}
        given = (str(auth.get("name", "")), str(auth.get("transactionKey", "")))
        expected = (self.credentials["api_login_id"], self.credentials["transaction_key"])
        # Both compared, always, so timing tells nothing about which half was wrong.
        name_ok = secrets.compare_digest(given[0].encode(), expected[0].encode())
        key_ok = secrets.compare_digest(given[1].encode(), expected[1].encode())
        if not (name_ok and key_ok):
            raise RequestError(
                "E00007", "User authentication failed due to invalid authentication values."
            )

    # --- createTransactionRequest ----------------------------------------------------------

    def create_transaction(self, content: dict[str, Any]) -> dict[str, Any]:
        request = content.get("transactionRequest")
        if not isinstance(request, dict):
            raise RequestError("E00003", "The element 'transactionRequest' is required.")
        handler = self.transaction_types.get(str(request.get("transactionType")))
        if handler is None:
            raise RequestError(
                "E00003",
                f"The '{NAMESPACE}:transactionType' element is invalid - the value is not one "
                "this sandbox emulates.",
            )
        return transaction_document(handler(request))

    def payment(self, request: dict[str, Any]) -> Answer:
        currency = str(request.get("currencyCode") or "USD")
        if currency not in CURRENCIES:
            return refusal("39")
        amount = parse_amount(request.get("amount"), currency)
        if amount is None:
            return refusal("5")
        instrument = read_instrument(request.get("payment") or {})
        if isinstance(instrument, str):
            return refusal(instrument)
        bill_to = request.get("billTo") or {}
        invoice = (request.get("order") or {}).get("invoiceNumber")
        kind = str(request["transactionType"])
        if self.duplicate(kind, instrument, amount, invoice, settings_of(request)):
            return refusal("11")
        txn = SandboxTxn(
            id=self.ledger.new_id(),
            kind=kind,
            amount=amount,
            currency=currency,
            state=TxnState.AUTHORIZED if kind == AUTH_ONLY else TxnState.CAPTURED,
            order_id=str(invoice) if invoice else None,
            card_last4=instrument.last4,
            auth_code=auth_code(),
            extra={
                "submitted": clock.now(),
                "account_type": instrument.account_type,
                "echeck": instrument.echeck,
                "first_name": bill_to.get("firstName"),
                "last_name": bill_to.get("lastName"),
            },
        )
        decided = self.decide(txn, instrument, str(bill_to.get("zip") or ""), request)
        decided.txn = txn if decided.response_code in ("1", "2", "4") else None
        txn.extra.update(avs=decided.avs, cvv=decided.cvv, reason=decided.reason)
        if decided.txn is not None:
            if decided.response_code == "2":
                txn.state, txn.auth_code = TxnState.DECLINED, None
            elif txn.state is TxnState.CAPTURED:
                txn.captured = txn.amount
            self.ledger.add(txn)
        decided.account_number = masked(instrument.last4)
        decided.account_type = instrument.account_type
        return decided

    def decide(
        self, txn: SandboxTxn, instrument: Instrument, zip_code: str, request: dict[str, Any]
    ) -> Answer:
        """The test triggers, in the order the gateway would meet them."""
        if instrument.echeck:
            return Answer(self.echeck_reason(txn))
        has_address = bool(zip_code or (request.get("billTo") or {}).get("address"))
        avs = AVS_BY_ZIP.get(zip_code, "Y" if has_address else "B")
        cvv = CVV_BY_CODE.get(instrument.card_code, "M") if instrument.card_code else ""
        if instrument.number == ERROR_GENERATION_CARD:
            forced = str(txn.amount // 100)
            if txn.amount % 100 == 0 and forced in REASONS and REASONS[forced][0] in ("2", "3"):
                return Answer(forced, avs=avs, cvv=cvv)
        if zip_code == DECLINE_ZIP:
            return Answer("2", avs=avs, cvv=cvv)
        if zip_code in PARTIAL_AUTH_PERCENT:
            return self.partial(txn, PARTIAL_AUTH_PERCENT[zip_code], request, avs, cvv)
        return Answer("1", avs=avs, cvv=cvv)

    def partial(
        self, txn: SandboxTxn, percent: int, request: dict[str, Any], avs: str, cvv: str
    ) -> Answer:
        if settings_of(request).get("allowPartialAuth", "").lower() != "true":
            return Answer("2", avs=avs, cvv=cvv)
        requested = txn.amount
        txn.amount = requested * percent // 100
        prepaid = {
            "requestedAmount": str(Money(requested, txn.currency).to_decimal()),
            "approvedAmount": str(Money(txn.amount, txn.currency).to_decimal()),
            "balanceOnCard": "0.00",
        }
        split = self.ledger.new_id()
        txn.extra["split_tender_id"] = split
        return Answer(
            "295", avs=avs, cvv=cvv, extra={"prePaidCard": prepaid, "splitTenderId": split}
        )

    def echeck_reason(self, txn: SandboxTxn) -> str:
        if txn.amount > ECHECK_LIMIT:
            return "2"
        now: datetime = txn.extra["submitted"]
        month_total = sum(
            t.amount
            for t in self.ledger.transactions.values()
            if t.extra.get("echeck")
            and t.state is not TxnState.DECLINED
            and (t.extra["submitted"].year, t.extra["submitted"].month) == (now.year, now.month)
        )
        return "2" if month_total + txn.amount > ECHECK_MONTHLY_LIMIT else "1"

    def duplicate(
        self,
        kind: str,
        instrument: Instrument,
        amount: int,
        invoice: Any,
        settings: Mapping[str, str],
    ) -> bool:
        window = int(settings.get("duplicateWindow", DUPLICATE_WINDOW_SECONDS))
        now = clock.now()
        return any(
            t.kind == kind
            and t.card_last4 == instrument.last4
            and t.amount == amount
            and t.order_id == (str(invoice) if invoice else None)
            and (now - t.extra["submitted"]).total_seconds() < window
            for t in self.ledger.transactions.values()
        )

    def referenced(self, request: Mapping[str, Any]) -> SandboxTxn | None:
        return self.ledger.get(str(request.get("refTransId") or ""))

    def capture(self, request: dict[str, Any]) -> Answer:
        txn = self.referenced(request)
        if txn is None or txn.kind == REFUND or txn.state is TxnState.DECLINED:
            return refusal("16")
        if txn.state is TxnState.VOIDED:
            return refusal("310", txn.id)
        if txn.state is not TxnState.AUTHORIZED:
            return refusal("311", txn.id)
        amount = txn.amount
        if request.get("amount") is not None:
            amount = parse_amount(request["amount"], txn.currency) or 0
            if amount <= 0:
                return refusal("5")
            if amount > txn.amount:
                return refusal("47", txn.id)
        txn.captured, txn.state = amount, TxnState.CAPTURED
        return self.follow_up(txn)

    def void(self, request: dict[str, Any]) -> Answer:
        txn = self.referenced(request)
        if txn is None or txn.state is TxnState.DECLINED:
            return refusal("16")
        if txn.state is TxnState.VOIDED:
            return refusal("310", txn.id)
        if is_settled(txn):  # voids only look among unsettled transactions
            return refusal("16")
        parent = self.ledger.get(txn.parent_id or "")
        if txn.kind == REFUND and parent is not None:
            parent.refunded -= txn.amount
            parent.state = TxnState.PARTIALLY_REFUNDED if parent.refunded else TxnState.CAPTURED
        txn.state = TxnState.VOIDED
        return self.follow_up(txn)

    def refund(self, request: dict[str, Any]) -> Answer:
        original = self.referenced(request)
        if original is None:
            return refusal("16")
        amount = parse_amount(request.get("amount"), original.currency)
        if amount is None:
            return refusal("5")
        payment = request.get("payment") or {}
        account = payment.get("creditCard") or payment.get("bankAccount") or {}
        last4 = str(account.get("cardNumber") or account.get("accountNumber") or "")[-4:]
        if not last4:
            return refusal("33")
        refundable = original.kind != REFUND and original.state in (
            TxnState.CAPTURED,
            TxnState.PARTIALLY_REFUNDED,
            TxnState.REFUNDED,  # nothing left: 55 below
        )
        if not (refundable and is_settled(original)) or last4 != original.card_last4:
            return refusal("54", original.id)
        if amount > original.refundable:
            return refusal("55", original.id)
        invoice = (request.get("order") or {}).get("invoiceNumber") or original.order_id
        refund = self.ledger.add(
            SandboxTxn(
                id=self.ledger.new_id(),
                kind=REFUND,
                amount=amount,
                currency=original.currency,
                state=TxnState.REFUNDED,
                order_id=invoice,
                card_last4=original.card_last4,
                captured=amount,
                parent_id=original.id,
                extra={**original.extra, "submitted": clock.now(), _SETTLED: False, "reason": "1"},
            )
        )
        original.refunded += amount
        original.state = (
            TxnState.REFUNDED if original.refundable == 0 else TxnState.PARTIALLY_REFUNDED
        )
        return self.follow_up(refund, ref_id=original.id)

    def follow_up(self, txn: SandboxTxn, ref_id: str | None = None) -> Answer:
        """An approved capture, void or refund: it names the transaction it acted on."""
        return Answer(
            "1",
            txn=txn,
            ref_id=ref_id or txn.id,
            account_number=masked(txn.card_last4),
            account_type=str(txn.extra.get("account_type", "")),
        )

    # --- reporting -------------------------------------------------------------------------

    def transaction_details(self, content: dict[str, Any]) -> dict[str, Any]:
        txn = self.ledger.get(str(content.get("transId") or ""))
        if txn is None:
            raise RequestError("E00040", "The record cannot be found.")
        return {"transaction": transaction_detail(txn), "messages": ok_messages()}

    def unsettled_list(self, content: dict[str, Any]) -> dict[str, Any]:
        paging = content.get("paging") or {}
        try:
            limit, page = int(paging.get("limit", 1000)), int(paging.get("offset", 1))
        except (TypeError, ValueError):
            raise RequestError("E00003", "paging.limit and paging.offset are numbers.") from None
        if not (1 <= limit <= 1000 and page >= 1):
            raise RequestError("E00013", "Paging limit must be 1-1000 and offset at least 1.")
        unsettled = [t for t in self.ledger.transactions.values() if not is_settled(t)]
        if str((content.get("sorting") or {}).get("orderDescending")).lower() == "true":
            unsettled.reverse()  # the ledger keeps submission order
        if not unsettled:
            return {
                "messages": {
                    "resultCode": "Ok",
                    "message": [{"code": "I00004", "text": "No records found."}],
                },
                "totalNumInResultSet": 0,
            }
        chunk = unsettled[(page - 1) * limit : page * limit]
        return {
            "transactions": [listed_transaction(t) for t in chunk],
            "totalNumInResultSet": len(unsettled),
            "messages": ok_messages(),
        }


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
    }
    return {key: value for key, value in detail.items() if value is not None}


def payment_detail(txn: SandboxTxn) -> dict[str, Any]:
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


def create_app(credentials: Mapping[str, str] | None = None) -> Starlette:
    """A fresh Authorize.Net sandbox that accepts `credentials` (default SANDBOX_CREDENTIALS)."""
    state = SandboxState(ledger=Ledger(numeric_ids(40_000_000_000)))
    gateway = AuthorizeNetSandbox(state, credentials or SANDBOX_CREDENTIALS)
    routes: list[BaseRoute] = [
        Route(API_PATH, gateway_endpoint(state, gateway.api), methods=["POST"])
    ]
    return sandbox_app(state, routes, settle=gateway.settle)
