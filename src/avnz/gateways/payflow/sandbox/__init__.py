"""Payflow Pro sandbox: the NVP protocol at `POST /`, behaving like the pilot host
(pilot-payflowpro.paypal.com) with its documented test triggers (reference/gateways.md §3).

Accepted credentials (SANDBOX_CREDENTIALS): PARTNER=PayPal, VENDOR=avnzpilot, USER=avnzpilot,
PWD=pilot-pass-42. A wrong PARTNER or VENDOR answers RESULT 26, a wrong USER or PWD RESULT 1.

Test triggers, checked in this order:
  TENDER other than C → 2; an unknown TRXTYPE → 3
  AMT negative or unreadable → 4; CURRENCY unknown → 6
  D and V without ORIGID, I without ORIGID or CUSTREF → 7; an unknown ORIGID → 19, an unknown
    CUSTREF → 20 (so the connector's credential check, V with ORIGID=0, answers 19)
  ACCT not a pilot test card (000000000000000 and every other number) → 23
  EXPDATE not MMYY, or in the past (0298) → 24
  AMT up to 1000 → 0 (an A with AMT 0 is an account verification: RESPMSG Verified)
  AMT 1001-2000 → RESULT AMT-1000 when that code is in AMOUNT_RESULTS (1012 → 12, 1013 → 13,
    1005 → 5, 1103 → 103, 1104 → 104, 1112 → 112, 1114 → 114, 2000 → 1000, ...), otherwise 12
  AMT 2001 and above → 12
  credit an authorization → 105; void a captured authorization → 108; capture twice → 111
  BILLTOSTREET: the number made of its first (up to three) digits 0-333 → AVSADDR Y, 334-666 → N,
    667 and above or no leading digit → X, and X forces AVSZIP X
  BILLTOZIP: the first five digits 00000-50000 → AVSZIP Y, 50001-99999 → N, otherwise X
  CVV2 000 → no CVV2MATCH, 001-300 → Y, 301-600 → N, 601 and above → X
  IAVS is N for US (or no) country, Y for any other
Beyond the pilot, so that follow-ups stay true to the ledger: a capture above the authorization
→ 4 (live Payflow may re-authorize the difference instead), a credit beyond what is left of the
sale or capture → 105 (the pilot approves every credit), a void of a transaction with credits → 108,
a reference to a failed transaction → 120.

Inquiries (TRXTYPE I) answer ORIGRESULT, ORIGPNREF, AMT, CURRENCY and TRANSSTATE: 3 authorized,
9 authorization captured, 6 sale/capture/credit (settlement never runs here), 1 failed, 0 account
verification, +1000 once voided. Like Payflow, credits are transactions of their own, so the
credited sale still reads 6.

A repeated X-VPS-REQUEST-ID returns the first answer with DUPLICATE=1 and changes nothing.
`PAYPAL-NVP: Y` makes the answer length-tagged (`RESPMSG[8]=Approved`).

Faults (common.py): `hang` is applied after the transaction was processed and recorded, as when
PayPal charged the card and the answer got lost on the way back; an inquiry then finds it.
`error` and `malformed` answer before anything is processed.
"""

from collections.abc import Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from avnz.core import clock
from avnz.core.money import Money
from avnz.gateways.payflow.nvp import encode_nvp, parse_nvp
from avnz.gateways.payflow.payloads import format_amount
from avnz.gateways.payflow.sandbox.triggers import (
    BASE_TRANSSTATE,
    RESPMSG,
    SANDBOX_CREDENTIALS,
    TEST_CARDS,
    VOIDED_INCREMENT,
    Refused,
    amount_result,
    avs_fields,
    currency_of,
    cvv_fields,
    expiry_valid,
    money_of,
    same_value,
)
from avnz.gateways.sandbox.common import (
    Ledger,
    SandboxState,
    SandboxTxn,
    TxnState,
    alnum_ids,
    auth_code,
    gateway_endpoint,
    sandbox_app,
)
from avnz.gateways.sandbox.store import TEXT_CODEC, SandboxStore


