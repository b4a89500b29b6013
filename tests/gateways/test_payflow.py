"""Payflow Pro: the NVP codec and wire mapping on sample messages, then every operation, test
trigger and outcome class against the local sandbox over real loopback HTTP (and a few
in-process through ASGI)."""

import io
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    GatewayState,
    InquireRequest,
    Operation,
    Outcome,
    PaymentRequest,
    RefundRequest,
    Timeouts,
    VoidRequest,
)
from avnz.gateways.payflow.connector import PayflowConnector
from avnz.gateways.payflow.nvp import encode_nvp, parse_nvp, parse_reply
from avnz.gateways.payflow.payloads import (
    MissingCredentials,
    auth_fields,
    format_amount,
    request_id,
    to_capture_payload,
    to_inquire_payload,
    to_refund_payload,
    to_sale_payload,
    to_verify_payload,
)
from avnz.gateways.payflow.responses import (
    from_inquire_response,
    from_payment_response,
    from_reference_response,
    from_verify_response,
)
from avnz.gateways.payflow.sandbox import create_app
from avnz.gateways.payflow.sandbox.triggers import SANDBOX_CREDENTIALS, TEST_CARDS
from tests.support.live_server import free_port, live_server

SAMPLES = Path(__file__).parent / "samples"
VISA = "4111111111111111"
AVS_MATCH = Address(line1="123 Main St", postal_code="12345")


def sample(name: str) -> bytes:
    return (SAMPLES / f"payflow_{name}.txt").read_bytes().strip()


def card(number: str = VISA, cvv: str | None = "123", exp_year: int = 2031) -> Card:
    return Card(number=number, exp_month=9, exp_year=exp_year, cvv=cvv)


def payment(amount: int = 1000, **fields: Any) -> PaymentRequest:
    fields.setdefault("card", None if "token" in fields else card())
    fields.setdefault("order_id", f"ord{uuid.uuid4().hex[:9]}")
    return PaymentRequest(amount=amount, currency=fields.pop("currency", "USD"), **fields)


def connector(
    http: httpx.AsyncClient,
    url: str,
    *,
    credentials: dict[str, str] = SANDBOX_CREDENTIALS,
    read: float = 5.0,
) -> PayflowConnector:
    config = ConnectorConfig(
        credentials=credentials, base_url=url, timeouts=Timeouts(connect=1, read=read)
    )
    return PayflowConnector(config, http)


def pay(**changes: str) -> dict[str, str]:
    """A raw sale request for posting NVP straight at the sandbox."""
    fields = {
        **auth_fields(SANDBOX_CREDENTIALS),
        "TRXTYPE": "S",
        "TENDER": "C",
        "ACCT": VISA,
        "EXPDATE": "0931",
        "AMT": "10.00",
    }
    return fields | changes


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with live_server(create_app()) as url:
        yield url


@pytest.fixture
def url(sandbox: str) -> str:
    """The shared live sandbox, emptied of transactions and faults for each test."""
    httpx.post(f"{sandbox}/_sandbox/reset").raise_for_status()
    return sandbox


@pytest.fixture
def payflow(http: httpx.AsyncClient, url: str) -> PayflowConnector:
    return connector(http, url)


@pytest.fixture
async def in_process() -> AsyncIterator[PayflowConnector]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport) as client:
        yield connector(client, "http://payflow.sandbox")


