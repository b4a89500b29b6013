"""A local NMI: the Payment API at POST /api/transact.php and the Query API at GET|POST
/api/query.php, on the same paths as secure.nmi.com, so a connector only swaps its base URL.

Credentials: by default it accepts SANDBOX_CREDENTIALS, NMI's public demo `security_key`
(6457Thfj624V5r7WUwc5v6a68Zsd6YEm); anything else gets NMI's own `Authentication Failed`
(Query API: `Invalid Security Key`). `create_app(credentials)` accepts another set instead.

Test triggers (reference/gateways.md §1, test mode):
- `amount` below 1.00 declines: `response=2`, `DECLINE` (`FAILED` for ACH), code 200.
- A card number that fails Luhn (or has the wrong length) is `response=3`,
  `Invalid Credit Card Number`. Any Luhn-valid card is approved, which covers the documented
  test cards (Visa 4111111111111111, MC 5431111111111111, Discover 6011000991300009 and
  6011601160116611, Amex 341111111111111, Diners 30205252489926, JCB 3541963594572595,
  Maestro 6799990100000000019; expiry 10/25, not checked against today).
- `address1` starting with house number 888 together with `zip=77777` is an AVS match (`Y`).
  Not documented, and our choice: 888 alone answers `A`, 77777 alone `Z`, any other address `N`,
  no address at all an empty `avsresponse`.
- `cvv=999` is a CVV match (`M`); any other CVV `N`; no CVV an empty `cvvresponse`.
- ACH (`payment=check`): routing 490000018, account 24413815 (any valid ABA routing number works).
- Payment tokens: 00000000-000000-000000-000000000000 is Visa 4111…1111 exp 10/25 with CVV 999;
  11111111-111111-111111-111111111111 is the ACH account. Other tokens: `Invalid Payment Token`.
- Approvals carry `authcode=123456` and `responsetext=SUCCESS`.
- `type=validate` (no amount, or 0.00) verifies the card: approved with AVS and CVV results and a
  transaction id that cannot be captured, voided or refunded; any other amount is an error.
- An unknown transaction id (capture, void, refund) is `Invalid Transaction ID specified` and a
  void after settlement `Only transactions pending settlement can be voided`, as NMI words them.
- `dup_seconds=N` (N > 0) refuses the same type, instrument, amount and currency within N
  seconds as `Duplicate transaction`. Without it no duplicate check runs (a real account applies
  its configured window, which a sandbox cannot know).

Lifecycle, as NMI behaves: capture keeps the authorization's id, once, up to the authorized
amount; refunds get their own id, add up, and never exceed what was captured (a refund is also
listed as an action on the original, so an inquiry by the original id sees it); void works on
anything not yet settled (sale, captured or not, or a refund), never after settlement.
Settlement is a nightly batch at NMI; here `POST /_sandbox/settle` runs it.

Faults: the common `/_sandbox/faults` apply through `gateway_endpoint`. With `hang`, the
sandbox first processes the request and then never answers (the gateway did the work and the
answer was lost, the case inquiries exist for), and it stops hanging once the client has gone
away. `error` and `malformed` come from in front of the gateway: nothing is processed.
"""

import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from stdnum import luhn
from stdnum.us import rtn

from avnz.core import clock
from avnz.core.money import Money
from avnz.gateways.nmi.sandbox.wire import (
    Fields,
    add_action,
    approved_reply,
    condition_of,
    dollars,
    error_reply,
    parse_money,
    read_fields,
    reply,
    transaction_xml,
    xml_answer,
)
from avnz.gateways.sandbox.common import (
    Ledger,
    SandboxState,
    SandboxTxn,
    TxnState,
    gateway_endpoint,
    numeric_ids,
    sandbox_app,
)
from avnz.gateways.sandbox.store import SandboxStore

SANDBOX_CREDENTIALS: dict[str, str] = {"security_key": "6457Thfj624V5r7WUwc5v6a68Zsd6YEm"}

TEST_AUTH_CODE = "123456"
DECLINE_BELOW = Decimal("1.00")
# NMI's published test payment tokens, not secrets.
DEMO_CARD_TOKEN = "00000000-000000-000000-000000000000"  # noqa: S105
DEMO_ACH_TOKEN = "11111111-111111-111111-111111111111"  # noqa: S105

