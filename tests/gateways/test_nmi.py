"""NMI: the wire mapping on sample messages, then every operation, test trigger and outcome class
against the local sandbox over real loopback HTTP (and a few in-process through ASGI)."""

import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import structlog

from avnz.core.logging import configure_logging
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
    InquireRequest,
    Operation,
    Outcome,
    PaymentRequest,
    RefundRequest,
    Timeouts,
    VoidRequest,
)
from avnz.gateways.nmi.connector import NmiConnector
from avnz.gateways.nmi.payloads import (
    amount_text,
    to_capture_payload,
    to_inquire_payload,
    to_refund_payload,
    to_sale_payload,
    to_verify_payload,
)
from avnz.gateways.nmi.responses import (
    UnreadableReplyError,
    from_payment_response,
    from_query_response,
    from_verify_response,
    parse_query_body,
    parse_transact_body,
)
from avnz.gateways.nmi.sandbox import SANDBOX_CREDENTIALS, create_app
from tests.support.live_server import free_port, live_server

SAMPLES = Path(__file__).parent / "samples"
VISA = "4111111111111111"
AVS_MATCH = Address(line1="888 Test Street", postal_code="77777")


def sample(name: str) -> bytes:
    return (SAMPLES / f"nmi_{name}.txt").read_bytes().strip()


def card(number: str = VISA, cvv: str | None = "999") -> Card:
    return Card(number=number, exp_month=10, exp_year=2025, cvv=cvv)


def payment(amount: int = 1000, **fields: Any) -> PaymentRequest:
    fields.setdefault("card", None if "token" in fields else card())
    fields.setdefault("order_id", f"ord-{uuid.uuid4().hex[:12]}")
    return PaymentRequest(amount=amount, currency=fields.pop("currency", "USD"), **fields)


def connector(
    http: httpx.AsyncClient,
    url: str,
    *,
    credentials: dict[str, str] = SANDBOX_CREDENTIALS,
    read: float = 5.0,
) -> NmiConnector:
    config = ConnectorConfig(
        credentials=credentials, base_url=url, timeouts=Timeouts(connect=1, read=read)
    )
    return NmiConnector(config, http)


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
def nmi(http: httpx.AsyncClient, url: str) -> NmiConnector:
    return connector(http, url)


@pytest.fixture
async def in_process() -> AsyncIterator[NmiConnector]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport) as client:
        yield connector(client, "http://nmi.sandbox")


def set_fault(url: str, mode: str, count: int | None = 1) -> None:
    httpx.post(f"{url}/_sandbox/faults", json={"mode": mode, "count": count}).raise_for_status()


def ledger(url: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.get(f"{url}/_sandbox/transactions").json()
    return answer


def settle(url: str) -> int:
    settled: int = httpx.post(f"{url}/_sandbox/settle").json()["settled"]
    return settled


def assert_declined(
    result: GatewayResult, outcome: Outcome, reason: DeclineReason, retryable: bool
) -> None:
    assert (result.outcome, result.decline_reason, result.retryable) == (
        outcome,
        reason,
        retryable,
    )
    assert not result.approved


# --- 1. transformers on sample wire messages (no network) --------------------------------------


def test_sample_approved() -> None:
    result = from_payment_response(
        parse_transact_body(sample("approved")), operation=Operation.SALE, amount=1000
    )
    assert result.outcome is Outcome.APPROVED
    assert (result.transaction_id, result.auth_code) == ("2762757839", "123456")
    assert result.amount == 1000
    assert (result.avs, result.cvv) == (AvsResult.NO_MATCH, CvvResult.NO_MATCH)
    assert (result.raw_code, result.raw_message) == ("100", "SUCCESS")


def test_sample_declined_keeps_the_transaction_id() -> None:
    reply = parse_transact_body(sample("declined"))
    result = from_payment_response(reply, operation=Operation.SALE)
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True)
    assert result.transaction_id == "2762766725"
    assert result.amount is None


def test_sample_error_is_a_hard_decline_matched_on_its_text_prefix() -> None:
    result = from_payment_response(parse_transact_body(sample("error")), operation=Operation.SALE)
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_CARD, False)
    assert result.transaction_id is None
    assert result.raw_message is not None
    assert result.raw_message.startswith("Invalid Credit Card Number REFID:")


def test_sample_bad_credentials_is_a_config_error() -> None:
    result = from_payment_response(
        parse_transact_body(sample("bad_credentials")), operation=Operation.SALE
    )
    assert result.outcome is Outcome.CONFIG_ERROR
    assert result.raw_message == "Authentication Failed"
    assert result.decline_reason is None
    assert not result.charge_may_exist


