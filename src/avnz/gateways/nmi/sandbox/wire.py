"""NMI's wire as the sandbox writes it: Payment API answers (a query string, always HTTP 200,
errors with a changing REFID), the request's fields, amounts, the actions a transaction lists
and the Query API's XML.
"""

import secrets
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import Response

from avnz.core import clock
from avnz.core.money import Money
from avnz.gateways.sandbox.common import SandboxTxn, TxnState

Fields = dict[str, str]


def reply(
    fields: Fields,
    response: str,
    text: str,
    code: str,
    *,
    txn_id: str = "",
    authcode: str = "",
    avs: str = "",
    cvv: str = "",
) -> Response:
    """An answer in NMI's shape: always HTTP 200, a query string, fields in NMI's order."""
    body = urlencode(
        {
            "response": response,
            "responsetext": text,
            "authcode": authcode,
            "transactionid": txn_id,
            "avsresponse": avs,
            "cvvresponse": cvv,
            "orderid": fields.get("orderid", ""),
            "type": fields.get("type", ""),
            "response_code": code,
        }
    )
    return Response(body, media_type="text/html; charset=UTF-8")


def error_reply(fields: Fields, text: str, *, txn_id: str = "") -> Response:
    # Real errors end in a reference number that changes on every call.
    refid = 3_000_000_000 + secrets.randbelow(1_000_000_000)
    return reply(fields, "3", f"{text} REFID:{refid}", "300", txn_id=txn_id)


def approved_reply(
    fields: Fields, txn: SandboxTxn, text: str = "SUCCESS", **extra: str
) -> Response:
    return reply(fields, "1", text, "100", txn_id=txn.id, **extra)


async def read_fields(request: Request) -> Fields:
    """Query string and form body together, first value wins, as PHP's $_REQUEST would."""
    body = (await request.body()).decode("utf-8", errors="replace")
    merged = dict(request.query_params)
    merged.update({k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()})
    return merged


def parse_money(text: str | None, currency: str) -> Money | None:
    """A decimal amount in major units, or None when it is not a valid amount."""
    try:
        value = Decimal(text or "")
        money = Money.from_decimal(value, currency)
    except (InvalidOperation, ValueError):
        return None
    return money if money.amount >= 0 else None


def dollars(amount: int, currency: str) -> str:
    return f"{Money(amount, currency).to_decimal():f}"


def add_action(txn: SandboxTxn, action_type: str, amount: int, success: bool, text: str) -> None:
    txn.extra.setdefault("actions", []).append(
        {
            "amount": dollars(amount, txn.currency),
            "action_type": action_type,
            "date": clock.now().strftime("%Y%m%d%H%M%S"),
            "success": "1" if success else "0",
            "response_text": text,
            "response_code": "100" if success else "200",
        }
    )


def condition_of(txn: SandboxTxn) -> str:
    """The Query API's condition of a transaction."""
    if txn.state is TxnState.DECLINED:
        return "failed"
    if txn.state is TxnState.VOIDED:
        return "canceled"
    if txn.kind == "auth" and txn.state is TxnState.AUTHORIZED:
        return "pending"
    return "complete" if txn.extra.get("settled") else "pendingsettlement"


def transaction_xml(root: ET.Element, txn: SandboxTxn, refunds: list[dict[str, str]]) -> None:
    element = ET.SubElement(root, "transaction")
    for tag, value in (
        ("transaction_id", txn.id),
        ("condition", condition_of(txn)),
        ("order_id", txn.order_id or ""),
        ("authorization_code", txn.auth_code or ""),
        ("currency", txn.currency),
        ("cc_number", f"{'x' * 12}{txn.card_last4}" if txn.card_last4 else ""),
    ):
        ET.SubElement(element, tag).text = value
    for action in [*txn.extra.get("actions", []), *refunds]:
        node = ET.SubElement(element, "action")
        for tag, value in action.items():
            ET.SubElement(node, tag).text = value


def xml_answer(root: ET.Element) -> Response:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return Response(body, media_type="text/xml; charset=UTF-8")