# (house number 888, zip 77777) → avsresponse
AVS_CODES: dict[tuple[bool, bool], str] = {
    (True, True): "Y",
    (True, False): "A",
    (False, True): "Z",
    (False, False): "N",
}

NOT_FOUND = "Invalid Transaction ID specified"
NOT_VOIDABLE = "Only transactions pending settlement can be voided"
NOT_CAPTURABLE = "A capture requires that the existing transaction be an AUTH"
OVER_BALANCE = "Refund amount may not exceed the transaction balance"


@dataclass(frozen=True, slots=True)
class Instrument:
    """What pays, as far as the sandbox needs to know: never the full card number."""

    payment: str  # creditcard / check
    last4: str
    fingerprint: str  # a digest of the number, for duplicate checks
    cvv: str | None = None


def _fingerprint(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()[:16]


TEST_TOKENS: dict[str, Instrument] = {
    DEMO_CARD_TOKEN: Instrument("creditcard", "1111", _fingerprint("4111111111111111"), "999"),
    DEMO_ACH_TOKEN: Instrument("check", "3815", _fingerprint("490000018/24413815")),
}


# --- the gateway -------------------------------------------------------------------------------


class NmiSandbox:
    def __init__(self, ledger: Ledger, credentials: Mapping[str, str]) -> None:
        self.ledger = ledger
        self.credentials = dict(credentials)
        self.operations: dict[str, Callable[[Fields], Response]] = {
            "sale": self.sale,
            "auth": self.auth,
            "capture": self.capture,
            "void": self.void,
            "refund": self.refund,
            "validate": self.validate,
        }

    def authenticated(self, fields: Fields) -> bool:
        return bool(self.credentials) and all(
            hmac.compare_digest(fields.get(key, ""), value)
            for key, value in self.credentials.items()
        )

    async def transact(self, request: Request) -> Response:
        fields = await read_fields(request)
        with self.ledger.store.unit():
            return self._transact(fields)

    def _transact(self, fields: Fields) -> Response:
        if not self.authenticated(fields):
            return error_reply(fields, "Authentication Failed")
        operation = self.operations.get(fields.get("type") or "sale")
        if operation is None:
            return error_reply(fields, "Invalid Transaction Type")
        return operation(fields)

    # payments ----------------------------------------------------------------------------------

    def sale(self, fields: Fields) -> Response:
        return self._pay(fields, "sale")

    def auth(self, fields: Fields) -> Response:
        return self._pay(fields, "auth")

    def _pay(self, fields: Fields, kind: str) -> Response:
        instrument = _instrument(fields)
        if isinstance(instrument, str):
            return error_reply(fields, instrument)
        verifying = kind == "validate"
        amount = fields.get("amount") or ("0.00" if verifying else None)
        money = parse_money(amount, (fields.get("currency") or "USD").upper())
        if money is None or (verifying and money.amount != 0):
            return error_reply(fields, "Invalid amount")
        if self._duplicate(fields, kind, instrument, money):
            return error_reply(fields, "Duplicate transaction")
        is_card = instrument.payment == "creditcard"
        checks = {"avs": _avs(fields), "cvv": _cvv(fields, instrument)} if is_card else {}
        txn = self.ledger.add(
            SandboxTxn(
                id=self.ledger.new_id(),
                kind=kind,
                amount=money.amount,
                currency=money.currency,
                state=TxnState.DECLINED,
                order_id=fields.get("orderid") or None,
                card_last4=instrument.last4,
            )
        )
        if money.to_decimal() < DECLINE_BELOW and not verifying:
            text = "DECLINE" if is_card else "FAILED"
            add_action(txn, kind, txn.amount, False, text)
            return reply(fields, "2", text, "200", txn_id=txn.id, **checks)
        txn.state = TxnState.CAPTURED if kind == "sale" else TxnState.AUTHORIZED
        if verifying:
            txn.extra["settled"] = True  # nothing to capture, void, refund or settle
        txn.captured = txn.amount if kind == "sale" else 0
        txn.auth_code = TEST_AUTH_CODE
        # Only approvals count as duplicates of a later attempt.
        txn.extra["fingerprint"] = _payment_fingerprint(kind, instrument, money)
        txn.extra["at"] = clock.now().isoformat()
        add_action(txn, kind, txn.amount, True, "SUCCESS")
        return approved_reply(fields, txn, authcode=TEST_AUTH_CODE, **checks)

    def validate(self, fields: Fields) -> Response:
        """An account verification: the card is checked (AVS, CVV), no money is held."""
        return self._pay(fields, "validate")

    def _duplicate(self, fields: Fields, kind: str, instrument: Instrument, money: Money) -> bool:
        try:
            window = int(fields.get("dup_seconds") or 0)
        except ValueError:
            return False
        if window <= 0:
            return False
        fingerprint = _payment_fingerprint(kind, instrument, money)
        since = (clock.now() - timedelta(seconds=window)).isoformat()
        return any(
            txn.extra.get("fingerprint") == fingerprint and txn.extra.get("at", "") >= since
            for txn in self.ledger.transactions.values()
        )

    # follow-ups ---------------------------------------------------------------------------------

    def _target(self, fields: Fields) -> SandboxTxn | Response:
        txn_id = fields.get("transactionid", "")
        if not txn_id.isdigit():
            return error_reply(fields, "Invalid Transaction ID specified")
        return self.ledger.get(txn_id) or error_reply(fields, NOT_FOUND, txn_id=txn_id)

    def capture(self, fields: Fields) -> Response:
        txn = self._target(fields)
        if isinstance(txn, Response):
            return txn
        if txn.kind != "auth" or txn.state is not TxnState.AUTHORIZED:
            return error_reply(fields, NOT_CAPTURABLE, txn_id=txn.id)
        money = parse_money(fields.get("amount") or dollars(txn.amount, txn.currency), txn.currency)
        if money is None or money.amount == 0:
            return error_reply(fields, "Invalid amount", txn_id=txn.id)
        if money.amount > txn.amount:
            asked, authorized = fields.get("amount"), dollars(txn.amount, txn.currency)
            return error_reply(
                fields,
                f"The specified amount of {asked} exceeds the authorization amount of {authorized}",
                txn_id=txn.id,
            )
        # One capture per authorization: the rest of a partial capture is released.
        txn.captured, txn.state = money.amount, TxnState.CAPTURED
        add_action(txn, "capture", money.amount, True, "SUCCESS")
        return approved_reply(fields, txn, authcode=txn.auth_code or "")

    def void(self, fields: Fields) -> Response:
        txn = self._target(fields)
        if isinstance(txn, Response):
            return txn
        if not _voidable(txn):
            return error_reply(fields, NOT_VOIDABLE, txn_id=txn.id)
        parent = self.ledger.get(txn.parent_id) if txn.parent_id else None
        if parent is not None:  # voiding a refund gives the money back to the original
            parent.refunded -= txn.amount
            parent.state = _refund_state(parent)
        txn.state = TxnState.VOIDED
        add_action(txn, "void", txn.amount, True, "Transaction Void Successful")
        return approved_reply(
            fields, txn, "Transaction Void Successful", authcode=txn.auth_code or ""
        )

    def refund(self, fields: Fields) -> Response:
        txn = self._target(fields)
        if isinstance(txn, Response):
            return txn
        refundable = txn.refundable if txn.kind in ("sale", "auth") else 0
        if txn.state in (TxnState.VOIDED, TxnState.DECLINED):
            refundable = 0
        # No amount, or 0.00, refunds the whole balance.
        money = parse_money(fields.get("amount") or "0", txn.currency)
        if money is None:
            return error_reply(fields, "Invalid amount")
        amount = money.amount or refundable
        if amount <= 0 or amount > refundable:
            return error_reply(fields, OVER_BALANCE)
        refund = self.ledger.add(
            SandboxTxn(
                id=self.ledger.new_id(),
                kind="refund",
                amount=amount,
                currency=txn.currency,
                state=TxnState.REFUNDED,
                order_id=txn.order_id,
                card_last4=txn.card_last4,
                parent_id=txn.id,
            )
        )
        add_action(refund, "refund", amount, True, "SUCCESS")
        txn.refunded += amount
        txn.state = _refund_state(txn)
        return approved_reply(fields, refund)

    # settlement and lookups ---------------------------------------------------------------------

    def settle(self) -> int:
        """The nightly batch: everything pending settlement becomes complete."""
        batch = [
            t for t in self.ledger.transactions.values() if condition_of(t) == "pendingsettlement"
        ]
        for txn in batch:
            txn.extra["settled"] = True
            add_action(
                txn, "settle", txn.captured if txn.kind != "refund" else txn.amount, True, ""
            )
        return len(batch)

    async def query(self, request: Request) -> Response:
        fields = await read_fields(request)
        with self.ledger.store.unit():
            return self._query(fields)

    def _query(self, fields: Fields) -> Response:
        root = ET.Element("nm_response")
        if not self.authenticated(fields):
            ET.SubElement(root, "error_response").text = "Invalid Security Key"
            return xml_answer(root)
        ids = {i for i in fields.get("transaction_id", "").split(",") if i}
        order_id = fields.get("order_id")
        for txn in self.ledger.transactions.values():
            if (ids and txn.id not in ids) or (order_id and txn.order_id != order_id):
                continue
            transaction_xml(root, txn, self._refund_actions(txn))
        return xml_answer(root)

    def _refund_actions(self, txn: SandboxTxn) -> list[dict[str, str]]:
        """The refunds of `txn` that still stand, listed on it too (a voided refund drops out)."""
        return [
            refund.extra["actions"][0]
            for refund in self.ledger.transactions.values()
            if refund.parent_id == txn.id and refund.state is not TxnState.VOIDED
        ]


def _payment_fingerprint(kind: str, instrument: Instrument, money: Money) -> str:
    return f"{kind}:{instrument.fingerprint}:{money.amount}:{money.currency}"


def _instrument(fields: Fields) -> Instrument | str:
    """The payment instrument of a sale or auth, or the gateway's error text."""
    token = fields.get("payment_token")
    if token:
        return TEST_TOKENS.get(token, "Invalid Payment Token")
    if fields.get("payment") == "check":
        return _check(fields)
    return _card(fields)


def _card(fields: Fields) -> Instrument | str:
    number = fields.get("ccnumber", "").replace(" ", "")
    if not (number.isdigit() and 13 <= len(number) <= 19 and luhn.is_valid(number)):
        return "Invalid Credit Card Number"
    expiry = fields.get("ccexp", "")
    if not (len(expiry) == 4 and expiry.isdigit() and 1 <= int(expiry[:2]) <= 12):
        return "Invalid Credit Card Expiration Date"
    return Instrument("creditcard", number[-4:], _fingerprint(number), fields.get("cvv") or None)


def _check(fields: Fields) -> Instrument | str:
    routing, account = fields.get("checkaba", ""), fields.get("checkaccount", "")
    if not rtn.is_valid(routing):
        return "Invalid ABA number"
    if not (account.isdigit() and fields.get("checkname")):
        return "Invalid check account information"
    return Instrument("check", account[-4:], _fingerprint(f"{routing}/{account}"))


def _avs(fields: Fields) -> str:
    street, postal = fields.get("address1", "").strip(), fields.get("zip", "").strip()
    if not (street or postal):
        return ""
    return AVS_CODES[(street.split(" ")[0] == "888", postal.startswith("77777"))]


def _cvv(fields: Fields, instrument: Instrument) -> str:
    cvv = fields.get("cvv") or instrument.cvv
    if not cvv:
        return ""
    return "M" if cvv == "999" else "N"


def _voidable(txn: SandboxTxn) -> bool:
    if txn.state in (TxnState.VOIDED, TxnState.DECLINED) or txn.extra.get("settled"):
        return False
    return txn.kind == "refund" or txn.refunded == 0


def _refund_state(txn: SandboxTxn) -> TxnState:
    if txn.refunded <= 0:
        return TxnState.CAPTURED
    return TxnState.REFUNDED if txn.refundable <= 0 else TxnState.PARTIALLY_REFUNDED


# --- faults and the app ------------------------------------------------------------------------


def create_app(
    credentials: Mapping[str, str] | None = None, *, store: SandboxStore | None = None
) -> Starlette:
    """A sandbox accepting `credentials` (default: the demo key), its ledger kept in `store`
    (default: the one in effect, `store.current()`; a fresh one is empty)."""
    state = SandboxState(ledger=Ledger.stored("nmi", numeric_ids(), store))
    gateway = NmiSandbox(state.ledger, SANDBOX_CREDENTIALS if credentials is None else credentials)

    routes: list[BaseRoute] = [
        Route("/api/transact.php", gateway_endpoint(state, gateway.transact), methods=["POST"]),
        Route("/api/query.php", gateway_endpoint(state, gateway.query), methods=["GET", "POST"]),
    ]
    return sandbox_app(state, routes, settle=gateway.settle)