class PayflowPilot:
    """Payflow's transaction rules over the sandbox ledger; one per app."""

    def __init__(self, state: SandboxState, credentials: Mapping[str, str]) -> None:
        self.state = state
        self.credentials = dict(credentials)
        # X-VPS-REQUEST-ID → PNREF of the first answer; a reset ledger forgets the PNREF, and
        # with it the replay.
        self.request_ids = state.ledger.store.records("payflow", "request_ids", TEXT_CODEC)
        self.handlers: dict[str, Callable[[dict[str, str]], SandboxTxn]] = {
            "S": lambda fields: self._payment("S", fields),
            "A": lambda fields: self._payment("A", fields),
            "D": self._capture,
            "V": self._void,
            "C": self._credit,
        }

    @property
    def ledger(self) -> Ledger:
        return self.state.ledger

    def answer(self, fields: dict[str, str], request_id: str | None) -> dict[str, str]:
        """The reply to one request; transactions (not inquiries) are recorded, failed or not."""
        try:
            self._authenticate(fields)
            trxtype = self._trxtype(fields)
            if trxtype == "I":
                return self._inquire(fields)
        except Refused as refusal:
            return refusal.reply(self.ledger.new_id())
        replayed = self._replay(request_id)
        if replayed is not None:
            return replayed
        try:
            txn = self.handlers[trxtype](fields)
        except Refused as refusal:
            txn = self._record_failure(trxtype, fields, refusal)
        if request_id:
            self.request_ids[request_id] = txn.id
        return dict(txn.extra["reply"])

    def _authenticate(self, fields: Mapping[str, str]) -> None:
        expected = self.credentials
        vendor_ok = same_value(fields.get("PARTNER"), expected["partner"]) and same_value(
            fields.get("VENDOR"), expected["vendor"]
        )
        if not vendor_ok:
            raise Refused(26)
        user = expected.get("user") or expected["vendor"]
        if not (
            same_value(fields.get("USER"), user)
            and same_value(fields.get("PWD"), expected["password"])
        ):
            raise Refused(1)

    def _trxtype(self, fields: Mapping[str, str]) -> str:
        if fields.get("TENDER", "").upper() != "C":
            raise Refused(2)
        trxtype = fields.get("TRXTYPE", "").upper()
        if trxtype != "I" and trxtype not in self.handlers:
            raise Refused(3)
        return trxtype

    def _replay(self, request_id: str | None) -> dict[str, str] | None:
        pnref = self.request_ids.get(request_id) if request_id else None
        txn = self.ledger.get(pnref) if pnref else None
        return None if txn is None else {**txn.extra["reply"], "DUPLICATE": "1"}

    def _original(self, fields: Mapping[str, str]) -> SandboxTxn:
        origid = fields.get("ORIGID")
        if not origid:
            raise Refused(7, "ORIGID is required")
        txn = self.ledger.get(origid)
        if txn is None:
            raise Refused(19)
        return txn

    def _card(self, fields: Mapping[str, str]) -> tuple[str, str]:
        """(last four, EXPDATE) of the card, or of the original of a reference transaction."""
        acct = fields.get("ACCT")
        if acct is None:
            original = self._original(fields)
            if original.state is TxnState.DECLINED:
                raise Refused(120)
            return original.card_last4 or "", str(original.extra.get("expdate", ""))
        if acct not in TEST_CARDS:
            raise Refused(23)
        expdate = fields.get("EXPDATE", "")
        if not expiry_valid(expdate):
            raise Refused(24)
        return acct[-4:], expdate

    # --- transactions ---

    def _payment(self, kind: str, fields: dict[str, str]) -> SandboxTxn:
        money = money_of(fields.get("AMT"), currency_of(fields))
        verification = kind == "A" and money.amount == 0
        if kind == "S" and money.amount == 0:
            raise Refused(4, "a sale needs an amount")
        last4, expdate = self._card(fields)
        result = 0 if verification else amount_result(money.to_decimal())
        approved = result == 0
        state = TxnState.CAPTURED if kind == "S" else TxnState.AUTHORIZED
        txn = SandboxTxn(
            id=self.ledger.new_id(),
            kind=kind,
            amount=money.amount,
            currency=money.currency,
            state=state if approved else TxnState.DECLINED,
            order_id=fields.get("CUSTREF"),
            card_last4=last4,
            captured=money.amount if approved and kind == "S" else 0,
            auth_code=auth_code() if approved else None,
            extra={"result": result, "expdate": expdate, "verification": verification},
        )
        reply = {
            "RESULT": str(result),
            "PNREF": txn.id,
            "RESPMSG": "Verified" if verification else RESPMSG[result],
        }
        if txn.auth_code:
            reply["AUTHCODE"] = txn.auth_code
        return self._keep(txn, reply | avs_fields(fields) | cvv_fields(fields), fields)

    def _capture(self, fields: dict[str, str]) -> SandboxTxn:
        auth = self._original(fields)
        if auth.state is TxnState.DECLINED:
            raise Refused(120)
        if auth.kind != "A" or auth.extra.get("verification"):
            raise Refused(111, "only an authorization can be captured")
        if auth.state is not TxnState.AUTHORIZED:
            raise Refused(111, f"the authorization is already {auth.state.value}")
        money = (
            money_of(fields["AMT"], auth.currency)
            if "AMT" in fields
            else Money(auth.amount, auth.currency)
        )
        if not 0 < money.amount <= auth.amount:
            raise Refused(4, "a capture must be above zero and within the authorization")
        auth.captured, auth.state = money.amount, TxnState.CAPTURED
        return self._follow_up("D", money, auth, TxnState.CAPTURED, fields)

    def _void(self, fields: dict[str, str]) -> SandboxTxn:
        target = self._original(fields)
        if target.kind == "V" or target.state in (TxnState.DECLINED, TxnState.VOIDED):
            raise Refused(108, f"the transaction is {target.state.value}")
        if target.kind == "A" and target.captured:
            raise Refused(108, "the authorization is captured; void or credit the capture")
        if target.refunded:
            raise Refused(108, "the transaction has credits")
        target.state = TxnState.VOIDED
        if target.kind == "C":
            self._reopen_credit(target)
        money = Money(target.amount, target.currency)
        return self._follow_up("V", money, target, TxnState.VOIDED, fields)

    def _reopen_credit(self, credit: SandboxTxn) -> None:
        """A voided credit gives its amount back to the sale or capture it credited."""
        parent = self.ledger.get(credit.parent_id or "")
        if parent is not None:
            parent.refunded -= credit.amount
            parent.state = TxnState.PARTIALLY_REFUNDED if parent.refunded else TxnState.CAPTURED

    def _credit(self, fields: dict[str, str]) -> SandboxTxn:
        if "ORIGID" not in fields:
            return self._unreferenced_credit(fields)
        original = self._original(fields)
        if original.kind == "A":
            raise Refused(105, "an authorization cannot be credited; credit its capture")
        if original.kind not in ("S", "D") or original.state in (
            TxnState.DECLINED,
            TxnState.VOIDED,
        ):
            raise Refused(105, "the transaction cannot be credited")
        money = (
            money_of(fields["AMT"], original.currency)
            if "AMT" in fields
            else Money(original.refundable, original.currency)
        )
        if money.amount == 0:
            raise Refused(4, "a credit needs an amount")
        if money.amount > original.refundable:
            raise Refused(105, "the amount exceeds what is left to credit")
        original.refunded += money.amount
        original.state = (
            TxnState.REFUNDED if original.refundable == 0 else TxnState.PARTIALLY_REFUNDED
        )
        return self._follow_up("C", money, original, TxnState.REFUNDED, fields)

    def _unreferenced_credit(self, fields: dict[str, str]) -> SandboxTxn:
        # The pilot approves every credit to a card, whatever the amount.
        money = money_of(fields.get("AMT"), currency_of(fields))
        last4, _ = self._card(fields)
        txn = SandboxTxn(
            id=self.ledger.new_id(),
            kind="C",
            amount=money.amount,
            currency=money.currency,
            state=TxnState.REFUNDED,
            card_last4=last4,
            extra={"result": 0},
        )
        return self._keep(txn, {"RESULT": "0", "PNREF": txn.id, "RESPMSG": "Approved"}, fields)

    def _follow_up(
        self,
        kind: str,
        money: Money,
        original: SandboxTxn,
        state: TxnState,
        fields: Mapping[str, str],
    ) -> SandboxTxn:
        txn = SandboxTxn(
            id=self.ledger.new_id(),
            kind=kind,
            amount=money.amount,
            currency=money.currency,
            state=state,
            card_last4=original.card_last4,
            captured=money.amount if kind == "D" else 0,
            auth_code=original.auth_code,
            parent_id=original.id,
            extra={"result": 0},
        )
        return self._keep(txn, {"RESULT": "0", "PNREF": txn.id, "RESPMSG": "Approved"}, fields)

    def _keep(
        self, txn: SandboxTxn, reply: dict[str, str], fields: Mapping[str, str]
    ) -> SandboxTxn:
        if fields.get("VERBOSITY", "").upper() == "HIGH":
            reply |= {
                "AMT": format_amount(txn.amount, txn.currency),
                "TRANSTIME": clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            }
        txn.extra["reply"] = reply
        return self.ledger.add(txn)

    def _record_failure(self, kind: str, fields: Mapping[str, str], refusal: Refused) -> SandboxTxn:
        # Payflow gives failed transactions a PNREF too, and an inquiry finds them.
        try:
            money = money_of(fields.get("AMT"), currency_of(fields))
        except Refused:
            money = Money(0, "USD")
        txn = SandboxTxn(
            id=self.ledger.new_id(),
            kind=kind,
            amount=money.amount,
            currency=money.currency,
            state=TxnState.DECLINED,
            order_id=fields.get("CUSTREF") if kind in ("S", "A") else None,
            card_last4=fields["ACCT"][-4:] if fields.get("ACCT") else None,
            parent_id=fields.get("ORIGID"),
            extra={"result": refusal.result},
        )
        txn.extra["reply"] = refusal.reply(txn.id)
        return self.ledger.add(txn)

    # --- inquiry ---

    def _inquire(self, fields: Mapping[str, str]) -> dict[str, str]:
        txn = self._lookup(fields)
        original = txn.extra["reply"]
        reply = {
            "RESULT": "0",
            "PNREF": txn.id,
            "RESPMSG": "Approved",
            "ORIGRESULT": str(txn.extra["result"]),
            "ORIGPNREF": txn.id,
            "TRANSSTATE": str(transstate(txn)),
            "AMT": format_amount(txn.amount, txn.currency),
            "CURRENCY": txn.currency,
        }
        copied = ("AUTHCODE", "AVSADDR", "AVSZIP", "IAVS", "CVV2MATCH")
        reply |= {name: original[name] for name in copied if name in original}
        if txn.order_id:
            reply["CUSTREF"] = txn.order_id
        return reply

    def _lookup(self, fields: Mapping[str, str]) -> SandboxTxn:
        if fields.get("ORIGID"):
            return self._original(fields)
        custref = fields.get("CUSTREF")
        if not custref:
            raise Refused(7, "ORIGID or CUSTREF is required")
        matches = self.ledger.by_order(custref)
        if not matches:
            raise Refused(20)
        return matches[-1]  # Payflow answers with the latest transaction of a CUSTREF


