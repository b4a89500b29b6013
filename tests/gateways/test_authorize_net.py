"""Authorize.Net: the wire mapping on sample messages, then every operation, test trigger and
outcome class against the local sandbox over real loopback HTTP (and a few in-process via ASGI)."""

import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from avnz.core.logging import configure_logging
from avnz.gateways.authorize_net import payloads as an
from avnz.gateways.authorize_net.connector import AuthorizeNetConnector
from avnz.gateways.authorize_net.payloads import (
    invoice_number,
    to_authenticate_payload,
    to_authorize_payload,
    to_capture_payload,
    to_details_payload,
    to_refund_payload,
    to_sale_payload,
    to_unsettled_list_payload,
    to_void_payload,
    wire_amount,
)
from avnz.gateways.authorize_net.responses import (
    from_authenticate_response,
    from_details_response,
    from_payment_response,
    from_unsettled_list_response,
)
from avnz.gateways.authorize_net.sandbox import create_app
from avnz.gateways.authorize_net.sandbox.tables import SANDBOX_CREDENTIALS, SEQUENCES
from avnz.gateways.authorize_net.sandbox.wire import sequence_problem
from avnz.gateways.base import (
    Address,
    AvsResult,
    CaptureRequest,
    Card,
    ConnectorConfig,
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
    Timeouts,
    VoidRequest,
)
from avnz.gateways.sandbox import common
from tests.support.live_server import free_port, live_server

SAMPLES = Path(__file__).parent / "samples"
BOM = b"\xef\xbb\xbf"
VISA = "4111111111111111"
API = "/xml/v1/request.api"
AUTH = {"name": SANDBOX_CREDENTIALS["api_login_id"], "transactionKey": "SandboxKey000001"}


def sample(name: str) -> bytes:
    return (SAMPLES / f"authorize_net_{name}.txt").read_bytes().strip()


def reply(body: bytes, *, bom: bool = True, status: int = 200) -> HttpReply:
    """A gateway answer as the transport hands it over; the real gateway always sends a BOM."""
    return HttpReply(status, httpx.Headers(), (BOM if bom else b"") + body, 12.5)


def card(number: str = VISA, cvv: str | None = "123", exp_year: int = 2030) -> Card:
    return Card(number=number, exp_month=12, exp_year=exp_year, cvv=cvv, holder_name="Ada L")


def order_id() -> str:
    # Shaped like our ids (prefix + 26 chars), longer than invoiceNumber's 20.
    return f"txn_{uuid.uuid4().hex[:26]}"


def payment(amount: int = 1000, **fields: Any) -> PaymentRequest:
    fields.setdefault("card", None if "token" in fields else card())
    fields.setdefault("order_id", order_id())
    return PaymentRequest(amount=amount, currency=fields.pop("currency", "USD"), **fields)


def at_zip(postal_code: str) -> Address:
    return Address(
        first_name="Ellen", last_name="Johnson", line1="14 Main St", postal_code=postal_code
    )


def connector(
    http: httpx.AsyncClient,
    url: str,
    *,
    credentials: dict[str, str] = SANDBOX_CREDENTIALS,
    read: float = 5.0,
) -> AuthorizeNetConnector:
    config = ConnectorConfig(
        credentials=credentials, base_url=url, timeouts=Timeouts(connect=1, read=read)
    )
    return AuthorizeNetConnector(config, http)


def assert_declined(
    result: GatewayResult, outcome: Outcome, reason: DeclineReason, retryable: bool
) -> None:
    assert (result.outcome, result.decline_reason, result.retryable) == (
        outcome,
        reason,
        retryable,
    )
    assert not result.approved


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """One sandbox on a real loopback port for the module; each test resets it."""
    with live_server(create_app()) as url:
        yield url


@pytest.fixture
def url(live_url: str) -> str:
    httpx.post(f"{live_url}/_sandbox/reset").raise_for_status()
    return live_url


@pytest.fixture
def anet(http: httpx.AsyncClient, url: str) -> AuthorizeNetConnector:
    return connector(http, url)