async def ledger(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await http.get(f"{url}/_sandbox/transactions")
    return list(response.json())


async def post_raw(
    http: httpx.AsyncClient, url: str, body: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        f"{url}/",
        content=body.encode(),
        headers={"Content-Type": "text/namevalue", **(headers or {})},
    )


async def fault(http: httpx.AsyncClient, url: str, mode: str, **options: Any) -> None:
    response = await http.post(f"{url}/_sandbox/faults", json={"mode": mode, **options})
    response.raise_for_status()


# --- 1. codec and wire mapping, no network ---------------------------------------------------


def test_parse_plain_reply_from_the_reference() -> None:
    assert parse_nvp(sample("approved").decode()) == {
        "RESULT": "0",
        "PNREF": "EFHP0D426A53",
        "RESPMSG": "APPROVED",
        "AUTHCODE": "25TEST",
        "AVSADDR": "Y",
        "AVSZIP": "N",
        "CVV2MATCH": "Y",
    }


def test_length_tags_take_exactly_n_characters() -> None:
    fields = parse_nvp("COMPANYNAME[14]=Ruff & Johnson&COMMENT1[7]=Level=5&AMT=1.00")
    assert fields == {"COMPANYNAME": "Ruff & Johnson", "COMMENT1": "Level=5", "AMT": "1.00"}


@pytest.mark.parametrize(
    "text",
    ["RESULT", "RESULT[9]=0", "NAME[3]=abcd&X=1", "=0", "\x00\xffnot-a-gateway-answer{{"],
)
def test_parse_refuses_what_is_not_nvp(text: str) -> None:
    with pytest.raises(ValueError):
        parse_nvp(text)


def test_encode_tags_only_values_that_need_it() -> None:
    body = encode_nvp({"TRXTYPE": "S", "BILLTOSTREET": "1 Main & Co", "COMMENT1": "a=b"})
    assert body == "TRXTYPE=S&BILLTOSTREET[11]=1 Main & Co&COMMENT1[3]=a=b"


@given(
    st.dictionaries(
        st.from_regex(r"[A-Z][A-Z0-9_]{0,11}", fullmatch=True),
        st.text(max_size=30),
        max_size=8,
    )
)
def test_encode_then_parse_round_trips(fields: dict[str, str]) -> None:
    assert parse_nvp(encode_nvp(fields)) == fields


def test_approved_sample_maps_to_approved() -> None:
    result = from_payment_response(
        Operation.SALE, parse_reply(sample("approved")), amount=1225, currency="USD", cvv_sent=True
    )
    assert result.outcome is Outcome.APPROVED and result.approved
    assert (result.transaction_id, result.auth_code, result.amount) == (
        "EFHP0D426A53",
        "25TEST",
        1225,
    )
    assert (result.avs, result.cvv) == (AvsResult.ADDRESS_ONLY, CvvResult.MATCH)
    assert result.raw_code == "0" and result.decline_reason is None


def test_tagged_sample_reads_the_amount_the_gateway_reports() -> None:
    reply = parse_reply(sample("approved_tagged"))
    result = from_payment_response(
        Operation.AUTHORIZE, reply, amount=9999, currency="USD", cvv_sent=True
    )
    assert result.outcome is Outcome.APPROVED and result.amount == 1225
    assert result.avs is AvsResult.MATCH and result.transaction_id == "E79P0E23873D"


def test_declined_sample_is_a_soft_generic_decline() -> None:
    result = from_payment_response(
        Operation.SALE, parse_reply(sample("declined")), amount=1000, currency="USD", cvv_sent=True
    )
    assert result.outcome is Outcome.SOFT_DECLINE
    assert result.decline_reason is DeclineReason.GENERIC_DECLINE and result.retryable
    assert (result.avs, result.cvv) == (AvsResult.UNAVAILABLE, CvvResult.NO_MATCH)
    assert result.amount is None and result.raw_message == "Declined"


def test_referral_sample_is_a_hard_decline() -> None:
    result = from_payment_response(
        Operation.SALE, parse_reply(sample("referral")), amount=1, currency="USD", cvv_sent=False
    )
    assert result.outcome is Outcome.HARD_DECLINE
    assert result.decline_reason is DeclineReason.CALL_ISSUER and not result.retryable


def test_error_sample_is_an_invalid_request() -> None:
    result = from_reference_response(Operation.CAPTURE, parse_reply(sample("error")))
    assert result.outcome is Outcome.HARD_DECLINE
    assert result.decline_reason is DeclineReason.INVALID_REQUEST
    assert result.raw_code == "7" and "ORIGID" in (result.raw_message or "")


@pytest.mark.parametrize("name", ["bad_credentials", "invalid_vendor"])
def test_bad_credentials_samples_are_config_errors(name: str) -> None:
    reply = parse_reply(sample(name))
    for result in (
        from_payment_response(Operation.SALE, reply, amount=1, currency="USD", cvv_sent=False),
        from_verify_response(reply),
    ):
        assert result.outcome is Outcome.CONFIG_ERROR and not result.approved
        assert not result.charge_may_exist


def test_fraud_review_is_never_an_approval_and_may_have_charged() -> None:
    result = from_payment_response(
        Operation.SALE,
        parse_reply(sample("fraud_review")),
        amount=1,
        currency="USD",
        cvv_sent=False,
    )
    assert result.outcome is Outcome.GATEWAY_ERROR and not result.approved
    assert result.charge_may_exist and result.transaction_id == "VXYZ01234570"


@pytest.mark.parametrize("code", ["9999", "-12", "104", "11"])
def test_unknown_and_uncertain_codes_are_neither_success_nor_decline(code: str) -> None:
    result = from_payment_response(
        Operation.SALE,
        parse_reply(f"RESULT={code}".encode()),
        amount=1,
        currency="USD",
        cvv_sent=False,
    )
    assert result.outcome is Outcome.GATEWAY_ERROR and result.charge_may_exist
    assert not result.retryable  # inquire first


@pytest.mark.parametrize(
    "body", [b"", b"RESPMSG=Approved", b"RESULT=abc", b"RESULT=0&AMT=lots", b"\x00\xff{{"]
)
def test_replies_without_a_readable_result_do_not_parse(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_reply(body)


def test_raw_message_never_echoes_a_card_number() -> None:
    reply = parse_reply(b"RESULT=23&RESPMSG=Invalid account number 4111111111111111")
    result = from_payment_response(Operation.SALE, reply, amount=1, currency="USD", cvv_sent=False)
    assert VISA not in (result.raw_message or "")
    assert "411111" in (result.raw_message or "")  # masked to BIN + last four, not dropped


def test_inquiry_sample_found() -> None:
    result = from_inquire_response(parse_reply(sample("inquiry_found")))
    assert result.outcome is Outcome.APPROVED and result.state is GatewayState.CAPTURED
    assert (result.transaction_id, result.amount) == ("VPNE12564395", 1225)


def test_inquiry_sample_not_found() -> None:
    result = from_inquire_response(parse_reply(sample("inquiry_not_found")))
    assert result.outcome is Outcome.HARD_DECLINE and result.state is GatewayState.NOT_FOUND
    assert result.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ("TRANSSTATE=3", GatewayState.AUTHORIZED),
        ("TRANSSTATE=6", GatewayState.CAPTURED),
        ("TRANSSTATE=9", GatewayState.CAPTURED),
        ("TRANSSTATE=1003", GatewayState.VOIDED),
        ("TRANSSTATE=1006", GatewayState.VOIDED),
        ("TRANSSTATE=106", GatewayState.UNKNOWN),
        ("TRANSSTATE=11", GatewayState.UNKNOWN),
        ("ORIGRESULT=12&TRANSSTATE=1", GatewayState.DECLINED),
        ("ORIGRESULT=0", GatewayState.UNKNOWN),
    ],
)
def test_inquiry_transstate_table(fields: str, state: GatewayState) -> None:
    result = from_inquire_response(parse_reply(f"RESULT=0&PNREF=V1&{fields}".encode()))
    assert result.state is state and result.outcome is Outcome.APPROVED


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("19", Outcome.APPROVED), ("7", Outcome.APPROVED), ("1", Outcome.CONFIG_ERROR)],
)
def test_verify_reads_not_found_as_good_credentials(code: str, outcome: Outcome) -> None:
    assert from_verify_response(parse_reply(f"RESULT={code}".encode())).outcome is outcome