def transstate(txn: SandboxTxn) -> int:
    """The TRANSSTATE an inquiry reports for a ledger entry (voids add 1000)."""
    if txn.state is TxnState.DECLINED:
        return 1
    if txn.kind == "A":
        base = 0 if txn.extra.get("verification") else 9 if txn.captured else 3
    else:
        base = BASE_TRANSSTATE.get(txn.kind, 0)
    voided = txn.state is TxnState.VOIDED and txn.kind != "V"
    return base + VOIDED_INCREMENT if voided else base


# --- HTTP ------------------------------------------------------------------------------------


def encode_reply(reply: Mapping[str, str], tagged: bool) -> str:
    """A reply in NVP; length-tagged when the request asked with PAYPAL-NVP: Y."""
    if tagged:
        return "&".join(f"{name}[{len(value)}]={value}" for name, value in reply.items())
    return encode_nvp(reply)


def create_app(
    credentials: Mapping[str, str] | None = None, *, store: SandboxStore | None = None
) -> Starlette:
    """The sandbox app: `POST /` speaks Payflow NVP; `/_sandbox/*` controls faults and state
    (kept in `store`, by default the one in effect: `store.current()`)."""
    state = SandboxState(ledger=Ledger.stored("payflow", alnum_ids(prefix="E", length=11), store))
    pilot = PayflowPilot(state, credentials or SANDBOX_CREDENTIALS)

    async def transact(request: Request) -> Response:
        body = await request.body()
        with state.ledger.store.unit():
            try:
                fields = parse_nvp(body.decode("utf-8"))
            except ValueError:
                reply = Refused(7, "the body is not name-value pairs").reply(pilot.ledger.new_id())
            else:
                reply = pilot.answer(fields, request.headers.get("X-VPS-REQUEST-ID"))
        tagged = request.headers.get("PAYPAL-NVP", "").upper() == "Y"
        return Response(encode_reply(reply, tagged), media_type="text/namevalue")

    return sandbox_app(state, [Route("/", gateway_endpoint(state, transact), methods=["POST"])])