def test_sample_void_after_settlement_is_invalid_state() -> None:
    result = from_payment_response(
        parse_transact_body(sample("void_settled")), operation=Operation.VOID
    )
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)


def test_sample_rate_limit_is_a_soft_decline() -> None:
    result = from_payment_response(
        parse_transact_body(sample("rate_limited")), operation=Operation.SALE
    )
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.RATE_LIMITED, True)


@pytest.mark.parametrize(
    ("response", "code", "outcome", "reason"),
    [
        ("2", "201", Outcome.SOFT_DECLINE, DeclineReason.DO_NOT_HONOR),
        ("2", "202", Outcome.SOFT_DECLINE, DeclineReason.INSUFFICIENT_FUNDS),
        ("2", "203", Outcome.SOFT_DECLINE, DeclineReason.LIMIT_EXCEEDED),
        ("2", "223", Outcome.HARD_DECLINE, DeclineReason.EXPIRED_CARD),
        ("2", "225", Outcome.HARD_DECLINE, DeclineReason.INVALID_CVV),
        ("2", "240", Outcome.HARD_DECLINE, DeclineReason.CALL_ISSUER),
        ("2", "251", Outcome.HARD_DECLINE, DeclineReason.STOLEN_OR_LOST),
        ("2", "253", Outcome.HARD_DECLINE, DeclineReason.FRAUD_SUSPECTED),
        ("2", "299", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE),  # unknown decline
        ("3", "421", Outcome.SOFT_DECLINE, DeclineReason.PROCESSING_ERROR),
        ("3", "430", Outcome.HARD_DECLINE, DeclineReason.DUPLICATE_TRANSACTION),
        ("3", "461", Outcome.HARD_DECLINE, DeclineReason.CARD_NOT_SUPPORTED),
        ("3", "499", Outcome.SOFT_DECLINE, DeclineReason.PROCESSING_ERROR),  # unknown error
    ],
)
def test_result_codes_map_to_reasons(
    response: str, code: str, outcome: Outcome, reason: DeclineReason
) -> None:
    body = f"response={response}&responsetext=Whatever&response_code={code}".encode()
    result = from_payment_response(parse_transact_body(body), operation=Operation.SALE)
    assert (result.outcome, result.decline_reason) == (outcome, reason)


@pytest.mark.parametrize("code", ["410", "411"])
def test_merchant_configuration_codes_are_config_errors(code: str) -> None:
    body = f"response=3&responsetext=Invalid merchant configuration&response_code={code}".encode()
    result = from_payment_response(parse_transact_body(body), operation=Operation.SALE)
    assert result.outcome is Outcome.CONFIG_ERROR


@pytest.mark.parametrize(
    ("code", "avs"),
    [
        ("Y", AvsResult.MATCH),
        ("A", AvsResult.ADDRESS_ONLY),
        ("Z", AvsResult.POSTAL_ONLY),
        ("N", AvsResult.NO_MATCH),
        ("U", AvsResult.UNAVAILABLE),
        ("", AvsResult.UNAVAILABLE),
        ("?", AvsResult.UNAVAILABLE),
    ],
)
def test_avs_codes(code: str, avs: AvsResult) -> None:
    body = f"response=1&responsetext=SUCCESS&avsresponse={code}&response_code=100".encode()
    result = from_payment_response(parse_transact_body(body), operation=Operation.SALE)
    assert result.avs is avs


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\xffnot-a-gateway-answer{{",
        b"<html><body>502 Bad Gateway</body></html>",
        b"response=4&responsetext=SUCCESS&response_code=100",  # unknown class: never success
        b"responsetext=SUCCESS&response_code=100",  # no `response` at all
    ],
)
def test_unreadable_transact_answers_raise(body: bytes) -> None:
    with pytest.raises(UnreadableReplyError):
        parse_transact_body(body)


def test_gateway_text_never_carries_a_card_number_into_the_result() -> None:
    body = f"response=3&responsetext=Bad card {VISA} REFID:1&response_code=300".encode()
    result = from_payment_response(parse_transact_body(body), operation=Operation.SALE)
    assert result.raw_message is not None
    assert VISA not in result.raw_message
    assert "1111" in result.raw_message  # masked to BIN + last 4, still useful


def test_sale_payload_uses_decimal_strings_and_our_order_id() -> None:
    request = payment(
        1999,
        order_id="ord-42",
        billing=Address(
            first_name="Ada",
            last_name="Lovelace",
            line1="888 Test Street",
            postal_code="77777",
            country="US",
        ),
        description="Plan",
    )
    payload = to_sale_payload(request)
    assert payload == {
        "type": "sale",
        "amount": "19.99",
        "currency": "USD",
        "orderid": "ord-42",
        "order_description": "Plan",
        "payment": "creditcard",
        "ccnumber": VISA,
        "ccexp": "1025",
        "cvv": "999",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "address1": "888 Test Street",
        "zip": "77777",
        "country": "US",
    }
    assert "security_key" not in payload  # credentials are added at send time only