@pytest.mark.parametrize(
    ("addr", "zip_", "avs"),
    [
        ("Y", "Y", AvsResult.MATCH),
        ("Y", "N", AvsResult.ADDRESS_ONLY),
        ("N", "Y", AvsResult.POSTAL_ONLY),
        ("N", "N", AvsResult.NO_MATCH),
        ("X", "X", AvsResult.UNAVAILABLE),
        (None, None, AvsResult.UNAVAILABLE),
    ],
)
def test_avs_table(addr: str | None, zip_: str | None, avs: AvsResult) -> None:
    fields = (
        {"RESULT": "0"} | ({"AVSADDR": addr} if addr else {}) | ({"AVSZIP": zip_} if zip_ else {})
    )
    reply = parse_reply(encode_nvp(fields).encode())
    result = from_payment_response(Operation.SALE, reply, amount=1, currency="USD", cvv_sent=False)
    assert result.avs is avs


def test_missing_cvv_match_depends_on_whether_we_sent_one() -> None:
    reply = parse_reply(b"RESULT=0")
    sent = from_payment_response(Operation.SALE, reply, amount=1, currency="USD", cvv_sent=True)
    unsent = from_payment_response(Operation.SALE, reply, amount=1, currency="USD", cvv_sent=False)
    assert (sent.cvv, unsent.cvv) == (CvvResult.NOT_PROCESSED, CvvResult.NOT_PROVIDED)


def test_sale_payload() -> None:
    request = payment(
        1999,
        order_id="ord42",
        billing=Address(first_name="Ada", last_name="Lovelace", line1="1 Main & Co", country="US"),
        ip_address="203.0.113.9",
        description="plan=pro",
    )
    fields = to_sale_payload(request, SANDBOX_CREDENTIALS)
    assert fields["TRXTYPE"] == "S" and fields["TENDER"] == "C"
    assert (fields["AMT"], fields["CURRENCY"]) == ("19.99", "USD")
    assert (fields["ACCT"], fields["EXPDATE"], fields["CVV2"]) == (VISA, "0931", "123")
    assert fields["CUSTREF"] == fields["INVNUM"] == "ord42"
    assert (fields["BILLTOFIRSTNAME"], fields["BILLTOSTREET"]) == ("Ada", "1 Main & Co")
    assert fields["CUSTIP"] == "203.0.113.9" and fields["COMMENT1"] == "plan=pro"
    assert fields["USER"] == SANDBOX_CREDENTIALS["user"] and "BILLTOZIP" not in fields
    assert parse_nvp(encode_nvp(fields)) == fields  # `&` and `=` survive through length tags


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(1999, "USD", "19.99"), (0, "USD", "0.00"), (500, "JPY", "500"), (1234, "KWD", "1.234")],
)
def test_amounts_use_the_currency_exponent(amount: int, currency: str, text: str) -> None:
    assert format_amount(amount, currency) == text


def test_a_token_is_a_reference_transaction() -> None:
    fields = to_sale_payload(payment(500, token="EABC12345678"), SANDBOX_CREDENTIALS)
    assert fields["ORIGID"] == "EABC12345678" and "ACCT" not in fields


