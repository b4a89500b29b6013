"""Authorize.Net sandbox: the API at `POST /xml/v1/request.api`, answered as the real sandbox
(an account in Live Mode) answers it, so a connector only swaps its base URL. A request in XML
(an XML content type, or a body that starts with `<`: what the official SDKs send) is answered in
XML, one in JSON in JSON (`xmlwire.py`). Approved card payments carry a `networkTransId`.

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
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from avnz.core import clock
from avnz.core.money import Money
from avnz.gateways.authorize_net.sandbox.tables import (
    API_PATH,
    AUTH_ONLY,
    AVS_BY_ZIP,
    CURRENCIES,
    CVV_BY_CODE,
    DECLINE_ZIP,
    DUPLICATE_WINDOW_SECONDS,
    ECHECK_LIMIT,
    ECHECK_MONTHLY_LIMIT,
    ERROR_GENERATION_CARD,
    NAMESPACE,
    PARTIAL_AUTH_PERCENT,
    REASONS,
    REFUND,
    SALE,
    SANDBOX_CREDENTIALS,
    SETTLED_KEY,
)
from avnz.gateways.authorize_net.sandbox.wire import (
    Answer,
    Instrument,
    RequestError,
    answer,
    error_messages,
    is_settled,
    listed_transaction,
    masked,
    ok_messages,
    parse_amount,
    read_instrument,
    refusal,
    sequence_problem,
    settings_of,
    transaction_detail,
    transaction_document,
)
from avnz.gateways.authorize_net.sandbox.xmlwire import (
    XmlRefused,
    looks_like_xml,
    read_xml,
    xml_answer,
)
from avnz.gateways.sandbox.common import (
    Ledger,
    SandboxState,
    SandboxTxn,
    TxnState,
    alnum_ids,
    auth_code,
    gateway_endpoint,
    numeric_ids,
    sandbox_app,
)
from avnz.gateways.sandbox.store import SandboxStore


def network_trans_id() -> str:
    """A card network's transaction id as Authorize.Net passes it on: 15 upper-case
    alphanumerics (Visa's Transaction Identifier has this shape)."""
    return alnum_ids(length=15)()


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
        body = await request.body()
        as_xml = looks_like_xml(body, request.headers.get("content-type", ""))
        with self.ledger.store.unit():
            method, document = self.respond(body, as_xml)
        return xml_answer(method, document) if as_xml else answer(document)

    def respond(self, body: bytes, as_xml: bool) -> tuple[str | None, dict[str, Any]]:
        """(the request's method name if it could be read, the answer document)."""
        ref_id: str | None = None
        method: str | None = None
        try:
            method, content = self.method_of(body, as_xml)
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
        return method, document

    def settle(self) -> int:
        """The daily batch: every unsettled transaction but open authorizations settles."""
        batch = [
            t
            for t in self.ledger.transactions.values()
            if not is_settled(t) and t.state is not TxnState.AUTHORIZED
        ]
        for txn in batch:
            txn.extra[SETTLED_KEY] = True
        return len(batch)

    def method_of(self, body: bytes, as_xml: bool) -> tuple[str, dict[str, Any]]:
        try:
            document = read_xml(body) if as_xml else json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, XmlRefused):
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
        if decided.response_code in ("1", "4") and not instrument.echeck:
            decided.network_trans_id = txn.extra["network_trans_id"] = network_trans_id()
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
        order_id = str(invoice) if invoice else None
        # With an invoice number only that order's transactions can match (an indexed read).
        candidates = (
            self.ledger.by_order(order_id) if order_id else self.ledger.transactions.values()
        )
        return any(
            t.kind == kind
            and t.card_last4 == instrument.last4
            and t.amount == amount
            and t.order_id == order_id
            and (now - t.extra["submitted"]).total_seconds() < window
            for t in candidates
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
                extra={
                    **original.extra,
                    "submitted": clock.now(),
                    SETTLED_KEY: False,
                    "reason": "1",
                },
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


def create_app(
    credentials: Mapping[str, str] | None = None, *, store: SandboxStore | None = None
) -> Starlette:
    """An Authorize.Net sandbox that accepts `credentials` (default SANDBOX_CREDENTIALS), its
    ledger kept in `store` (default: the one in effect, `store.current()`)."""
    state = SandboxState(ledger=Ledger.stored("authorize_net", numeric_ids(40_000_000_000), store))
    gateway = AuthorizeNetSandbox(state, credentials or SANDBOX_CREDENTIALS)
    routes: list[BaseRoute] = [
        Route(API_PATH, gateway_endpoint(state, gateway.api), methods=["POST"])
    ]
    return sandbox_app(state, routes, settle=gateway.settle)