def test_token_payload_sends_the_token_instead_of_a_card() -> None:
    payload = to_sale_payload(payment(token="00000000-000000-000000-000000000000"))
    assert payload["payment_token"] == "00000000-000000-000000-000000000000"
    assert not {"ccnumber", "ccexp", "cvv", "payment"} & payload.keys()


def test_holder_name_fills_in_missing_billing_names() -> None:
    request = payment(card=Card(VISA, 1, 2030, holder_name="Grace Brewster Hopper"))
    payload = to_sale_payload(request)
    assert (payload["first_name"], payload["last_name"]) == ("Grace Brewster", "Hopper")
    assert payload["ccexp"] == "0130"


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1999, "USD", "19.99"),
        (100, "USD", "1.00"),
        (0, "USD", "0.00"),
        (500, "JPY", "500"),
        (1234, "KWD", "1.234"),
    ],
)
def test_amounts_are_exact_decimal_strings(amount: int, currency: str, text: str) -> None:
    assert amount_text(amount, currency) == text


def test_follow_up_payloads() -> None:
    assert to_capture_payload(CaptureRequest("123", 600, "USD", order_id="o")) == {
        "type": "capture",
        "transactionid": "123",
        "amount": "6.00",
        "orderid": "o",
    }
    assert to_capture_payload(CaptureRequest("123", None, "USD")) == {
        "type": "capture",
        "transactionid": "123",
    }
    assert to_refund_payload(RefundRequest("123", None, "USD")) == {
        "type": "refund",
        "transactionid": "123",
    }
    assert to_verify_payload() == {"type": "void", "transactionid": "0"}
    assert to_inquire_payload(InquireRequest(transaction_id="9", order_id="o")) == {
        "transaction_id": "9"
    }
    assert to_inquire_payload(InquireRequest(order_id="o")) == {"order_id": "o"}


def test_verify_reads_any_answer_but_authentication_failure_as_a_working_key() -> None:
    works = from_verify_response(parse_transact_body(sample("void_settled")))
    assert works.outcome is Outcome.APPROVED
    broken = from_verify_response(parse_transact_body(sample("bad_credentials")))
    assert broken.outcome is Outcome.CONFIG_ERROR


def test_sample_query_by_order_prefers_the_charge_over_a_declined_attempt() -> None:
    answer = parse_query_body(sample("query_found"))
    result = from_query_response(answer, request=InquireRequest(order_id="ord-1001"))
    assert result.outcome is Outcome.APPROVED
    assert result.transaction_id == "12030573544"
    assert result.state is GatewayState.PARTIALLY_REFUNDED  # a 5.00 refund (listed negative)
    assert (result.amount, result.auth_code, result.raw_code) == (
        2399,
        "123456",
        "pendingsettlement",
    )


def test_sample_query_by_id_finds_the_declined_attempt() -> None:
    answer = parse_query_body(sample("query_found"))
    result = from_query_response(answer, request=InquireRequest(transaction_id="12030573999"))
    assert (result.outcome, result.state) == (Outcome.APPROVED, GatewayState.DECLINED)


def test_sample_query_ignores_transactions_the_filter_should_have_excluded() -> None:
    answer = parse_query_body(sample("query_found"))
    result = from_query_response(answer, request=InquireRequest(order_id="someone-else"))
    assert result.state is GatewayState.NOT_FOUND


def test_sample_query_empty_is_not_found_and_never_approved() -> None:
    result = from_query_response(
        parse_query_body(sample("query_empty")), request=InquireRequest(order_id="ord-1001")
    )
    assert result.state is GatewayState.NOT_FOUND
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)


def test_sample_query_bad_key_is_a_config_error() -> None:
    result = from_query_response(
        parse_query_body(sample("query_bad_key")), request=InquireRequest(order_id="x")
    )
    assert result.outcome is Outcome.CONFIG_ERROR


@pytest.mark.parametrize(
    "body",
    [
        b"response=1&responsetext=SUCCESS",
        b"<html><body>ok</body></html>",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><nm_response>&a;</nm_response>',
        b"<nm_response><transaction><condition>complete</condition></transaction></nm_response>",
    ],
)
def test_unreadable_query_answers_raise(body: bytes) -> None:
    with pytest.raises(UnreadableReplyError):
        parse_query_body(body)