def test_follow_up_payloads() -> None:
    whole = to_capture_payload(CaptureRequest("EA1", None, "USD"), SANDBOX_CREDENTIALS)
    part = to_refund_payload(RefundRequest("ED1", 250, "USD"), SANDBOX_CREDENTIALS)
    assert (whole["TRXTYPE"], whole["ORIGID"]) == ("D", "EA1") and "AMT" not in whole
    assert (part["TRXTYPE"], part["ORIGID"], part["AMT"]) == ("C", "ED1", "2.50")
    assert to_verify_payload(SANDBOX_CREDENTIALS)["TRXTYPE"] == "V"
    by_order = to_inquire_payload(InquireRequest(order_id="ord1"), SANDBOX_CREDENTIALS)
    by_id = to_inquire_payload(InquireRequest("EA1", "ord1"), SANDBOX_CREDENTIALS)
    assert by_order["CUSTREF"] == "ord1" and "ORIGID" not in by_order
    assert by_id["ORIGID"] == "EA1" and "CUSTREF" not in by_id


def test_user_defaults_to_vendor_and_password_is_required() -> None:
    fields = auth_fields({"partner": "PayPal", "vendor": "shop", "password": "secret1"})
    assert fields["USER"] == "shop"
    with pytest.raises(MissingCredentials):
        auth_fields({"partner": "PayPal", "vendor": "shop"})


def test_request_id_is_stable_per_key_and_fresh_without_one() -> None:
    assert request_id("key-1") == request_id("key-1") != request_id("key-2")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id("key-1"))
    assert request_id(None) != request_id(None)


def test_connector_declaration() -> None:
    schema = PayflowConnector.credentials_schema
    assert PayflowConnector.name == "payflow"
    assert PayflowConnector.base_urls[Environment.SANDBOX] == "https://pilot-payflowpro.paypal.com"
    assert PayflowConnector.base_urls[Environment.PRODUCTION] == "https://payflowpro.paypal.com"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"partner", "vendor", "password"}
    assert set(schema["properties"]) >= set(SANDBOX_CREDENTIALS)
    assert all({"title", "description"} <= set(p) for p in schema["properties"].values())
    assert schema["properties"]["password"]["writeOnly"] is True


# --- 2. every operation over loopback HTTP ---------------------------------------------------


async def test_sale(http: httpx.AsyncClient, url: str, payflow: PayflowConnector) -> None:
    request = payment(1999, billing=AVS_MATCH)
    result = await payflow.sale(request)
    assert result.outcome is Outcome.APPROVED and result.operation is Operation.SALE
    assert re.fullmatch(r"[A-Z0-9]{12}", result.transaction_id or "")
    assert result.amount == 1999 and result.auth_code
    assert (result.avs, result.cvv) == (AvsResult.MATCH, CvvResult.MATCH)
    assert result.latency_ms > 0
    [txn] = await ledger(http, url)
    assert (txn["id"], txn["state"], txn["order_id"]) == (
        result.transaction_id,
        "captured",
        request.order_id,
    )
    assert txn["card_last4"] == "1111" and VISA not in json.dumps(txn)


async def test_authorize_then_capture_all(payflow: PayflowConnector) -> None:
    auth = await payflow.authorize(payment(5000))
    capture = await payflow.capture(CaptureRequest(auth.transaction_id or "", None, "USD"))
    assert auth.outcome is Outcome.APPROVED and capture.outcome is Outcome.APPROVED
    assert capture.amount == 5000 and capture.transaction_id != auth.transaction_id
    found = await payflow.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert found.state is GatewayState.CAPTURED


async def test_void_an_authorization(payflow: PayflowConnector) -> None:
    auth = await payflow.authorize(payment(700))
    void = await payflow.void(VoidRequest(auth.transaction_id or ""))
    assert void.outcome is Outcome.APPROVED and void.amount == 700
    found = await payflow.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert found.state is GatewayState.VOIDED
    again = await payflow.void(VoidRequest(auth.transaction_id or ""))
    assert again.decline_reason is DeclineReason.INVALID_STATE


async def test_void_a_sale_before_settlement(payflow: PayflowConnector) -> None:
    sale = await payflow.sale(payment(800))
    assert (await payflow.void(VoidRequest(sale.transaction_id or ""))).approved
    refund = await payflow.refund(RefundRequest(sale.transaction_id or "", None, "USD"))
    assert refund.outcome is Outcome.HARD_DECLINE and refund.raw_code == "105"


async def test_refund_everything_left(payflow: PayflowConnector) -> None:
    sale = await payflow.sale(payment(1500))
    refund = await payflow.refund(RefundRequest(sale.transaction_id or "", None, "USD"))
    assert refund.outcome is Outcome.APPROVED and refund.amount == 1500
    nothing_left = await payflow.refund(RefundRequest(sale.transaction_id or "", 1, "USD"))
    assert nothing_left.decline_reason is DeclineReason.INVALID_STATE


async def test_verify(http: httpx.AsyncClient, url: str, payflow: PayflowConnector) -> None:
    result = await payflow.verify()
    assert result.outcome is Outcome.APPROVED and result.operation is Operation.VERIFY
    txns = await ledger(http, url)
    assert txns and all(t["amount"] == 0 and t["state"] == "declined" for t in txns)