@pytest.fixture
async def wire() -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to a fresh sandbox in-process, for raw wire messages."""
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://anet.sandbox") as client:
        yield client


def set_fault(url: str, mode: str, count: int | None = 1, delay_ms: int = 0) -> None:
    fault = {"mode": mode, "count": count, "delay_ms": delay_ms}
    httpx.post(f"{url}/_sandbox/faults", json=fault).raise_for_status()


def ledger(url: str) -> list[dict[str, Any]]:
    transactions: list[dict[str, Any]] = httpx.get(f"{url}/_sandbox/transactions").json()
    return transactions


def settle(url: str) -> int:
    settled: int = httpx.post(f"{url}/_sandbox/settle").json()["settled"]
    return settled


async def post_raw(client: httpx.AsyncClient, document: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(API, json=document)
    assert response.status_code == 200
    assert response.content.startswith(BOM)
    parsed: dict[str, Any] = json.loads(response.content.decode("utf-8-sig"))
    return parsed


def raw_transaction(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "createTransactionRequest": {"merchantAuthentication": AUTH, "transactionRequest": request}
    }


# --- 1. payloads and transformers on sample wire messages (no network) -------------------------


def test_amounts_go_out_as_decimal_strings_from_minor_units() -> None:
    assert wire_amount(1234, "USD") == "12.34"
    assert wire_amount(5, "USD") == "0.05"
    assert wire_amount(100000, "USD") == "1000.00"


def test_invoice_number_keeps_the_unique_tail_of_long_order_ids() -> None:
    assert invoice_number("txn_01jd8x2k7q9r4s6t8v0wabcdef") == "2k7q9r4s6t8v0wabcdef"
    assert invoice_number("short-order") == "short-order"


def test_sale_payload_in_xsd_order_with_card_billing_and_invoice() -> None:
    request = payment(
        1234,
        billing=Address("Ada", "Lovelace", line1="1 Loop", line2="Apt 2", postal_code="46201"),
        email="ada@example.com",
        ip_address="203.0.113.9",
        customer_id="cus_01jd8x2k7q9r4s6t8v0wabcdef",
        description="Monthly box",
        metadata={"campaign": "spring"},
    )
    body = to_sale_payload(request, SANDBOX_CREDENTIALS)["createTransactionRequest"]
    assert list(body) == ["merchantAuthentication", "transactionRequest"]
    txn = body["transactionRequest"]
    assert list(txn) == [
        "transactionType",
        "amount",
        "currencyCode",
        "payment",
        "order",
        "customer",
        "billTo",
        "customerIP",
        "userFields",
    ]
    assert (txn["transactionType"], txn["amount"], txn["currencyCode"]) == (
        "authCaptureTransaction",
        "12.34",
        "USD",
    )
    assert txn["payment"] == {
        "creditCard": {"cardNumber": VISA, "expirationDate": "2030-12", "cardCode": "123"}
    }
    assert txn["order"] == {
        "invoiceNumber": invoice_number(request.order_id),
        "description": "Monthly box",
    }
    assert txn["customer"] == {"id": "2k7q9r4s6t8v0wabcdef", "email": "ada@example.com"}
    assert txn["billTo"]["address"] == "1 Loop Apt 2"
    assert list(txn["billTo"]) == ["firstName", "lastName", "address", "zip"]
    assert txn["userFields"] == {"userField": [{"name": "campaign", "value": "spring"}]}
    assert "transactionSettings" not in txn  # the gateway's duplicate filter stays on
    assert sequence_problem("createTransactionRequest", body) is None


def test_every_payload_passes_the_sandbox_xsd_order_check() -> None:
    creds = SANDBOX_CREDENTIALS
    payloads = [
        to_sale_payload(payment(token="eyJhbGciOi.nonce"), creds),
        to_authorize_payload(payment(card=card(cvv=None)), creds),
        to_capture_payload(CaptureRequest("40000000001", 500, "USD"), creds),
        to_capture_payload(CaptureRequest("40000000001", None, "USD"), creds),
        to_void_payload(VoidRequest("40000000001"), creds),
        to_refund_payload(
            RefundRequest("40000000001", 300, "USD", order_id=order_id(), reason="damaged"),
            creds,
            amount=300,
            card_last4="1111",
        ),
        to_authenticate_payload(creds),
        to_details_payload("40000000001", creds),
        to_unsettled_list_payload(creds, page=2),
    ]
    for document in payloads:
        (method, content), *_ = document.items()
        assert method in SEQUENCES
        assert sequence_problem(method, content) is None, document


def test_authorize_without_cvv_and_capture_without_amount_leave_the_fields_out() -> None:
    auth = to_authorize_payload(payment(card=card(cvv=None)), SANDBOX_CREDENTIALS)
    txn = auth["createTransactionRequest"]["transactionRequest"]
    assert txn["transactionType"] == "authOnlyTransaction"
    assert "cardCode" not in txn["payment"]["creditCard"]
    capture = to_capture_payload(CaptureRequest("4001", None, "USD"), SANDBOX_CREDENTIALS)
    assert capture["createTransactionRequest"]["transactionRequest"] == {
        "transactionType": "priorAuthCaptureTransaction",
        "refTransId": "4001",
    }


def test_refund_payload_carries_only_the_last_four_digits() -> None:
    request = RefundRequest("4001", 250, "USD")
    payload = to_refund_payload(request, SANDBOX_CREDENTIALS, amount=250, card_last4="1111")
    txn = payload["createTransactionRequest"]["transactionRequest"]
    assert txn["payment"] == {"creditCard": {"cardNumber": "1111", "expirationDate": "XXXX"}}
    assert (txn["amount"], txn["refTransId"]) == ("2.50", "4001")
    assert VISA not in json.dumps(payload)


def test_token_is_sent_as_accept_js_opaque_data() -> None:
    txn = to_sale_payload(payment(token="nonce-123"), SANDBOX_CREDENTIALS)
    assert txn["createTransactionRequest"]["transactionRequest"]["payment"] == {
        "opaqueData": {"dataDescriptor": "COMMON.ACCEPT.INAPP.PAYMENT", "dataValue": "nonce-123"}
    }


@pytest.mark.parametrize("address", ["2001:db8::1", "not-an-ip", ""])
def test_anything_but_an_ipv4_address_is_left_out(address: str) -> None:
    txn = to_sale_payload(payment(ip_address=address), SANDBOX_CREDENTIALS)
    assert "customerIP" not in txn["createTransactionRequest"]["transactionRequest"]


def test_sample_approved_with_bom() -> None:
    result = from_payment_response(Operation.SALE, reply(sample("sale_approved")), 1234)
    assert result.outcome is Outcome.APPROVED
    assert (result.transaction_id, result.auth_code, result.amount) == (
        "2157047189",
        "HW617E",
        1234,
    )
    assert (result.avs, result.cvv) == (AvsResult.MATCH, CvvResult.NOT_PROCESSED)
    assert (result.raw_code, result.raw_message) == ("1", "This transaction has been approved.")
    assert result.latency_ms == 12.5


def test_sample_approved_without_bom_reads_the_same() -> None:
    with_bom = from_payment_response(Operation.SALE, reply(sample("sale_approved")), 1234)
    without = from_payment_response(Operation.SALE, reply(sample("sale_approved"), bom=False), 1234)
    assert with_bom == without


def test_sample_declined_keeps_the_transaction_id() -> None:
    result = from_payment_response(Operation.SALE, reply(sample("declined")), 2500)
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True)
    assert result.transaction_id == "40033640196"
    assert (result.avs, result.cvv) == (AvsResult.POSTAL_ONLY, CvvResult.MATCH)
    assert result.amount is None
    assert (result.raw_code, result.raw_message) == ("2", "This transaction has been declined.")


def test_sample_error_is_a_hard_decline_without_transaction() -> None:
    result = from_payment_response(Operation.SALE, reply(sample("error_invalid_card")))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_CARD, False)
    assert result.transaction_id is None  # transId "0": nothing was stored
    assert not result.charge_may_exist


def test_sample_bad_credentials_is_a_config_error() -> None:
    result = from_payment_response(Operation.SALE, reply(sample("bad_credentials")))
    assert result.outcome is Outcome.CONFIG_ERROR
    assert result.raw_code == "E00007"
    assert result.decline_reason is None
    assert result.retryable  # another account may take the card
    assert not result.charge_may_exist


def test_sample_already_captured_is_not_an_approval_despite_response_code_1() -> None:
    result = from_payment_response(Operation.CAPTURE, reply(sample("already_captured")), 500)
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)
    assert result.raw_code == "311"
    assert result.amount is None


def test_sample_held_for_review_is_neither_approval_nor_decline() -> None:
    result = from_payment_response(Operation.SALE, reply(sample("held_for_review")), 1000)
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.decline_reason is DeclineReason.PROCESSING_ERROR  # as Payflow's review codes
    assert result.charge_may_exist  # money may move once reviewed
    assert not result.retryable  # so never charge elsewhere meanwhile
    assert (result.transaction_id, result.raw_code) == ("40033640302", "252")


def test_sample_key_order_error_is_an_invalid_request() -> None:
    result = from_payment_response(Operation.SALE, reply(sample("key_order_error")))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_REQUEST, False)
    assert result.raw_code == "E00003"
    assert result.raw_message is not None
    assert len(result.raw_message) <= 200


def test_a_card_number_quoted_in_an_error_never_reaches_the_result() -> None:
    body = json.dumps(
        {
            "messages": {
                "resultCode": "Error",
                "message": [{"code": "E00003", "text": f"The value '{VISA}' is invalid."}],
            }
        }
    ).encode()
    result = from_payment_response(Operation.SALE, reply(body))
    assert result.raw_message is not None
    assert VISA not in result.raw_message
    assert "1111" in result.raw_message  # masked, not dropped


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (502, b"<html><body>502 Bad Gateway</body></html>", DeclineReason.PROCESSING_ERROR),
        (429, b"slow down", DeclineReason.RATE_LIMITED),
        (200, b"\x00\xffnot-a-gateway-answer{{", DeclineReason.PROCESSING_ERROR),
        (200, b'{"transactionResponse": {"responseCode": "1"}}', DeclineReason.PROCESSING_ERROR),
        (200, b"[1, 2, 3]", DeclineReason.PROCESSING_ERROR),
    ],
)
def test_unreadable_replies_are_gateway_errors_where_a_charge_may_exist(
    status: int, body: bytes, reason: DeclineReason
) -> None:
    result = from_payment_response(Operation.SALE, reply(body, status=status), 1000)
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.decline_reason is reason
    assert result.charge_may_exist
    assert result.raw_code == str(status)


def test_an_unknown_response_code_is_never_success() -> None:
    body = sample("sale_approved").replace(b'"responseCode": "1"', b'"responseCode": "7"')
    result = from_payment_response(Operation.SALE, reply(body), 1000)
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.charge_may_exist


def test_processing_error_message_is_a_gateway_error() -> None:
    body = b'{"messages": {"resultCode": "Error", "message": [{"code": "E00001", "text": "x"}]}}'
    result = from_payment_response(Operation.SALE, reply(body))
    assert (result.outcome, result.retryable) == (Outcome.GATEWAY_ERROR, True)
    assert result.charge_may_exist


@pytest.mark.parametrize(
    ("response_code", "reason_code", "outcome", "reason"),
    [
        ("2", "2", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE),
        ("2", "3", Outcome.HARD_DECLINE, DeclineReason.CALL_ISSUER),
        ("2", "4", Outcome.HARD_DECLINE, DeclineReason.STOLEN_OR_LOST),
        ("3", "8", Outcome.HARD_DECLINE, DeclineReason.EXPIRED_CARD),
        ("3", "11", Outcome.HARD_DECLINE, DeclineReason.DUPLICATE_TRANSACTION),
        ("3", "19", Outcome.SOFT_DECLINE, DeclineReason.PROCESSING_ERROR),
        ("2", "27", Outcome.HARD_DECLINE, DeclineReason.AVS_MISMATCH),
        ("2", "44", Outcome.HARD_DECLINE, DeclineReason.INVALID_CVV),
        ("3", "47", Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT),
        ("3", "54", Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE),
        ("3", "55", Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT),
        ("2", "250", Outcome.HARD_DECLINE, DeclineReason.FRAUD_SUSPECTED),
        ("2", "999", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE),  # unknown decline
        ("3", "999", Outcome.SOFT_DECLINE, DeclineReason.PROCESSING_ERROR),  # unknown error
        ("1", "310", Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE),
    ],
)
def test_reason_codes_classify_declines(
    response_code: str, reason_code: str, outcome: Outcome, reason: DeclineReason
) -> None:
    key = "messages" if response_code == "1" else "errors"
    entry = (
        {"code": reason_code, "description": "x"}
        if key == "messages"
        else {"errorCode": reason_code, "errorText": "x"}
    )
    body = json.dumps(
        {
            "transactionResponse": {"responseCode": response_code, "transId": "0", key: [entry]},
            "messages": {"resultCode": "Error", "message": [{"code": "E00027", "text": "x"}]},
        }
    ).encode()
    result = from_payment_response(Operation.SALE, reply(body), 1000)
    assert (result.outcome, result.decline_reason) == (outcome, reason)


def test_processor_setup_reason_is_a_config_error() -> None:
    body = json.dumps(
        {
            "transactionResponse": {
                "responseCode": "3",
                "errors": [{"errorCode": "35", "errorText": "Call Merchant Service Provider."}],
            },
            "messages": {"resultCode": "Error", "message": [{"code": "E00027", "text": "x"}]},
        }
    ).encode()
    assert from_payment_response(Operation.SALE, reply(body)).outcome is Outcome.CONFIG_ERROR


def test_sample_authenticate_ok_and_bad_credentials() -> None:
    ok = from_authenticate_response(reply(sample("authenticate_ok")))
    assert (ok.operation, ok.outcome, ok.raw_code) == (
        Operation.VERIFY,
        Outcome.APPROVED,
        "I00001",
    )
    bad = from_authenticate_response(reply(sample("bad_credentials")))
    assert (bad.operation, bad.outcome) == (Operation.VERIFY, Outcome.CONFIG_ERROR)


def test_sample_details_reads_exact_amount_and_state() -> None:
    result = from_details_response(reply(sample("details_settled")))
    assert (result.outcome, result.state) == (Outcome.APPROVED, GatewayState.CAPTURED)
    assert (result.transaction_id, result.amount, result.auth_code) == (
        "40033641007",
        101888,  # 1018.88 as a JSON number, read exactly
        "JQ8KD2",
    )
    assert (result.avs, result.cvv) == (AvsResult.MATCH, CvvResult.MATCH)
    assert result.raw_code == "settledSuccessfully"


def test_sample_details_not_found() -> None:
    result = from_details_response(reply(sample("details_not_found")))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)
    assert result.state is GatewayState.NOT_FOUND
    assert result.raw_code == "E00040"


def test_sample_unsettled_list_prefers_the_payment_that_holds_money() -> None:
    # Newest first: a refund, the captured sale, a declined first try, another order.
    result, more = from_unsettled_list_response(
        reply(sample("unsettled_list")), "txn_aaaa01jd8x2k7q9r4s6t8v0w"
    )
    assert (result.outcome, result.state) == (Outcome.APPROVED, GatewayState.CAPTURED)
    assert (result.transaction_id, result.amount) == ("40033642431", 2500)
    assert more is False


def test_sample_unsettled_list_without_match_or_empty_is_not_found() -> None:
    for name in ("unsettled_list", "unsettled_empty"):
        result, more = from_unsettled_list_response(reply(sample(name)), "txn_nothing-like-it")
        assert result.state is GatewayState.NOT_FOUND
        assert result.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND
        assert more is False  # neither page was full


def test_credentials_schema_describes_both_fields_and_hides_the_key() -> None:
    schema = AuthorizeNetConnector.credentials_schema
    assert schema["required"] == ["api_login_id", "transaction_key"]
    assert schema["additionalProperties"] is False
    fields = schema["properties"]
    assert all(f["title"] and f["description"] for f in fields.values())
    assert fields["transaction_key"]["writeOnly"] is True
    assert "writeOnly" not in fields["api_login_id"]
    assert AuthorizeNetConnector.name == "authorize_net"
    assert AuthorizeNetConnector.base_urls == {
        Environment.SANDBOX: "https://apitest.authorize.net",
        Environment.PRODUCTION: "https://api.authorize.net",
    }


# --- 2. every operation over real loopback HTTP ------------------------------------------------


async def test_sale_approved_over_http(anet: AuthorizeNetConnector) -> None:
    result = await anet.sale(payment(1999, billing=at_zip("10001")))
    assert result.outcome is Outcome.APPROVED
    assert (result.operation, result.amount) == (Operation.SALE, 1999)
    assert result.transaction_id is not None and result.transaction_id.isdigit()
    assert result.auth_code is not None and len(result.auth_code) == 6
    assert (result.avs, result.cvv) == (AvsResult.MATCH, CvvResult.MATCH)
    found = await anet.inquire(InquireRequest(transaction_id=result.transaction_id))
    assert (found.state, found.amount, found.raw_code) == (
        GatewayState.CAPTURED,
        1999,
        "capturedPendingSettlement",
    )


async def test_authorize_then_full_capture_over_http(anet: AuthorizeNetConnector) -> None:
    auth = await anet.authorize(payment(4200))
    assert auth.outcome is Outcome.APPROVED
    assert auth.transaction_id is not None
    found = await anet.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert found.state is GatewayState.AUTHORIZED
    capture = await anet.capture(CaptureRequest(auth.transaction_id, None, "USD"))
    assert capture.outcome is Outcome.APPROVED
    assert capture.transaction_id == auth.transaction_id  # the capture updates the same txn
    found = await anet.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert (found.state, found.amount) == (GatewayState.CAPTURED, 4200)


async def test_void_of_an_authorization_over_http(anet: AuthorizeNetConnector) -> None:
    auth = await anet.authorize(payment(800))
    assert auth.transaction_id is not None
    void = await anet.void(VoidRequest(auth.transaction_id))
    assert void.outcome is Outcome.APPROVED
    found = await anet.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert found.state is GatewayState.VOIDED


async def test_refund_of_a_settled_sale_over_http(anet: AuthorizeNetConnector, url: str) -> None:
    sale = await anet.sale(payment(3000))
    assert sale.transaction_id is not None
    assert settle(url) == 1
    refund = await anet.refund(RefundRequest(sale.transaction_id, 1000, "USD", card_last4="1111"))
    assert (refund.outcome, refund.amount) == (Outcome.APPROVED, 1000)
    assert refund.transaction_id not in (None, sale.transaction_id)
    assert refund.transaction_id is not None
    found = await anet.inquire(InquireRequest(transaction_id=refund.transaction_id))
    assert (found.state, found.amount) == (GatewayState.REFUNDED, 1000)


async def test_refund_without_amount_or_last4_reads_them_from_the_original(
    anet: AuthorizeNetConnector, url: str
) -> None:
    sale = await anet.sale(payment(2750, card=card("5424000000000015")))
    assert sale.transaction_id is not None
    settle(url)
    refund = await anet.refund(RefundRequest(sale.transaction_id, None, "USD"))
    assert (refund.outcome, refund.amount) == (Outcome.APPROVED, 2750)


async def test_refund_lookup_of_an_unknown_transaction_is_not_found(
    anet: AuthorizeNetConnector,
) -> None:
    result = await anet.refund(RefundRequest("40999999999", None, "USD"))
    assert result.operation is Operation.REFUND
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)


async def test_verify_checks_credentials_over_http(http: httpx.AsyncClient, url: str) -> None:
    assert (await connector(http, url).verify()).outcome is Outcome.APPROVED
    wrong = connector(http, url, credentials={**SANDBOX_CREDENTIALS, "transaction_key": "X" * 16})
    result = await wrong.verify()
    assert (result.outcome, result.raw_code) == (Outcome.CONFIG_ERROR, "E00007")


async def test_inquire_by_order_id_over_http(anet: AuthorizeNetConnector) -> None:
    request = payment(1500)
    sale = await anet.sale(request)
    await anet.sale(payment(900))  # another order must not be picked
    found = await anet.inquire(InquireRequest(order_id=request.order_id))
    assert (found.outcome, found.state, found.transaction_id, found.amount) == (
        Outcome.APPROVED,
        GatewayState.CAPTURED,
        sale.transaction_id,
        1500,
    )


async def test_inquire_prefers_the_approved_retry_over_an_earlier_decline(
    anet: AuthorizeNetConnector,
) -> None:
    first = payment(1500, billing=at_zip("46282"))
    declined = await anet.sale(first)
    assert declined.outcome is Outcome.SOFT_DECLINE
    approved = await anet.sale(payment(1600, order_id=first.order_id))
    found = await anet.inquire(InquireRequest(order_id=first.order_id))
    assert (found.state, found.transaction_id) == (GatewayState.CAPTURED, approved.transaction_id)


async def test_inquire_finds_a_declined_attempt(anet: AuthorizeNetConnector) -> None:
    request = payment(1500, billing=at_zip("46282"))
    declined = await anet.sale(request)
    found = await anet.inquire(InquireRequest(order_id=request.order_id))
    assert (found.outcome, found.state) == (Outcome.APPROVED, GatewayState.DECLINED)
    assert found.transaction_id == declined.transaction_id


async def test_inquire_of_unknown_id_or_order_is_not_found(anet: AuthorizeNetConnector) -> None:
    await anet.sale(payment(100))
    for request in (InquireRequest(transaction_id="40999999999"), InquireRequest(order_id="x")):
        result = await anet.inquire(request)
        assert result.state is GatewayState.NOT_FOUND
        assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)


async def test_operations_in_process_through_asgi() -> None:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport) as client:
        anet = connector(client, "http://anet.sandbox")
        auth = await anet.authorize(payment(5000))
        assert auth.outcome is Outcome.APPROVED
        assert auth.transaction_id is not None
        capture = await anet.capture(CaptureRequest(auth.transaction_id, 3000, "USD"))
        assert (capture.outcome, capture.amount) == (Outcome.APPROVED, 3000)
        found = await anet.inquire(InquireRequest(transaction_id=auth.transaction_id))
        assert (found.state, found.amount) == (GatewayState.CAPTURED, 3000)
        assert (await anet.verify()).outcome is Outcome.APPROVED


# --- 3. documented test triggers -------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "4007000000027",
        "4012888818888",
        "4111111111111111",
        "5424000000000015",
        "2223000010309703",
        "2223000010309711",
        "370000000000002",
        "6011000000000012",
        "3088000000000017",
        "38000000000006",
    ],
)
async def test_guide_test_cards_are_approved(anet: AuthorizeNetConnector, number: str) -> None:
    cvv = "1234" if number.startswith("37") else "123"
    result = await anet.sale(payment(1000, card=card(number, cvv)))
    assert result.outcome is Outcome.APPROVED
    assert result.cvv is CvvResult.MATCH


async def test_zip_46282_is_declined(anet: AuthorizeNetConnector) -> None:
    result = await anet.sale(payment(1000, billing=at_zip("46282")))
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True)
    assert result.raw_code == "2"
    assert result.transaction_id is not None  # a decline is still a gateway transaction


@pytest.mark.parametrize(
    ("zip_code", "avs"),
    [
        ("46201", AvsResult.ADDRESS_ONLY),  # A
        ("46203", AvsResult.UNAVAILABLE),  # E
        ("46204", AvsResult.UNAVAILABLE),  # G
        ("46205", AvsResult.NO_MATCH),  # N
        ("46206", AvsResult.UNAVAILABLE),  # P
        ("46207", AvsResult.UNAVAILABLE),  # R
        ("46208", AvsResult.UNAVAILABLE),  # S
        ("46209", AvsResult.UNAVAILABLE),  # U
        ("46211", AvsResult.POSTAL_ONLY),  # W
        ("46214", AvsResult.MATCH),  # X
        ("46217", AvsResult.POSTAL_ONLY),  # Z
        ("90210", AvsResult.MATCH),  # Y: any other address
    ],
)
async def test_avs_zip_triggers(anet: AuthorizeNetConnector, zip_code: str, avs: AvsResult) -> None:
    result = await anet.sale(payment(1000, billing=at_zip(zip_code)))
    assert (result.outcome, result.avs) == (Outcome.APPROVED, avs)


async def test_avs_codes_on_the_wire(wire: httpx.AsyncClient) -> None:
    expected = {"46201": "A", "46205": "N", "46211": "W", "46214": "X", "46217": "Z"}
    for zip_code, code in expected.items():
        answer = await post_raw(
            wire,
            raw_transaction(
                {
                    "transactionType": "authOnlyTransaction",
                    "amount": f"1.{zip_code[-2:]}",
                    "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-12"}},
                    "billTo": {"zip": zip_code},
                }
            ),
        )
        assert answer["transactionResponse"]["avsResultCode"] == code
    no_address = await post_raw(
        wire,
        raw_transaction(
            {
                "transactionType": "authOnlyTransaction",
                "amount": "2.00",
                "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-12"}},
            }
        ),
    )
    assert no_address["transactionResponse"]["avsResultCode"] == "B"
    assert no_address["transactionResponse"]["cvvResultCode"] == ""


@pytest.mark.parametrize(
    ("cvv", "expected"),
    [
        ("900", CvvResult.MATCH),
        ("901", CvvResult.NO_MATCH),
        ("902", CvvResult.NOT_PROVIDED),
        ("903", CvvResult.UNAVAILABLE),
        ("904", CvvResult.NOT_PROCESSED),
        (None, CvvResult.UNAVAILABLE),
    ],
)
async def test_card_code_triggers(
    anet: AuthorizeNetConnector, cvv: str | None, expected: CvvResult
) -> None:
    result = await anet.sale(payment(1000, card=card(cvv=cvv)))
    assert (result.outcome, result.cvv) == (Outcome.APPROVED, expected)


@pytest.mark.parametrize("zip_code", ["46225", "46226", "46227", "46228"])
async def test_partial_auth_zips_decline_when_partial_auth_is_not_asked(
    anet: AuthorizeNetConnector, zip_code: str
) -> None:
    result = await anet.authorize(payment(1000, billing=at_zip(zip_code)))
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True)


@pytest.mark.parametrize(("zip_code", "approved"), [("46225", "2.00"), ("46228", "8.00")])
async def test_partial_auth_zips_approve_a_share_when_allowed(
    wire: httpx.AsyncClient, zip_code: str, approved: str
) -> None:
    answer = await post_raw(
        wire,
        raw_transaction(
            {
                "transactionType": "authCaptureTransaction",
                "amount": "10.00",
                "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-12"}},
                "billTo": {"zip": zip_code},
                "transactionSettings": {
                    "setting": [{"settingName": "allowPartialAuth", "settingValue": "true"}]
                },
            }
        ),
    )
    txn = answer["transactionResponse"]
    assert (txn["responseCode"], txn["messages"][0]["code"]) == ("4", "295")
    assert txn["prePaidCard"] == {
        "requestedAmount": "10.00",
        "approvedAmount": approved,
        "balanceOnCard": "0.00",
    }
    assert txn["splitTenderId"]
    # The connector does not do split tender: a partial approval is not an approval.
    result = from_payment_response(Operation.SALE, reply(json.dumps(answer).encode()), 1000)
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.charge_may_exist


def echeck(amount: str, account: str = "123456789") -> dict[str, Any]:
    return raw_transaction(
        {
            "transactionType": "authCaptureTransaction",
            "amount": amount,
            "payment": {
                "bankAccount": {
                    "accountType": "checking",
                    "routingNumber": "111000025",
                    "accountNumber": account,
                    "nameOnAccount": "Ellen Johnson",
                }
            },
        }
    )


async def test_echeck_up_to_100_dollars_is_accepted_above_declined(
    wire: httpx.AsyncClient,
) -> None:
    ok = (await post_raw(wire, echeck("100.00")))["transactionResponse"]
    assert (ok["responseCode"], ok["accountType"], ok["accountNumber"]) == (
        "1",
        "eCheck",
        "XXXX6789",
    )
    over = (await post_raw(wire, echeck("100.01")))["transactionResponse"]
    assert (over["responseCode"], over["errors"][0]["errorCode"]) == ("2", "2")


async def test_echeck_monthly_limit_of_5000_dollars(wire: httpx.AsyncClient) -> None:
    for n in range(50):  # 50 x $100.00 = the month's $5,000.00
        answer = await post_raw(wire, echeck("100.00", account=f"1000{n:05d}"))
        assert answer["transactionResponse"]["responseCode"] == "1"
    over = await post_raw(wire, echeck("1.00", account="999999999"))
    assert over["transactionResponse"]["responseCode"] == "2"


async def test_echeck_with_bad_routing_number(wire: httpx.AsyncClient) -> None:
    bad = echeck("10.00")
    bad["createTransactionRequest"]["transactionRequest"]["payment"]["bankAccount"][
        "routingNumber"
    ] = "111000026"
    answer = (await post_raw(wire, bad))["transactionResponse"]
    assert (answer["responseCode"], answer["errors"][0]["errorCode"]) == ("3", "9")


@pytest.mark.parametrize(
    ("dollars", "outcome", "reason"),
    [
        (3, Outcome.HARD_DECLINE, DeclineReason.CALL_ISSUER),
        (4, Outcome.HARD_DECLINE, DeclineReason.STOLEN_OR_LOST),
        (8, Outcome.HARD_DECLINE, DeclineReason.EXPIRED_CARD),
        (17, Outcome.HARD_DECLINE, DeclineReason.CARD_NOT_SUPPORTED),
        (19, Outcome.SOFT_DECLINE, DeclineReason.PROCESSING_ERROR),
        (27, Outcome.HARD_DECLINE, DeclineReason.AVS_MISMATCH),
        (41, Outcome.HARD_DECLINE, DeclineReason.FRAUD_SUSPECTED),
        (44, Outcome.HARD_DECLINE, DeclineReason.INVALID_CVV),
        (65, Outcome.HARD_DECLINE, DeclineReason.INVALID_CVV),
        (127, Outcome.HARD_DECLINE, DeclineReason.AVS_MISMATCH),
        (250, Outcome.HARD_DECLINE, DeclineReason.FRAUD_SUSPECTED),
    ],
)
async def test_error_generation_card_amount_picks_the_reason(
    anet: AuthorizeNetConnector, dollars: int, outcome: Outcome, reason: DeclineReason
) -> None:
    result = await anet.sale(payment(dollars * 100, card=card("4222222222222")))
    assert (result.outcome, result.decline_reason, result.raw_code) == (
        outcome,
        reason,
        str(dollars),
    )
    assert result.retryable is (outcome is Outcome.SOFT_DECLINE)


async def test_error_generation_card_with_processor_setup_code_is_config_error(
    anet: AuthorizeNetConnector,
) -> None:
    result = await anet.sale(payment(3500, card=card("4222222222222")))
    assert (result.outcome, result.raw_code) == (Outcome.CONFIG_ERROR, "35")


async def test_error_generation_card_with_other_amounts_is_approved(
    anet: AuthorizeNetConnector,
) -> None:
    assert (await anet.sale(payment(1050, card=card("4222222222222")))).approved


@pytest.mark.parametrize(
    ("request_card", "reason", "raw_code"),
    [
        (card("4111111111111112"), DeclineReason.INVALID_CARD, "6"),  # Luhn fails
        (card(exp_year=2021), DeclineReason.EXPIRED_CARD, "8"),
        (card(cvv="12"), DeclineReason.INVALID_CVV, "78"),
        (card("9999999999999995"), DeclineReason.CARD_NOT_SUPPORTED, "17"),
    ],
)
async def test_card_data_errors(
    anet: AuthorizeNetConnector, request_card: Card, reason: DeclineReason, raw_code: str
) -> None:
    result = await anet.sale(payment(1000, card=request_card))
    assert_declined(result, Outcome.HARD_DECLINE, reason, False)
    assert (result.raw_code, result.transaction_id) == (raw_code, None)


async def test_invalid_expiry_format_on_the_wire(wire: httpx.AsyncClient) -> None:
    answer = await post_raw(
        wire,
        raw_transaction(
            {
                "transactionType": "authCaptureTransaction",
                "amount": "5.00",
                "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-13"}},
            }
        ),
    )
    assert answer["transactionResponse"]["errors"][0]["errorCode"] == "7"


async def test_duplicate_within_the_window_is_refused(anet: AuthorizeNetConnector) -> None:
    request = payment(1234)
    assert (await anet.sale(request)).approved
    again = await anet.sale(request)
    assert_declined(again, Outcome.HARD_DECLINE, DeclineReason.DUPLICATE_TRANSACTION, False)
    assert again.raw_code == "11"
    # A different amount for the same order is a different transaction.
    assert (await anet.sale(payment(1235, order_id=request.order_id))).approved


async def test_duplicate_window_zero_turns_the_filter_off(wire: httpx.AsyncClient) -> None:
    document = raw_transaction(
        {
            "transactionType": "authCaptureTransaction",
            "amount": "5.00",
            "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-12"}},
            "order": {"invoiceNumber": "dup-window"},
            "transactionSettings": {
                "setting": [{"settingName": "duplicateWindow", "settingValue": "0"}]
            },
        }
    )
    for _ in range(2):
        assert (await post_raw(wire, document))["transactionResponse"]["responseCode"] == "1"


async def test_currencies_the_account_takes_and_one_it_does_not(
    anet: AuthorizeNetConnector,
) -> None:
    assert (await anet.sale(payment(1000, currency="EUR"))).approved
    result = await anet.sale(payment(1000, currency="JPY"))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_REQUEST, False)
    assert result.raw_code == "39"


async def test_accept_js_nonce_is_accepted(anet: AuthorizeNetConnector) -> None:
    assert (await anet.sale(payment(1000, token="eyJjb2RlIjoiNTBfMl8wNjAwMDUy"))).approved


async def test_key_order_is_enforced_like_the_xsd(wire: httpx.AsyncClient) -> None:
    out_of_order = raw_transaction(
        {
            "transactionType": "authCaptureTransaction",
            "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-12"}},
            "amount": "5.00",
        }
    )
    answer = await post_raw(wire, out_of_order)
    assert answer["messages"]["message"][0]["code"] == "E00003"
    assert "invalid child element 'amount'" in answer["messages"]["message"][0]["text"]
    assert "transactionResponse" not in answer
    # And the connector reads that as a request it must fix, not as a charge.
    result = from_payment_response(Operation.SALE, reply(json.dumps(answer).encode()))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_REQUEST, False)


async def test_invoice_number_longer_than_20_is_refused(wire: httpx.AsyncClient) -> None:
    document = raw_transaction(
        {
            "transactionType": "authCaptureTransaction",
            "amount": "5.00",
            "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-12"}},
            "order": {"invoiceNumber": "x" * 21},
        }
    )
    answer = await post_raw(wire, document)
    assert answer["messages"]["message"][0]["code"] == "E00003"


async def test_unknown_method_and_bad_json(wire: httpx.AsyncClient) -> None:
    unknown = await post_raw(wire, {"chargeCardRequest": {"merchantAuthentication": AUTH}})
    assert unknown["messages"]["message"][0]["code"] == "E00004"
    response = await wire.post(API, content=b"{not json")
    parsed = json.loads(response.content.decode("utf-8-sig"))
    assert parsed["messages"]["message"][0]["code"] == "E00003"


async def test_ref_id_is_echoed(wire: httpx.AsyncClient) -> None:
    answer = await post_raw(
        wire, {"authenticateTestRequest": {"merchantAuthentication": AUTH, "refId": "r-42"}}
    )
    assert list(answer) == ["refId", "messages"]
    assert answer["refId"] == "r-42"


# --- 4. outcome classes ------------------------------------------------------------------------


async def test_wrong_credentials_are_a_config_error_with_the_gateway_code(
    http: httpx.AsyncClient, url: str
) -> None:
    wrong = connector(
        http, url, credentials={"api_login_id": "someoneElse", "transaction_key": "K" * 16}
    )
    result = await wrong.sale(payment(1000))
    assert result.outcome is Outcome.CONFIG_ERROR
    assert (result.raw_code, result.request_sent) == ("E00007", True)
    assert not result.charge_may_exist
    assert ledger(url) == []


async def test_a_sandbox_with_other_credentials_accepts_only_those(
    http: httpx.AsyncClient,
) -> None:
    mine = {"api_login_id": "merchant42", "transaction_key": "0123456789abcdef"}
    with live_server(create_app(mine)) as url:
        assert (await connector(http, url, credentials=mine).verify()).approved
        default = await connector(http, url).verify()
        assert default.outcome is Outcome.CONFIG_ERROR


async def test_missing_credentials_never_leave_the_process(http: httpx.AsyncClient) -> None:
    anet = connector(http, "http://127.0.0.1:9", credentials={"api_login_id": "x"})
    result = await anet.sale(payment(1000))
    assert (result.outcome, result.request_sent) == (Outcome.CONFIG_ERROR, False)


@pytest.mark.parametrize("mode", ["error", "malformed"])
async def test_faulty_answers_are_gateway_errors_where_a_charge_may_exist(
    anet: AuthorizeNetConnector, url: str, mode: str
) -> None:
    set_fault(url, mode)
    result = await anet.sale(payment(1000))
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.request_sent
    assert result.charge_may_exist
    assert result.raw_code == ("502" if mode == "error" else "200")
    assert (await anet.sale(payment(1000))).approved  # the fault was for one request


async def test_nothing_listening_is_an_error_before_send(http: httpx.AsyncClient) -> None:
    anet = connector(http, f"http://127.0.0.1:{free_port()}")
    result = await anet.sale(payment(1000))
    assert result.outcome is Outcome.ERROR_BEFORE_SEND
    assert result.request_sent is False
    assert not result.charge_may_exist
    assert result.retryable  # safe to try another account


async def test_hang_is_a_timeout_after_send_and_inquiry_finds_the_charge(
    http: httpx.AsyncClient, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox would hang an hour; 2 s is enough past our 0.3 s read timeout and lets the
    # server shut down promptly at the end of the module.
    monkeypatch.setattr(common, "HANG_SECONDS", 2.0)
    set_fault(url, "hang")
    request = payment(1234)
    result = await connector(http, url, read=0.3).sale(request)
    assert result.outcome is Outcome.TIMEOUT_AFTER_SEND
    assert result.request_sent
    assert result.charge_may_exist
    assert result.latency_ms >= 300
    # The sandbox processed the hung request, as the real gateway would have: the charge exists.
    found = await connector(http, url).inquire(InquireRequest(order_id=request.order_id))
    assert (found.outcome, found.state, found.amount) == (
        Outcome.APPROVED,
        GatewayState.CAPTURED,
        1234,
    )
    assert found.transaction_id is not None


async def test_slow_answer_within_the_timeout_is_fine(
    anet: AuthorizeNetConnector, url: str
) -> None:
    # count=None: Faults._take() zeroes delay_ms when a count runs out, before the sleep.
    set_fault(url, "slow", count=None, delay_ms=150)
    result = await anet.sale(payment(1000))
    assert result.approved
    assert result.latency_ms >= 150


# --- 5. lifecycle ----------------------------------------------------------------------------


async def test_authorize_partial_capture_refunds_add_up_and_never_pass_the_capture(
    anet: AuthorizeNetConnector, url: str
) -> None:
    auth = await anet.authorize(payment(1000))
    txn_id = auth.transaction_id
    assert txn_id is not None
    capture = await anet.capture(CaptureRequest(txn_id, 600, "USD"))
    assert (capture.outcome, capture.amount) == (Outcome.APPROVED, 600)
    # Unsettled money is voided, not refunded (reason 54)...
    early = await anet.refund(RefundRequest(txn_id, 200, "USD", card_last4="1111"))
    assert_declined(early, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)
    assert early.raw_code == "54"
    settle(url)  # ...until the daily batch has run.
    first = await anet.refund(RefundRequest(txn_id, 200, "USD", card_last4="1111"))
    second = await anet.refund(RefundRequest(txn_id, 300, "USD", card_last4="1111"))
    assert (first.outcome, second.outcome) == (Outcome.APPROVED, Outcome.APPROVED)
    assert first.transaction_id != second.transaction_id
    beyond = await anet.refund(RefundRequest(txn_id, 101, "USD", card_last4="1111"))
    assert_declined(beyond, Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT, False)
    assert beyond.raw_code == "55"
    rest = await anet.refund(RefundRequest(txn_id, 100, "USD", card_last4="1111"))
    assert rest.approved
    nothing_left = await anet.refund(RefundRequest(txn_id, 1, "USD", card_last4="1111"))
    assert nothing_left.raw_code == "55"


async def test_void_after_settled_capture_is_refused_as_invalid_state(
    anet: AuthorizeNetConnector, url: str
) -> None:
    auth = await anet.authorize(payment(1000))
    assert auth.transaction_id is not None
    assert (await anet.capture(CaptureRequest(auth.transaction_id, None, "USD"))).approved
    settle(url)
    void = await anet.void(VoidRequest(auth.transaction_id))
    assert_declined(void, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)
    assert void.raw_code == "16"  # the gateway's words; the connector asked what it meant
    found = await anet.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert found.state is GatewayState.CAPTURED  # nothing changed


async def test_void_of_an_unsettled_capture_works_as_on_the_real_gateway(
    anet: AuthorizeNetConnector,
) -> None:
    sale = await anet.sale(payment(1000))
    assert sale.transaction_id is not None
    assert (await anet.void(VoidRequest(sale.transaction_id))).approved
    found = await anet.inquire(InquireRequest(transaction_id=sale.transaction_id))
    assert found.state is GatewayState.VOIDED


async def test_capture_twice_above_authorized_and_after_void(anet: AuthorizeNetConnector) -> None:
    auth = await anet.authorize(payment(1000))
    assert auth.transaction_id is not None
    above = await anet.capture(CaptureRequest(auth.transaction_id, 1001, "USD"))
    assert_declined(above, Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT, False)
    assert above.raw_code == "47"
    assert (await anet.capture(CaptureRequest(auth.transaction_id, 1000, "USD"))).approved
    twice = await anet.capture(CaptureRequest(auth.transaction_id, 1000, "USD"))
    assert_declined(twice, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)
    assert twice.raw_code == "311"
    other = await anet.authorize(payment(500))
    assert other.transaction_id is not None
    assert (await anet.void(VoidRequest(other.transaction_id))).approved
    after_void = await anet.capture(CaptureRequest(other.transaction_id, None, "USD"))
    assert (after_void.decline_reason, after_void.raw_code) == (DeclineReason.INVALID_STATE, "310")
    void_again = await anet.void(VoidRequest(other.transaction_id))
    assert (void_again.decline_reason, void_again.raw_code) == (DeclineReason.INVALID_STATE, "310")


async def test_capture_and_void_of_unknown_ids_are_not_found(anet: AuthorizeNetConnector) -> None:
    capture = await anet.capture(CaptureRequest("40999999999", 100, "USD"))
    assert_declined(capture, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)
    assert capture.raw_code == "16"
    void = await anet.void(VoidRequest("40999999999"))
    assert_declined(void, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)


async def test_refund_needs_the_matching_card_and_a_settled_charge(
    anet: AuthorizeNetConnector, url: str
) -> None:
    auth = await anet.authorize(payment(1000))
    assert auth.transaction_id is not None
    settle(url)  # an open authorization does not settle
    refund = RefundRequest(auth.transaction_id, 100, "USD", card_last4="1111")
    not_captured = await anet.refund(refund)
    assert not_captured.raw_code == "54"
    sale = await anet.sale(payment(1000))
    assert sale.transaction_id is not None
    settle(url)
    refund = RefundRequest(sale.transaction_id, 100, "USD", card_last4="4242")
    wrong_card = await anet.refund(refund)
    assert_declined(wrong_card, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)


async def test_voiding_a_pending_refund_makes_the_amount_refundable_again(
    anet: AuthorizeNetConnector, url: str
) -> None:
    sale = await anet.sale(payment(1000))
    assert sale.transaction_id is not None
    settle(url)
    refund = await anet.refund(RefundRequest(sale.transaction_id, 1000, "USD", card_last4="1111"))
    assert refund.transaction_id is not None
    assert (await anet.void(VoidRequest(refund.transaction_id))).approved
    again = await anet.refund(RefundRequest(sale.transaction_id, 1000, "USD", card_last4="1111"))
    assert again.approved


async def test_unsettled_list_pages(wire: httpx.AsyncClient) -> None:
    for cents in range(101, 106):
        document = raw_transaction(
            {
                "transactionType": "authOnlyTransaction",
                "amount": f"{cents / 100:.2f}",
                "payment": {"creditCard": {"cardNumber": VISA, "expirationDate": "2030-12"}},
                "order": {"invoiceNumber": f"inv-{cents}"},
            }
        )
        await post_raw(wire, document)
    pages = []
    for page in (1, 2, 3):
        listing = {
            "getUnsettledTransactionListRequest": {
                "merchantAuthentication": AUTH,
                "sorting": {"orderBy": "submitTimeUTC", "orderDescending": True},
                "paging": {"limit": 2, "offset": page},
            }
        }
        answer = await post_raw(wire, listing)
        assert answer["totalNumInResultSet"] == 5
        pages.append([t["invoiceNumber"] for t in answer["transactions"]])
    assert pages == [["inv-105", "inv-104"], ["inv-103", "inv-102"], ["inv-101"]]


async def test_connector_pages_through_a_full_unsettled_list(
    http: httpx.AsyncClient, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(an, "PAGE_SIZE", 2)  # 1000 per page on the real gateway
    anet = connector(http, url)
    oldest = payment(700)
    sale = await anet.sale(oldest)
    for _ in range(4):
        await anet.sale(payment(100))
    found = await anet.inquire(InquireRequest(order_id=oldest.order_id))
    assert (found.state, found.transaction_id) == (GatewayState.CAPTURED, sale.transaction_id)


# --- 6. logs stay clean --------------------------------------------------------------------------


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config()
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    root.handlers, root.level = saved_handlers, saved_level
    structlog.configure(**saved_structlog)


async def test_logs_never_show_card_data_or_credentials(
    anet: AuthorizeNetConnector, captured_logs: io.StringIO
) -> None:
    cvv = "7373"
    pan = "370000000000002"
    request = payment(2000, card=Card(pan, 12, 2030, cvv, "Ada Lovelace"))
    assert (await anet.sale(request)).outcome is Outcome.APPROVED
    wrong_key = "WrongKey00000000"
    wrong_credentials = {"api_login_id": "badLogin77", "transaction_key": wrong_key}
    wrong = connector(anet.http, anet.base_url, credentials=wrong_credentials)
    assert (await wrong.sale(request)).outcome is Outcome.CONFIG_ERROR
    output = captured_logs.getvalue()
    events = [json.loads(line) for line in output.splitlines()]
    assert any(e.get("event") == "gateway.call" and e.get("outcome") == "approved" for e in events)
    assert any(API in e.get("event", "") for e in events)  # httpx logged the request line too
    for secret in (pan, SANDBOX_CREDENTIALS["transaction_key"], wrong_key, "badLogin77"):
        assert secret not in output
    assert SANDBOX_CREDENTIALS["api_login_id"] not in output
    for event in events:
        values = " ".join(str(v) for k, v in event.items() if k != "timestamp")
        assert not re.search(rf"\b{cvv}\b", values)