def test_connector_description() -> None:
    assert NmiConnector.name == "nmi"
    assert NmiConnector.base_urls[Environment.PRODUCTION].startswith("https://")
    assert set(NmiConnector.base_urls) == set(Environment)
    schema = NmiConnector.credentials_schema
    assert schema["required"] == ["security_key"]
    assert schema["additionalProperties"] is False
    key = schema["properties"]["security_key"]
    assert key["writeOnly"] is True
    assert key["title"] and key["description"]


def test_connector_uses_the_environment_url_without_an_override() -> None:
    config = ConnectorConfig(credentials=SANDBOX_CREDENTIALS, environment=Environment.PRODUCTION)
    nmi = NmiConnector(config, httpx.AsyncClient())
    assert nmi.base_url == "https://secure.nmi.com"


# --- 2. every operation over real loopback HTTP ------------------------------------------------


async def test_sale_over_loopback(nmi: NmiConnector, url: str) -> None:
    request = payment(2500, billing=AVS_MATCH)
    result = await nmi.sale(request)
    assert result.outcome is Outcome.APPROVED
    assert (result.auth_code, result.raw_message, result.amount) == ("123456", "SUCCESS", 2500)
    assert result.transaction_id and result.transaction_id.isdigit()
    assert (result.avs, result.cvv) == (AvsResult.MATCH, CvvResult.MATCH)
    assert result.latency_ms > 0
    [txn] = ledger(url)
    # Our order id is NMI's orderid, which is what finds the charge after a timeout.
    assert (txn["order_id"], txn["kind"], txn["amount"]) == (request.order_id, "sale", 2500)
    assert VISA not in json.dumps(txn)


async def test_authorize_capture_over_loopback(nmi: NmiConnector) -> None:
    auth = await nmi.authorize(payment(1000))
    assert auth.outcome is Outcome.APPROVED
    assert auth.transaction_id is not None
    captured = await nmi.capture(CaptureRequest(auth.transaction_id, None, "USD"))
    assert captured.outcome is Outcome.APPROVED
    assert captured.transaction_id == auth.transaction_id  # NMI captures under the auth's id
    found = await nmi.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert (found.state, found.amount) == (GatewayState.CAPTURED, 1000)


async def test_void_over_loopback(nmi: NmiConnector) -> None:
    auth = await nmi.authorize(payment(1000))
    assert auth.transaction_id is not None
    voided = await nmi.void(VoidRequest(auth.transaction_id))
    assert (voided.outcome, voided.raw_message) == (Outcome.APPROVED, "Transaction Void Successful")
    found = await nmi.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert (found.state, found.raw_code) == (GatewayState.VOIDED, "canceled")
    again = await nmi.capture(CaptureRequest(auth.transaction_id, None, "USD"))
    assert_declined(again, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)


async def test_full_refund_over_loopback(nmi: NmiConnector) -> None:
    sale = await nmi.sale(payment(1500))
    assert sale.transaction_id is not None
    refund = await nmi.refund(RefundRequest(sale.transaction_id, None, "USD"))
    assert refund.outcome is Outcome.APPROVED
    assert refund.transaction_id not in (None, sale.transaction_id)  # a refund has its own id
    found = await nmi.inquire(InquireRequest(transaction_id=sale.transaction_id))
    assert found.state is GatewayState.REFUNDED
    as_refund = await nmi.inquire(InquireRequest(transaction_id=refund.transaction_id))
    assert (as_refund.state, as_refund.amount) == (GatewayState.REFUNDED, 1500)


async def test_verify_over_loopback(nmi: NmiConnector, url: str) -> None:
    result = await nmi.verify()
    assert result.outcome is Outcome.APPROVED
    assert ledger(url) == []  # moved no money


async def test_inquire_by_id_and_by_order_over_loopback(nmi: NmiConnector) -> None:
    request = payment(4200)
    sale = await nmi.sale(request)
    by_id = await nmi.inquire(InquireRequest(transaction_id=sale.transaction_id))
    by_order = await nmi.inquire(InquireRequest(order_id=request.order_id))
    for found in (by_id, by_order):
        assert (found.outcome, found.state) == (Outcome.APPROVED, GatewayState.CAPTURED)
        assert (found.transaction_id, found.amount) == (sale.transaction_id, 4200)
        assert found.raw_code == "pendingsettlement"


async def test_operations_in_process_through_asgi(in_process: NmiConnector) -> None:
    request = payment(3000)
    auth = await in_process.authorize(request)
    assert auth.outcome is Outcome.APPROVED
    assert auth.transaction_id is not None
    capture = await in_process.capture(CaptureRequest(auth.transaction_id, 2000, "USD"))
    refund = await in_process.refund(RefundRequest(auth.transaction_id, 500, "USD"))
    assert (capture.outcome, refund.outcome) == (Outcome.APPROVED, Outcome.APPROVED)
    found = await in_process.inquire(InquireRequest(order_id=request.order_id))
    assert (found.state, found.amount) == (GatewayState.PARTIALLY_REFUNDED, 2000)
    assert (await in_process.verify()).outcome is Outcome.APPROVED