@pytest.mark.parametrize(
    ("change", "code"),
    [({"password": "wrong-pass"}, "1"), ({"user": "someone"}, "1"), ({"vendor": "other"}, "26")],
)
async def test_verify_with_bad_credentials(
    http: httpx.AsyncClient, url: str, change: dict[str, str], code: str
) -> None:
    result = await connector(http, url, credentials=SANDBOX_CREDENTIALS | change).verify()
    assert result.outcome is Outcome.CONFIG_ERROR and result.raw_code == code


async def test_inquire_by_id_and_by_order_id(payflow: PayflowConnector) -> None:
    request = payment(2500)
    sale = await payflow.sale(request)
    by_id = await payflow.inquire(InquireRequest(transaction_id=sale.transaction_id))
    by_order = await payflow.inquire(InquireRequest(order_id=request.order_id))
    for found in (by_id, by_order):
        assert found.outcome is Outcome.APPROVED and found.state is GatewayState.CAPTURED
        assert (found.transaction_id, found.amount) == (sale.transaction_id, 2500)


async def test_inquire_finds_a_declined_payment(payflow: PayflowConnector) -> None:
    request = payment(201200)
    declined = await payflow.sale(request)
    found = await payflow.inquire(InquireRequest(order_id=request.order_id))
    assert declined.outcome is Outcome.SOFT_DECLINE
    assert found.state is GatewayState.DECLINED and found.transaction_id == declined.transaction_id


@pytest.mark.parametrize(
    "request_", [InquireRequest(order_id="never-sent"), InquireRequest(transaction_id="EZZZ")]
)
async def test_inquire_unknown(payflow: PayflowConnector, request_: InquireRequest) -> None:
    result = await payflow.inquire(request_)
    assert result.state is GatewayState.NOT_FOUND
    assert result.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND


async def test_reference_transaction_recharges_the_same_card(payflow: PayflowConnector) -> None:
    first = await payflow.sale(payment(1000))
    again = await payflow.sale(payment(2000, token=first.transaction_id))
    unknown = await payflow.sale(payment(2000, token="EUNKNOWN0000"))
    assert again.outcome is Outcome.APPROVED and again.transaction_id != first.transaction_id
    assert unknown.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND


async def test_same_idempotency_key_replays_the_first_answer(
    http: httpx.AsyncClient, url: str, payflow: PayflowConnector
) -> None:
    request = payment(1200, idempotency_key="idem-1")
    first, second = await payflow.sale(request), await payflow.sale(request)
    other = await payflow.sale(payment(1200, idempotency_key="idem-2"))
    assert first.approved and second.approved
    assert first.transaction_id == second.transaction_id != other.transaction_id
    assert len(await ledger(http, url)) == 2


async def test_zero_amount_authorization_is_an_account_verification(
    payflow: PayflowConnector,
) -> None:
    result = await payflow.authorize(payment(0, billing=AVS_MATCH))
    assert result.outcome is Outcome.APPROVED and result.raw_message == "Verified"
    assert result.avs is AvsResult.MATCH


async def test_in_process_sale_capture_and_inquire(in_process: PayflowConnector) -> None:
    request = payment(3000)
    auth = await in_process.authorize(request)
    capture = await in_process.capture(CaptureRequest(auth.transaction_id or "", 1000, "USD"))
    refund = await in_process.refund(RefundRequest(capture.transaction_id or "", 400, "USD"))
    found = await in_process.inquire(InquireRequest(order_id=request.order_id))
    assert [r.outcome for r in (auth, capture, refund, found)] == [Outcome.APPROVED] * 4
    assert (capture.amount, refund.amount, found.state) == (1000, 400, GatewayState.CAPTURED)


async def test_in_process_decline_and_bad_credentials(in_process: PayflowConnector) -> None:
    declined = await in_process.sale(payment(101300))
    assert declined.decline_reason is DeclineReason.CALL_ISSUER
    bad = PayflowConnector(
        ConnectorConfig(
            credentials=SANDBOX_CREDENTIALS | {"password": "nope-nope"},
            base_url=in_process.base_url,
        ),
        in_process.http,
    )
    assert (await bad.sale(payment(100))).outcome is Outcome.CONFIG_ERROR