# --- 3. documented test triggers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",  # Visa
        "5431111111111111",  # Mastercard
        "6011000991300009",  # Discover
        "6011601160116611",  # Discover (older docs)
        "341111111111111",  # Amex
        "30205252489926",  # Diners
        "3541963594572595",  # JCB
        "6799990100000000019",  # Maestro
    ],
)
async def test_test_cards_are_approved(nmi: NmiConnector, number: str) -> None:
    result = await nmi.sale(payment(1000, card=card(number)))
    assert result.outcome is Outcome.APPROVED
    assert (result.auth_code, result.raw_message, result.raw_code) == ("123456", "SUCCESS", "100")


@pytest.mark.parametrize("amount", [99, 1, 0])
async def test_amount_below_one_dollar_declines(nmi: NmiConnector, amount: int) -> None:
    result = await nmi.sale(payment(amount))
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True)
    assert (result.raw_code, result.raw_message) == ("200", "DECLINE")
    assert result.transaction_id is not None  # NMI numbers declines too


async def test_one_dollar_is_approved(nmi: NmiConnector) -> None:
    assert (await nmi.sale(payment(100))).outcome is Outcome.APPROVED


async def test_decline_trigger_applies_to_authorizations(nmi: NmiConnector) -> None:
    result = await nmi.authorize(payment(50))
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True)


@pytest.mark.parametrize("number", ["4111111111111112", "411111", "4111-1111-1111-1111"])
async def test_invalid_card_number_is_a_hard_decline(nmi: NmiConnector, number: str) -> None:
    result = await nmi.sale(payment(1000, card=card(number)))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_CARD, False)
    assert result.transaction_id is None
    assert result.raw_message is not None
    assert result.raw_message.startswith("Invalid Credit Card Number")


@pytest.mark.parametrize(
    ("billing", "avs"),
    [
        (AVS_MATCH, AvsResult.MATCH),
        (Address(line1="888", postal_code="77777"), AvsResult.MATCH),
        (Address(line1="888 Test Street", postal_code="12345"), AvsResult.ADDRESS_ONLY),
        (Address(line1="1 Elm Street", postal_code="77777"), AvsResult.POSTAL_ONLY),
        (Address(line1="1 Elm Street", postal_code="12345"), AvsResult.NO_MATCH),
        (None, AvsResult.UNAVAILABLE),
    ],
)
async def test_avs_triggers(nmi: NmiConnector, billing: Address | None, avs: AvsResult) -> None:
    result = await nmi.sale(payment(1000, billing=billing))
    assert result.outcome is Outcome.APPROVED  # AVS informs; the merchant's rules decide
    assert result.avs is avs


@pytest.mark.parametrize(
    ("cvv", "expected"),
    [("999", CvvResult.MATCH), ("123", CvvResult.NO_MATCH), (None, CvvResult.UNAVAILABLE)],
)
async def test_cvv_triggers(nmi: NmiConnector, cvv: str | None, expected: CvvResult) -> None:
    result = await nmi.sale(payment(1000, card=card(cvv=cvv)))
    assert result.outcome is Outcome.APPROVED
    assert result.cvv is expected


async def test_card_payment_token_is_the_test_visa(nmi: NmiConnector, url: str) -> None:
    result = await nmi.sale(payment(1000, token="00000000-000000-000000-000000000000"))
    assert result.outcome is Outcome.APPROVED
    assert result.cvv is CvvResult.MATCH  # the token carries CVV 999
    assert ledger(url)[0]["card_last4"] == "1111"


async def test_ach_payment_token_is_the_test_account(nmi: NmiConnector, url: str) -> None:
    result = await nmi.sale(payment(1000, token="11111111-111111-111111-111111111111"))
    assert result.outcome is Outcome.APPROVED
    assert (result.avs, result.cvv) == (AvsResult.UNAVAILABLE, CvvResult.UNAVAILABLE)
    assert ledger(url)[0]["card_last4"] == "3815"


async def test_unknown_payment_token_is_refused(nmi: NmiConnector) -> None:
    result = await nmi.sale(payment(1000, token="not-a-token"))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_CARD, False)