# --- 3. documented test triggers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code", "outcome", "reason", "retryable"),
    [
        (100000, "0", Outcome.APPROVED, None, False),
        (101200, "12", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True),
        (101300, "13", Outcome.HARD_DECLINE, DeclineReason.CALL_ISSUER, False),
        (100400, "4", Outcome.HARD_DECLINE, DeclineReason.INVALID_AMOUNT, False),
        (100500, "5", Outcome.CONFIG_ERROR, None, True),
        (102300, "23", Outcome.HARD_DECLINE, DeclineReason.INVALID_CARD, False),
        (102400, "24", Outcome.HARD_DECLINE, DeclineReason.INVALID_EXPIRY, False),
        (103000, "30", Outcome.HARD_DECLINE, DeclineReason.DUPLICATE_TRANSACTION, False),
        (110300, "103", Outcome.GATEWAY_ERROR, DeclineReason.PROCESSING_ERROR, False),
        (110400, "104", Outcome.GATEWAY_ERROR, DeclineReason.PROCESSING_ERROR, False),
        (111100, "111", Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE, False),
        (111200, "112", Outcome.HARD_DECLINE, DeclineReason.AVS_MISMATCH, False),
        (111400, "114", Outcome.HARD_DECLINE, DeclineReason.INVALID_CVV, False),
        (105000, "12", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True),  # unsupported
        (101250, "12", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True),  # not whole
        (200000, "1000", Outcome.SOFT_DECLINE, DeclineReason.PROCESSING_ERROR, True),
        (200100, "12", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True),
        (210000, "12", Outcome.SOFT_DECLINE, DeclineReason.GENERIC_DECLINE, True),
    ],
)
async def test_amount_triggers(
    payflow: PayflowConnector,
    amount: int,
    code: str,
    outcome: Outcome,
    reason: DeclineReason | None,
    retryable: bool,
) -> None:
    result = await payflow.sale(payment(amount))
    assert (result.raw_code, result.outcome) == (code, outcome)
    assert (result.decline_reason, result.retryable) == (reason, retryable)
    assert result.approved is (outcome is Outcome.APPROVED)


async def test_every_pilot_test_card_is_approved(payflow: PayflowConnector) -> None:
    results = [await payflow.sale(payment(100, card=card(number))) for number in TEST_CARDS]
    assert len(results) == 16 and all(r.outcome is Outcome.APPROVED for r in results)


@pytest.mark.parametrize(
    ("number", "exp_year", "code", "reason"),
    [
        ("000000000000000", 2031, "23", DeclineReason.INVALID_CARD),
        ("4000000000000002", 2031, "23", DeclineReason.INVALID_CARD),  # not a pilot card
        (VISA, 1998, "24", DeclineReason.INVALID_EXPIRY),  # EXPDATE 0998, like 0298
    ],
)
async def test_card_triggers(
    payflow: PayflowConnector, number: str, exp_year: int, code: str, reason: DeclineReason
) -> None:
    result = await payflow.sale(payment(100, card=card(number, exp_year=exp_year)))
    assert result.outcome is Outcome.HARD_DECLINE
    assert (result.raw_code, result.decline_reason, result.retryable) == (code, reason, False)


@pytest.mark.parametrize(
    ("street", "zip_", "avs"),
    [
        ("123 Main St", "12345", AvsResult.MATCH),
        ("1111 Elm", "50000", AvsResult.MATCH),  # only "111" counts
        ("333 Oak", "00000", AvsResult.MATCH),
        ("334 Oak", "12345", AvsResult.POSTAL_ONLY),
        ("666 Oak", "50001", AvsResult.NO_MATCH),
        ("200 Oak", "99999", AvsResult.ADDRESS_ONLY),
        ("667 Oak", "12345", AvsResult.UNAVAILABLE),  # X forces AVSZIP X
        ("Main St", "12345", AvsResult.UNAVAILABLE),
        (None, None, AvsResult.UNAVAILABLE),
    ],
)
async def test_avs_triggers(
    payflow: PayflowConnector, street: str | None, zip_: str | None, avs: AvsResult
) -> None:
    result = await payflow.sale(payment(100, billing=Address(line1=street, postal_code=zip_)))
    assert result.approved and result.avs is avs


@pytest.mark.parametrize(
    ("cvv", "expected"),
    [
        ("000", CvvResult.NOT_PROCESSED),  # sent, but the pilot returns no CVV2MATCH
        ("001", CvvResult.MATCH),
        ("300", CvvResult.MATCH),
        ("301", CvvResult.NO_MATCH),
        ("600", CvvResult.NO_MATCH),
        ("601", CvvResult.UNAVAILABLE),
        ("9999", CvvResult.UNAVAILABLE),
        (None, CvvResult.NOT_PROVIDED),
    ],
)
async def test_cvv_triggers(
    payflow: PayflowConnector, cvv: str | None, expected: CvvResult
) -> None:
    result = await payflow.sale(payment(100, card=card(cvv=cvv)))
    assert result.approved and result.cvv is expected


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"TENDER": "G"}, "2"),
        ({"TRXTYPE": "G"}, "3"),
        ({"AMT": "-1"}, "4"),
        ({"AMT": "ten"}, "4"),
        ({"CURRENCY": "ZZZ"}, "6"),
        ({"TRXTYPE": "D", "ACCT": "", "AMT": "1.00"}, "7"),  # a capture without ORIGID
        ({"TRXTYPE": "D", "ORIGID": "EBADBADBAD00"}, "19"),
        ({"PWD": "wrong"}, "1"),
        ({"PARTNER": "Nobody"}, "26"),
    ],
)
async def test_request_triggers_on_the_wire(
    http: httpx.AsyncClient, url: str, changes: dict[str, str], code: str
) -> None:
    fields = {k: v for k, v in pay(**changes).items() if v}
    response = await post_raw(http, url, encode_nvp(fields))
    assert response.status_code == 200
    assert parse_reply(response.content).result == int(code)