def ach_sale(url: str, amount: str, **fields: str) -> GatewayResult:
    """An ACH sale on the wire (the connector takes cards and tokens), read by the transformer."""
    form = {
        **SANDBOX_CREDENTIALS,
        "type": "sale",
        "payment": "check",
        "checkname": "Test Account",
        "checkaba": "490000018",
        "checkaccount": "24413815",
        "account_holder_type": "personal",
        "account_type": "checking",
        "amount": amount,
        **fields,
    }
    answer = httpx.post(f"{url}/api/transact.php", data=form)
    return from_payment_response(parse_transact_body(answer.content), operation=Operation.SALE)


def test_ach_test_account_is_approved(url: str) -> None:
    assert ach_sale(url, "10.00").outcome is Outcome.APPROVED


def test_ach_below_one_dollar_fails(url: str) -> None:
    result = ach_sale(url, "0.99")
    assert_declined(result, Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True)
    assert result.raw_message == "FAILED"


def test_ach_with_an_invalid_routing_number_is_refused(url: str) -> None:
    result = ach_sale(url, "10.00", checkaba="490000019")
    assert result.outcome is Outcome.HARD_DECLINE


def test_duplicate_within_dup_seconds_is_refused(url: str) -> None:
    form = {
        **SANDBOX_CREDENTIALS,
        "type": "sale",
        "amount": "12.00",
        "ccnumber": VISA,
        "ccexp": "1025",
        "dup_seconds": "600",
    }
    first, second = (httpx.post(f"{url}/api/transact.php", data=form) for _ in range(2))
    assert parse_transact_body(first.content).response == "1"
    result = from_payment_response(parse_transact_body(second.content), operation=Operation.SALE)
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.DUPLICATE_TRANSACTION, False)
    without_window = {k: v for k, v in form.items() if k != "dup_seconds"}
    third = httpx.post(f"{url}/api/transact.php", data=without_window)
    assert parse_transact_body(third.content).response == "1"


# --- 4. outcome classes --------------------------------------------------------------------------


async def test_wrong_credentials_are_a_config_error(http: httpx.AsyncClient, url: str) -> None:
    wrong = connector(http, url, credentials={"security_key": "not-the-key"})
    for result in (
        await wrong.sale(payment(1000)),
        await wrong.verify(),
        await wrong.inquire(InquireRequest(order_id="any")),
    ):
        assert result.outcome is Outcome.CONFIG_ERROR
        assert result.request_sent
        assert not result.charge_may_exist
    assert ledger(url) == []


async def test_missing_credentials_are_a_config_error_before_sending(
    http: httpx.AsyncClient, url: str
) -> None:
    result = await connector(http, url, credentials={}).sale(payment(1000))
    assert result.outcome is Outcome.CONFIG_ERROR
    assert result.request_sent is False


@pytest.mark.parametrize(("mode", "status"), [("error", "502"), ("malformed", "200")])
async def test_gateway_faults_are_gateway_errors(
    nmi: NmiConnector, url: str, mode: str, status: str
) -> None:
    set_fault(url, mode)
    result = await nmi.sale(payment(1000))
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.raw_code == status
    assert result.request_sent
    assert result.charge_may_exist  # we cannot tell, so the caller must inquire
    assert result.retryable
    # Our sandbox's choice: these faults sit in front of the gateway, nothing was processed.
    assert ledger(url) == []
    assert (await nmi.sale(payment(1000))).outcome is Outcome.APPROVED  # fault was one-shot


async def test_gateway_faults_on_inquire_are_gateway_errors(nmi: NmiConnector, url: str) -> None:
    set_fault(url, "malformed")
    result = await nmi.inquire(InquireRequest(order_id="any"))
    assert result.outcome is Outcome.GATEWAY_ERROR


async def test_nothing_listening_is_an_error_before_send(http: httpx.AsyncClient) -> None:
    nmi = connector(http, f"http://127.0.0.1:{free_port()}")
    result = await nmi.sale(payment(1000))
    assert result.outcome is Outcome.ERROR_BEFORE_SEND
    assert result.request_sent is False
    assert not result.charge_may_exist
    assert result.retryable  # safe to try another account


async def test_hang_is_a_timeout_after_send_and_inquiry_finds_the_charge(
    http: httpx.AsyncClient, url: str
) -> None:
    set_fault(url, "hang")
    request = payment(1234)
    result = await connector(http, url, read=0.3).sale(request)
    assert result.outcome is Outcome.TIMEOUT_AFTER_SEND
    assert result.request_sent
    assert result.charge_may_exist
    assert result.latency_ms >= 300
    # The sandbox processed the hung request (as a real gateway would have): the charge exists.
    found = await connector(http, url).inquire(InquireRequest(order_id=request.order_id))
    assert (found.outcome, found.state, found.amount) == (
        Outcome.APPROVED,
        GatewayState.CAPTURED,
        1234,
    )
    assert found.transaction_id is not None


# --- 5. lifecycle --------------------------------------------------------------------------------


async def test_partial_capture_then_partial_refunds_up_to_the_captured_amount(
    nmi: NmiConnector,
) -> None:
    auth = await nmi.authorize(payment(1000))
    txn_id = auth.transaction_id
    assert txn_id is not None
    capture = await nmi.capture(CaptureRequest(txn_id, 600, "USD"))
    assert (capture.outcome, capture.amount) == (Outcome.APPROVED, 600)
    first = await nmi.refund(RefundRequest(txn_id, 200, "USD"))
    second = await nmi.refund(RefundRequest(txn_id, 300, "USD"))
    assert (first.outcome, second.outcome) == (Outcome.APPROVED, Outcome.APPROVED)
    assert first.transaction_id != second.transaction_id
    beyond = await nmi.refund(RefundRequest(txn_id, 200, "USD"))  # only 100 is left
    assert_declined(beyond, Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT, False)
    found = await nmi.inquire(InquireRequest(transaction_id=txn_id))
    assert (found.state, found.amount) == (GatewayState.PARTIALLY_REFUNDED, 600)
    rest = await nmi.refund(RefundRequest(txn_id, None, "USD"))
    assert rest.outcome is Outcome.APPROVED
    found = await nmi.inquire(InquireRequest(transaction_id=txn_id))
    assert found.state is GatewayState.REFUNDED


async def test_capture_rules(nmi: NmiConnector) -> None:
    auth = await nmi.authorize(payment(1000))
    assert auth.transaction_id is not None
    above = await nmi.capture(CaptureRequest(auth.transaction_id, 1001, "USD"))
    assert_declined(above, Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT, False)
    assert (await nmi.capture(CaptureRequest(auth.transaction_id, 1000, "USD"))).approved
    twice = await nmi.capture(CaptureRequest(auth.transaction_id, 1000, "USD"))
    assert_declined(twice, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)
    sale = await nmi.sale(payment(1000))
    assert sale.transaction_id is not None
    of_sale = await nmi.capture(CaptureRequest(sale.transaction_id, None, "USD"))
    assert of_sale.decline_reason is DeclineReason.INVALID_STATE


async def test_refund_of_an_uncaptured_authorization_is_refused(nmi: NmiConnector) -> None:
    auth = await nmi.authorize(payment(1000))
    assert auth.transaction_id is not None
    result = await nmi.refund(RefundRequest(auth.transaction_id, 100, "USD"))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT, False)
    found = await nmi.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert (found.state, found.raw_code, found.amount) == (GatewayState.AUTHORIZED, "pending", 1000)


async def test_void_after_capture_is_refused_once_settled(nmi: NmiConnector, url: str) -> None:
    auth = await nmi.authorize(payment(1000))
    assert auth.transaction_id is not None
    assert (await nmi.capture(CaptureRequest(auth.transaction_id, None, "USD"))).approved
    assert settle(url) == 1
    result = await nmi.void(VoidRequest(auth.transaction_id))
    assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False)
    found = await nmi.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert (found.state, found.raw_code) == (GatewayState.CAPTURED, "complete")
    # Settled money goes back by refund instead.
    assert (await nmi.refund(RefundRequest(auth.transaction_id, None, "USD"))).approved


async def test_void_of_an_unsettled_capture_cancels_it(nmi: NmiConnector) -> None:
    # NMI voids anything not yet settled, captured or not (reference §1 quirks).
    sale = await nmi.sale(payment(1000))
    assert sale.transaction_id is not None
    assert (await nmi.void(VoidRequest(sale.transaction_id))).approved
    found = await nmi.inquire(InquireRequest(transaction_id=sale.transaction_id))
    assert found.state is GatewayState.VOIDED
    refund = await nmi.refund(RefundRequest(sale.transaction_id, None, "USD"))
    assert refund.decline_reason is DeclineReason.INVALID_AMOUNT


async def test_void_after_a_refund_is_refused(nmi: NmiConnector) -> None:
    sale = await nmi.sale(payment(1000))
    assert sale.transaction_id is not None
    assert (await nmi.refund(RefundRequest(sale.transaction_id, 100, "USD"))).approved
    result = await nmi.void(VoidRequest(sale.transaction_id))
    assert result.decline_reason is DeclineReason.INVALID_STATE


async def test_voiding_an_unsettled_refund_restores_the_balance(nmi: NmiConnector) -> None:
    sale = await nmi.sale(payment(1000))
    assert sale.transaction_id is not None
    refund = await nmi.refund(RefundRequest(sale.transaction_id, 400, "USD"))
    assert refund.transaction_id is not None
    assert (await nmi.void(VoidRequest(refund.transaction_id))).approved
    found = await nmi.inquire(InquireRequest(transaction_id=sale.transaction_id))
    assert found.state is GatewayState.CAPTURED
    assert (await nmi.refund(RefundRequest(sale.transaction_id, 1000, "USD"))).approved