async def test_length_tagged_requests_and_replies(http: httpx.AsyncClient, url: str) -> None:
    body = encode_nvp(pay(BILLTOSTREET="1 Main & Co", COMMENT1="Level=5"))
    assert "BILLTOSTREET[11]=1 Main & Co" in body
    plain = await post_raw(http, url, body)
    tagged = await post_raw(http, url, body, {"PAYPAL-NVP": "Y"})
    assert plain.text.startswith("RESULT=0&") and tagged.text.startswith("RESULT[1]=0&")
    assert parse_reply(tagged.content).avsaddr == "Y"  # "1 Main & Co" reached the sandbox whole


async def test_unparseable_request_is_a_field_format_error(
    http: httpx.AsyncClient, url: str
) -> None:
    response = await post_raw(http, url, "TRXTYPE[40]=S")
    assert parse_reply(response.content).result == 7


async def test_same_request_id_on_the_wire_is_marked_duplicate(
    http: httpx.AsyncClient, url: str
) -> None:
    headers = {"X-VPS-REQUEST-ID": uuid.uuid4().hex}
    first = parse_reply((await post_raw(http, url, encode_nvp(pay()), headers)).content)
    again = parse_reply((await post_raw(http, url, encode_nvp(pay()), headers)).content)
    assert first.result == again.result == 0 and first.pnref == again.pnref
    assert (first.duplicate, again.duplicate) == (None, "1")


async def test_lifecycle_state_triggers(payflow: PayflowConnector) -> None:
    auth = await payflow.authorize(payment(5000))
    origid = auth.transaction_id or ""
    credit_auth = await payflow.refund(RefundRequest(origid, 100, "USD"))
    above = await payflow.capture(CaptureRequest(origid, 5001, "USD"))
    first = await payflow.capture(CaptureRequest(origid, 5000, "USD"))
    twice = await payflow.capture(CaptureRequest(origid, 5000, "USD"))
    void_captured = await payflow.void(VoidRequest(origid))
    assert (credit_auth.raw_code, credit_auth.decline_reason) == (
        "105",
        DeclineReason.INVALID_STATE,
    )
    assert (above.raw_code, above.decline_reason) == ("4", DeclineReason.INVALID_AMOUNT)
    assert first.approved
    assert (twice.raw_code, twice.decline_reason) == ("111", DeclineReason.INVALID_STATE)
    assert (void_captured.raw_code, void_captured.outcome) == ("108", Outcome.HARD_DECLINE)


async def test_capture_of_a_declined_authorization(payflow: PayflowConnector) -> None:
    auth = await payflow.authorize(payment(201200))
    capture = await payflow.capture(CaptureRequest(auth.transaction_id or "", None, "USD"))
    assert auth.outcome is Outcome.SOFT_DECLINE
    assert (capture.raw_code, capture.decline_reason) == ("120", DeclineReason.INVALID_STATE)


# --- 4. outcome classes ----------------------------------------------------------------------


async def test_wrong_credentials_are_a_config_error(http: httpx.AsyncClient, url: str) -> None:
    bad = connector(http, url, credentials=SANDBOX_CREDENTIALS | {"password": "not-it-1"})
    result = await bad.sale(payment(100))
    assert result.outcome is Outcome.CONFIG_ERROR and result.raw_code == "1"
    assert result.request_sent and not result.charge_may_exist
    assert await ledger(http, url) == []


async def test_missing_credentials_never_leave(http: httpx.AsyncClient, url: str) -> None:
    incomplete = {"partner": "PayPal", "vendor": "avnzpilot"}
    result = await connector(http, url, credentials=incomplete).sale(payment(100))
    assert result.outcome is Outcome.CONFIG_ERROR and not result.request_sent


@pytest.mark.parametrize(("mode", "status"), [("error", "502"), ("malformed", "200")])
async def test_unreadable_answers_are_gateway_errors(
    http: httpx.AsyncClient, url: str, payflow: PayflowConnector, mode: str, status: str
) -> None:
    await fault(http, url, mode, count=1)
    result = await payflow.sale(payment(100))
    assert result.outcome is Outcome.GATEWAY_ERROR and result.raw_code == status
    assert result.request_sent and result.charge_may_exist and not result.approved
    assert (await payflow.sale(payment(100))).approved  # the fault was for one request


async def test_nothing_listening_is_an_error_before_send(http: httpx.AsyncClient) -> None:
    result = await connector(http, f"http://127.0.0.1:{free_port()}").sale(payment(100))
    assert result.outcome is Outcome.ERROR_BEFORE_SEND
    assert not result.request_sent and not result.charge_may_exist and result.retryable