@pytest.mark.parametrize("txn_id", ["9999999999", "not-an-id"])
async def test_follow_ups_on_unknown_ids_are_not_found(nmi: NmiConnector, txn_id: str) -> None:
    for result in (
        await nmi.capture(CaptureRequest(txn_id, 100, "USD")),
        await nmi.void(VoidRequest(txn_id)),
        await nmi.refund(RefundRequest(txn_id, 100, "USD")),
    ):
        assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)


async def test_inquire_unknown_is_not_found(nmi: NmiConnector) -> None:
    for request in (InquireRequest(order_id="never-sent"), InquireRequest(transaction_id="1")):
        result = await nmi.inquire(request)
        assert result.state is GatewayState.NOT_FOUND
        assert_declined(result, Outcome.HARD_DECLINE, DeclineReason.TRANSACTION_NOT_FOUND, False)


async def test_inquire_by_order_after_a_decline_then_an_approval(nmi: NmiConnector) -> None:
    declined = await nmi.sale(payment(50, order_id="ord-retry"))
    assert declined.outcome is Outcome.SOFT_DECLINE
    only_declined = await nmi.inquire(InquireRequest(order_id="ord-retry"))
    assert (only_declined.state, only_declined.transaction_id) == (
        GatewayState.DECLINED,
        declined.transaction_id,
    )
    approved = await nmi.sale(payment(5000, order_id="ord-retry"))
    found = await nmi.inquire(InquireRequest(order_id="ord-retry"))
    assert (found.state, found.transaction_id, found.amount) == (
        GatewayState.CAPTURED,
        approved.transaction_id,
        5000,
    )


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
    nmi: NmiConnector, captured_logs: io.StringIO
) -> None:
    cvv = "7373"
    request = payment(2000, card=Card("341111111111111", 12, 2030, cvv, "Ada Lovelace"))
    assert (await nmi.sale(request)).outcome is Outcome.APPROVED
    wrong = connector(nmi.http, nmi.base_url, credentials={"security_key": "wrong-key-0123456789"})
    assert (await wrong.sale(request)).outcome is Outcome.CONFIG_ERROR
    output = captured_logs.getvalue()
    events = [json.loads(line) for line in output.splitlines()]
    assert any(e.get("event") == "gateway.call" and e.get("outcome") == "approved" for e in events)
    assert any("api/transact.php" in e.get("event", "") for e in events)  # httpx logged too
    assert "341111111111111" not in output
    assert SANDBOX_CREDENTIALS["security_key"] not in output
    assert "wrong-key-0123456789" not in output
    for event in events:
        values = " ".join(str(v) for k, v in event.items() if k != "timestamp")
        assert not re.search(rf"\b{cvv}\b", values)


def _transact(url: str, **fields: str) -> dict[str, str]:
    key = {"security_key": SANDBOX_CREDENTIALS["security_key"]}
    answer = httpx.post(f"{url}/api/transact.php", data={**key, **fields})
    return dict(parse_qsl(answer.text, keep_blank_values=True))


def test_validate_checks_the_card_and_holds_no_money(url: str) -> None:
    card = {"ccnumber": VISA, "ccexp": "1030", "cvv": "999", "address1": "888 Main", "zip": "77777"}
    verified = _transact(url, type="validate", **card)
    assert (verified["response"], verified["responsetext"], verified["response_code"]) == (
        "1",
        "SUCCESS",
        "100",
    )
    assert (verified["avsresponse"], verified["cvvresponse"]) == ("Y", "M")
    txn_id = verified["transactionid"]
    for follow_up in ("capture", "void", "refund"):
        refused = _transact(url, type=follow_up, transactionid=txn_id, amount="1.00")
        assert refused["response"] == "3", follow_up
    with_amount = _transact(url, type="validate", amount="5.00", **card)
    assert with_amount["responsetext"].startswith("Invalid amount")
    bad_card = _transact(url, type="validate", ccnumber="4111111111111112", ccexp="1030")
    assert bad_card["responsetext"].startswith("Invalid Credit Card Number")


def test_unknown_transactions_get_nmis_documented_text(url: str) -> None:
    for follow_up in ("void", "capture", "refund"):
        answer = _transact(url, type=follow_up, transactionid="1234567890")
        assert answer["response"] == "3"
        assert re.fullmatch(r"Invalid Transaction ID specified REFID:\d+", answer["responsetext"])