async def test_slow_answer_within_the_timeout_is_still_read(
    http: httpx.AsyncClient, url: str, payflow: PayflowConnector
) -> None:
    # No `count`: common.Faults clears delay_ms when the count runs out, before it sleeps.
    await fault(http, url, "slow", delay_ms=150)
    result = await payflow.sale(payment(100))
    assert result.approved and result.latency_ms >= 150


async def test_hang_is_a_timeout_after_send_and_the_charge_is_found(
    http: httpx.AsyncClient, url: str
) -> None:
    """The sandbox processes a hanging request before it stops answering, as when PayPal charged
    the card and the answer got lost; the order id finds it, and a retry with the same
    idempotency key replays the charge instead of making a second one."""
    impatient = connector(http, url, read=0.3)
    request = payment(4200, idempotency_key=f"key-{uuid.uuid4().hex}")
    await fault(http, url, "hang", count=1)
    lost = await impatient.sale(request)
    assert lost.outcome is Outcome.TIMEOUT_AFTER_SEND
    assert lost.request_sent and lost.charge_may_exist and lost.transaction_id is None
    found = await impatient.inquire(InquireRequest(order_id=request.order_id))
    assert found.outcome is Outcome.APPROVED and found.state is GatewayState.CAPTURED
    assert found.amount == 4200
    retried = await impatient.sale(request)
    assert retried.approved and retried.transaction_id == found.transaction_id
    assert len(await ledger(http, url)) == 1


# --- 5. lifecycle ----------------------------------------------------------------------------


async def test_partial_capture_then_partial_refunds_up_to_the_capture(
    http: httpx.AsyncClient, url: str, payflow: PayflowConnector
) -> None:
    auth = await payflow.authorize(payment(10000))
    capture = await payflow.capture(CaptureRequest(auth.transaction_id or "", 6000, "USD"))
    captured_id = capture.transaction_id or ""
    first = await payflow.refund(RefundRequest(captured_id, 1000, "USD"))
    second = await payflow.refund(RefundRequest(captured_id, 2000, "USD"))
    beyond = await payflow.refund(RefundRequest(captured_id, 3001, "USD"))
    rest = await payflow.refund(RefundRequest(captured_id, 3000, "USD"))
    assert capture.approved and capture.amount == 6000
    assert (first.amount, second.amount, rest.amount) == (1000, 2000, 3000)
    assert beyond.outcome is Outcome.HARD_DECLINE and beyond.raw_code == "105"
    txns = {txn["id"]: txn for txn in await ledger(http, url)}
    assert (txns[captured_id]["refunded"], txns[captured_id]["state"]) == (6000, "refunded")
    assert txns[auth.transaction_id or ""]["captured"] == 6000


async def test_void_after_capture_is_refused(payflow: PayflowConnector) -> None:
    auth = await payflow.authorize(payment(900))
    await payflow.capture(CaptureRequest(auth.transaction_id or "", None, "USD"))
    void = await payflow.void(VoidRequest(auth.transaction_id or ""))
    assert void.outcome is Outcome.HARD_DECLINE
    assert (void.decline_reason, void.retryable) == (DeclineReason.INVALID_STATE, False)


async def test_capture_of_an_unknown_id(payflow: PayflowConnector) -> None:
    result = await payflow.capture(CaptureRequest("ENOSUCHTXN00", None, "USD"))
    assert result.outcome is Outcome.HARD_DECLINE and result.raw_code == "19"
    assert result.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND


async def test_voided_credit_can_be_credited_again(payflow: PayflowConnector) -> None:
    sale = await payflow.sale(payment(1000))
    credit = await payflow.refund(RefundRequest(sale.transaction_id or "", None, "USD"))
    assert (await payflow.void(VoidRequest(credit.transaction_id or ""))).approved
    again = await payflow.refund(RefundRequest(sale.transaction_id or "", None, "USD"))
    assert again.approved and again.amount == 1000


# --- 6. logs stay clean ----------------------------------------------------------------------


async def test_logs_never_hold_card_data_or_credentials(payflow: PayflowConnector) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        result = await payflow.sale(payment(100, card=card(cvv="7391"), billing=AVS_MATCH))
    finally:
        configure_logging("WARNING")
    output = stream.getvalue()
    events = [json.loads(line) for line in output.splitlines()]
    assert result.approved
    assert any(e["event"] == "gateway.call" and e.get("operation") == "sale" for e in events)
    assert VISA not in output and not re.search(r"(?<!\d)7391(?!\d)", output)
    assert SANDBOX_CREDENTIALS["password"] not in output and "PWD" not in output


def test_sandbox_credentials_are_documented() -> None:
    import avnz.gateways.payflow.sandbox as module

    assert all(value in (module.__doc__ or "") for value in SANDBOX_CREDENTIALS.values())


def test_amount_trigger_boundaries() -> None:
    from avnz.gateways.payflow.sandbox.triggers import amount_result

    assert [amount_result(Decimal(v)) for v in ("1000", "1000.01", "1012", "2000", "2000.01")] == [
        0,
        12,
        12,
        1000,
        12,
    ]
