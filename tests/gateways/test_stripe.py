"""Stripe connector: wire mapping on sample messages, then every operation against the local
Stripe sandbox over real loopback HTTP (and a few in-process through the ASGI transport)."""

import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import structlog

from avnz.core.logging import configure_logging
from avnz.gateways.base import (
    RETRYABLE,
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
from avnz.gateways.stripe.connector import StripeConnector
from avnz.gateways.stripe.payloads import (
    from_stripe_amount,
    to_authorize_payload,
    to_capture_payload,
    to_refund_payload,
    to_sale_payload,
    to_search_params,
    to_stripe_amount,
)
from avnz.gateways.stripe.responses import (
    clean_message,
    from_inquire_response,
    from_payment_response,
    from_recent_response,
    from_refund_response,
    from_search_response,
    from_verify_response,
)
from avnz.gateways.stripe.sandbox import create_app
from avnz.gateways.stripe.sandbox.tables import SANDBOX_CREDENTIALS
from tests.support.live_server import free_port, live_server

SAMPLES = Path(__file__).parent / "samples"
VISA = "4242424242424242"
CVV = "739"
BILLING = Address(first_name="Ada", last_name="Lovelace", line1="1 Main St", postal_code="94107")


def sample(name: str) -> HttpReply:
    """A captured exchange: status line, headers, blank line, body."""
    head, _, body = (SAMPLES / f"stripe_{name}.txt").read_text().partition("\n\n")
    status_line, *header_lines = head.splitlines()
    pairs = [line.partition(": ") for line in header_lines]
    headers = httpx.Headers([(name, value) for name, _, value in pairs])
    return HttpReply(int(status_line.split()[1]), headers, body.encode(), latency_ms=12.5)


def reply(status: int, body: bytes) -> HttpReply:
    return HttpReply(status, httpx.Headers(), body, latency_ms=1.0)


def order() -> str:
    return f"ord_{uuid4().hex[:12]}"


def card(
    number: str = VISA, cvv: str | None = CVV, exp_month: int = 12, exp_year: int = 2031
) -> Card:
    return Card(number=number, exp_month=exp_month, exp_year=exp_year, cvv=cvv)


def payment(amount: int = 1999, currency: str = "USD", **fields: Any) -> PaymentRequest:
    fields.setdefault("order_id", order())
    if "token" not in fields:
        fields.setdefault("card", card())
        fields.setdefault("billing", BILLING)
    return PaymentRequest(amount=amount, currency=currency, **fields)


def connector(
    http: httpx.AsyncClient,
    url: str,
    *,
    read: float = 5.0,
    credentials: dict[str, str] = SANDBOX_CREDENTIALS,
    environment: Environment = Environment.SANDBOX,
) -> StripeConnector:
    config = ConnectorConfig(
        credentials=credentials,
        environment=environment,
        base_url=url,
        timeouts=Timeouts(connect=1, read=read),
    )
    return StripeConnector(config, http)


# --- 1. wire mapping on sample messages, no network --------------------------------------------


def test_sale_payload_with_a_token_confirms_an_automatic_capture() -> None:
    request = payment(token="pm_card_visa", order_id="1001", metadata={"brand": "acme"})
    payload = to_sale_payload(request)
    assert payload == {
        "amount": "1999",
        "currency": "usd",
        "confirm": "true",
        "capture_method": "automatic",
        "payment_method_types[]": "card",
        "expand[]": "latest_charge",
        "payment_method": "pm_card_visa",
        "metadata[brand]": "acme",
        "metadata[order_id]": "1001",
    }


def test_authorize_payload_sends_a_raw_card_as_payment_method_data() -> None:
    request = payment(card=card(), billing=BILLING, email="ada@example.com", descriptor="ACME*" * 6)
    payload = to_authorize_payload(request)
    assert payload["capture_method"] == "manual"
    assert "payment_method" not in payload
    assert payload["payment_method_data[type]"] == "card"
    assert payload["payment_method_data[card][number]"] == VISA
    assert payload["payment_method_data[card][cvc]"] == CVV
    assert payload["payment_method_data[card][exp_year]"] == "2031"
    assert payload["payment_method_data[billing_details][name]"] == "Ada Lovelace"
    assert payload["payment_method_data[billing_details][address][postal_code]"] == "94107"
    assert payload["payment_method_data[billing_details][email]"] == "ada@example.com"
    assert len(payload["statement_descriptor_suffix"]) == 22


def test_caller_metadata_cannot_replace_the_order_id_inquire_relies_on() -> None:
    request = payment(token="pm_card_visa", order_id="mine", metadata={"order_id": "theirs"})
    assert to_sale_payload(request)["metadata[order_id]"] == "mine"


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [(1999, "USD", 1999), (500, "JPY", 500), (1230, "KWD", 1230), (500, "ISK", 50000)],
)
def test_amounts_use_stripes_smallest_unit(amount: int, currency: str, wire: int) -> None:
    assert to_stripe_amount(amount, currency) == wire
    assert from_stripe_amount(wire, currency) == amount


def test_a_stripe_amount_finer_than_the_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        from_stripe_amount(50050, "ISK")  # 500.50 krona: ISO has no fraction for ISK


def test_capture_and_refund_payloads() -> None:
    assert to_capture_payload(CaptureRequest("pi_1", None, "USD")) == {"expand[]": "latest_charge"}
    assert to_capture_payload(CaptureRequest("pi_1", 1500, "USD"))["amount_to_capture"] == "1500"
    refund = to_refund_payload(
        RefundRequest("pi_1", 700, "USD", order_id="1001", reason="duplicate")
    )
    assert refund == {
        "payment_intent": "pi_1",
        "amount": "700",
        "reason": "duplicate",
        "metadata[order_id]": "1001",
    }
    free_text = to_refund_payload(RefundRequest("ch_1", None, "USD", reason="customer called"))
    assert free_text == {"charge": "ch_1", "metadata[reason]": "customer called"}


def test_search_query_escapes_quotes_in_the_order_id() -> None:
    params = dict(to_search_params("it's\\42"))
    assert params["query"] == "metadata['order_id']:'it\\'s\\\\42'"
    assert params["expand[]"] == "data.latest_charge"


def test_approved_sale_sample() -> None:
    result = from_payment_response(Operation.SALE, sample("sale_succeeded"))
    assert result.outcome is Outcome.APPROVED
    assert result.transaction_id == "pi_3PqSale000000000000001"
    assert result.amount == 1999
    assert (result.avs, result.cvv) == (AvsResult.MATCH, CvvResult.MATCH)
    assert result.latency_ms == 12.5


def test_approved_authorization_sample_reports_the_capturable_amount_and_checks() -> None:
    result = from_payment_response(Operation.AUTHORIZE, sample("authorize_requires_capture"))
    assert result.outcome is Outcome.APPROVED
    assert result.amount == 5000
    assert result.avs is AvsResult.POSTAL_ONLY
    assert result.cvv is CvvResult.NOT_PROCESSED


def test_an_authorization_is_not_a_sale_approval() -> None:
    result = from_payment_response(Operation.SALE, sample("authorize_requires_capture"))
    assert result.outcome is not Outcome.APPROVED
    assert result.charge_may_exist


def test_declined_sample_is_soft_and_keeps_the_payment_intent_id() -> None:
    result = from_payment_response(Operation.SALE, sample("declined_insufficient_funds"))
    assert result.outcome is Outcome.SOFT_DECLINE
    assert result.decline_reason is DeclineReason.INSUFFICIENT_FUNDS
    assert result.retryable
    assert result.transaction_id == "pi_3PqDecl000000000000001"
    assert result.raw_code == "insufficient_funds"
    assert result.raw_message == "Your card has insufficient funds."


def test_lost_card_sample_is_a_hard_decline() -> None:
    result = from_payment_response(Operation.SALE, sample("declined_lost_card"))
    assert result.outcome is Outcome.HARD_DECLINE
    assert result.decline_reason is DeclineReason.STOLEN_OR_LOST
    assert not result.retryable


def test_incorrect_cvc_sample_reports_the_cvv_mismatch() -> None:
    result = from_payment_response(Operation.SALE, sample("declined_incorrect_cvc"))
    assert result.decline_reason is DeclineReason.INVALID_CVV
    assert result.cvv is CvvResult.NO_MATCH
    assert result.outcome is Outcome.HARD_DECLINE


def test_do_not_try_again_advice_makes_a_soft_decline_hard() -> None:
    result = from_payment_response(Operation.SALE, sample("declined_do_not_try_again"))
    assert result.decline_reason is DeclineReason.GENERIC_DECLINE
    assert (result.outcome, result.retryable) == (Outcome.HARD_DECLINE, False)


@pytest.mark.parametrize("name", ["bad_api_key", "raw_card_refused"])
def test_account_problems_are_config_errors(name: str) -> None:
    result = from_payment_response(Operation.SALE, sample(name))
    assert result.outcome is Outcome.CONFIG_ERROR
    assert result.decline_reason is None
    assert not result.charge_may_exist


@pytest.mark.parametrize(
    ("name", "operation", "outcome", "reason"),
    [
        ("unexpected_state", Operation.VOID, Outcome.HARD_DECLINE, DeclineReason.INVALID_STATE),
        (
            "no_such_payment_intent",
            Operation.CAPTURE,
            Outcome.HARD_DECLINE,
            DeclineReason.TRANSACTION_NOT_FOUND,
        ),
        (
            "no_such_payment_intent",
            Operation.SALE,
            Outcome.HARD_DECLINE,
            DeclineReason.INVALID_CARD,
        ),
        ("rate_limited", Operation.SALE, Outcome.SOFT_DECLINE, DeclineReason.RATE_LIMITED),
        ("idempotency_error", Operation.SALE, Outcome.HARD_DECLINE, DeclineReason.INVALID_REQUEST),
        (
            "requires_action",
            Operation.SALE,
            Outcome.SOFT_DECLINE,
            DeclineReason.AUTHENTICATION_REQUIRED,
        ),
    ],
)
def test_error_samples_classify(
    name: str, operation: Operation, outcome: Outcome, reason: DeclineReason
) -> None:
    result = from_payment_response(operation, sample(name))
    assert (result.outcome, result.decline_reason) == (outcome, reason)
    assert result.retryable is RETRYABLE[reason]
    assert not result.charge_may_exist


def test_unexpected_state_sample_names_the_payment_intent() -> None:
    result = from_payment_response(Operation.VOID, sample("unexpected_state"))
    assert result.transaction_id == "pi_3PqSale000000000000001"


@pytest.mark.parametrize("name", ["gateway_502", "idempotency_in_flight", "processing"])
def test_answers_that_may_hide_a_charge_are_gateway_errors(name: str) -> None:
    result = from_payment_response(Operation.SALE, sample(name))
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.request_sent and result.charge_may_exist
    assert not result.approved


def test_processing_keeps_the_id_to_inquire_with() -> None:
    result = from_payment_response(Operation.SALE, sample("processing"))
    assert result.transaction_id == "pi_3PqProc000000000000001"
    assert result.raw_code == "processing"


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\xffnot-a-gateway-answer{{",
        b'{"id": "re_1", "object": "refund", "amount": 1, "currency": "usd"}',
        b'{"id": "pi_1", "object": "payment_intent", "amount": 1, "currency": "xxx", '
        b'"status": "succeeded", "amount_received": 1}',
        b'{"unexpected": true}',
    ],
)
def test_unreadable_success_bodies_are_never_approvals(body: bytes) -> None:
    result = from_payment_response(Operation.SALE, reply(200, body))
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.charge_may_exist
    assert result.raw_code == "200"


def test_refund_samples() -> None:
    done = from_refund_response(sample("refund_succeeded"))
    assert (done.outcome, done.amount, done.transaction_id) == (
        Outcome.APPROVED,
        700,
        "re_3PqRefd000000000000001",
    )
    pending = from_refund_response(sample("refund_pending"))
    assert pending.outcome is Outcome.GATEWAY_ERROR and pending.charge_may_exist
    too_much = from_refund_response(sample("refund_over_unrefunded"))
    assert too_much.decline_reason is DeclineReason.INVALID_AMOUNT
    assert too_much.outcome is Outcome.HARD_DECLINE


def test_verify_samples() -> None:
    assert from_verify_response(sample("balance")).outcome is Outcome.APPROVED
    assert from_verify_response(sample("bad_api_key")).outcome is Outcome.CONFIG_ERROR


def test_lookup_samples() -> None:
    refunded = from_inquire_response(sample("lookup_refunded"))
    assert (refunded.outcome, refunded.state) == (Outcome.APPROVED, GatewayState.REFUNDED)
    assert refunded.amount == 1999
    missing = from_inquire_response(sample("no_such_payment_intent"))
    assert missing.state is GatewayState.NOT_FOUND
    assert missing.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND


def test_search_prefers_the_intent_that_moved_money_over_a_newer_decline() -> None:
    result = from_search_response(sample("search_two_intents"), order_id="1006")
    assert result.transaction_id == "pi_3PqRetry00000000000001"
    assert (result.state, result.amount) == (GatewayState.AUTHORIZED, 2500)


def test_search_ignores_intents_of_other_orders() -> None:
    result = from_search_response(sample("search_two_intents"), order_id="1007")
    assert result.state is GatewayState.NOT_FOUND


def test_the_recent_list_finds_what_search_has_not_indexed_yet() -> None:
    result = from_recent_response(sample("search_two_intents"), order_id="1006")
    assert (result.outcome, result.state) == (Outcome.APPROVED, GatewayState.AUTHORIZED)
    assert result.transaction_id == "pi_3PqRetry00000000000001"


def test_a_truncated_recent_list_cannot_rule_an_order_out() -> None:
    result = from_recent_response(sample("list_truncated"), order_id="1001")
    assert result.state is GatewayState.UNKNOWN
    assert result.outcome is Outcome.GATEWAY_ERROR


def test_messages_never_carry_card_numbers_or_keys() -> None:
    text = "card 4242 4242 4242 4241 declined; key sk_test_abcdefghijklmnop1234"
    cleaned = clean_message(text) or ""
    assert "4242 4242" not in cleaned and "abcdefghijklmnop" not in cleaned
    assert cleaned.startswith("card ••••4241")


def test_credentials_schema_describes_a_write_only_secret() -> None:
    schema = StripeConnector.credentials_schema
    assert schema["required"] == ["secret_key"]
    assert schema["additionalProperties"] is False
    for spec in schema["properties"].values():
        assert spec["title"] and spec["description"]
    assert schema["properties"]["secret_key"]["writeOnly"] is True
    assert StripeConnector.base_urls[Environment.PRODUCTION] == "https://api.stripe.com"


# --- 2. every operation over real loopback HTTP ------------------------------------------------


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    with live_server(create_app()) as url:
        yield url


@pytest.fixture
async def url(live_url: str, http: httpx.AsyncClient) -> str:
    reset = await http.post(f"{live_url}/_sandbox/reset")
    assert reset.status_code == 200
    return live_url


@pytest.fixture
def stripe(http: httpx.AsyncClient, url: str) -> StripeConnector:
    return connector(http, url)


async def ledger(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await http.get(f"{url}/_sandbox/transactions")
    return list(response.json())


async def set_fault(http: httpx.AsyncClient, url: str, mode: str, **extra: Any) -> None:
    response = await http.post(f"{url}/_sandbox/faults", json={"mode": mode, **extra})
    assert response.status_code == 200


async def test_sale_with_a_raw_card(
    stripe: StripeConnector, http: httpx.AsyncClient, url: str
) -> None:
    request = payment()
    result = await stripe.sale(request)
    assert result.outcome is Outcome.APPROVED
    assert result.transaction_id and result.transaction_id.startswith("pi_")
    assert (result.amount, result.avs, result.cvv) == (1999, AvsResult.MATCH, CvvResult.MATCH)
    [txn] = await ledger(http, url)
    assert (txn["id"], txn["state"], txn["order_id"]) == (
        result.transaction_id,
        "captured",
        request.order_id,
    )
    assert VISA not in json.dumps(txn)  # the sandbox keeps the last four only


async def test_sale_with_a_token(stripe: StripeConnector) -> None:
    result = await stripe.sale(payment(token="pm_card_mastercard", amount=2500, currency="EUR"))
    assert (result.outcome, result.amount) == (Outcome.APPROVED, 2500)


async def test_authorize_then_capture_the_whole_amount(stripe: StripeConnector) -> None:
    auth = await stripe.authorize(payment(amount=4200))
    assert (auth.outcome, auth.amount) == (Outcome.APPROVED, 4200)
    assert auth.transaction_id
    capture = await stripe.capture(CaptureRequest(auth.transaction_id, None, "USD"))
    assert (capture.outcome, capture.amount) == (Outcome.APPROVED, 4200)
    assert capture.transaction_id == auth.transaction_id


async def test_void_an_authorization(stripe: StripeConnector) -> None:
    auth = await stripe.authorize(payment())
    assert auth.transaction_id
    void = await stripe.void(VoidRequest(auth.transaction_id))
    assert (void.outcome, void.raw_code) == (Outcome.APPROVED, "canceled")
    found = await stripe.inquire(InquireRequest(transaction_id=auth.transaction_id))
    assert found.state is GatewayState.VOIDED
    again = await stripe.void(VoidRequest(auth.transaction_id))
    assert again.decline_reason is DeclineReason.INVALID_STATE


async def test_verify_checks_the_key_without_moving_money(
    stripe: StripeConnector, http: httpx.AsyncClient, url: str
) -> None:
    assert (await stripe.verify()).outcome is Outcome.APPROVED
    assert await ledger(http, url) == []


async def test_inquire_by_id_and_by_order_id(stripe: StripeConnector) -> None:
    request = payment(amount=3100)
    sale = await stripe.sale(request)
    by_id = await stripe.inquire(InquireRequest(transaction_id=sale.transaction_id))
    by_order = await stripe.inquire(InquireRequest(order_id=request.order_id))
    for found in (by_id, by_order):
        assert (found.outcome, found.state) == (Outcome.APPROVED, GatewayState.CAPTURED)
        assert (found.transaction_id, found.amount) == (sale.transaction_id, 3100)


async def test_inquire_finds_nothing_for_unknown_ids(stripe: StripeConnector) -> None:
    by_order = await stripe.inquire(InquireRequest(order_id=order()))
    by_id = await stripe.inquire(InquireRequest(transaction_id="pi_unknown"))
    for missing in (by_order, by_id):
        assert missing.state is GatewayState.NOT_FOUND
        assert missing.outcome is Outcome.HARD_DECLINE
        assert missing.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND


async def test_inquire_by_order_reports_a_declined_attempt(stripe: StripeConnector) -> None:
    request = payment(card=card("4000000000000002"))
    assert (await stripe.sale(request)).outcome is Outcome.SOFT_DECLINE
    found = await stripe.inquire(InquireRequest(order_id=request.order_id))
    assert (found.outcome, found.state) == (Outcome.APPROVED, GatewayState.DECLINED)


# --- 5. lifecycle -------------------------------------------------------------------------------


async def test_partial_capture_then_refunds_up_to_the_captured_amount(
    stripe: StripeConnector,
) -> None:
    auth = await stripe.authorize(payment(amount=5000))
    pi = str(auth.transaction_id)
    too_much = await stripe.capture(CaptureRequest(pi, 5001, "USD"))
    assert too_much.decline_reason is DeclineReason.INVALID_AMOUNT
    capture = await stripe.capture(CaptureRequest(pi, 3000, "USD"))
    assert (capture.outcome, capture.amount) == (Outcome.APPROVED, 3000)
    twice = await stripe.capture(CaptureRequest(pi, 1000, "USD"))
    assert (twice.outcome, twice.decline_reason) == (
        Outcome.HARD_DECLINE,
        DeclineReason.INVALID_STATE,
    )

    first = await stripe.refund(RefundRequest(pi, 1000, "USD"))
    second = await stripe.refund(RefundRequest(pi, 1500, "USD", reason="requested_by_customer"))
    assert [first.outcome, second.outcome] == [Outcome.APPROVED, Outcome.APPROVED]
    assert [first.amount, second.amount] == [1000, 1500]
    assert first.transaction_id != second.transaction_id
    state = await stripe.inquire(InquireRequest(transaction_id=pi))
    assert (state.state, state.amount) == (GatewayState.PARTIALLY_REFUNDED, 3000)

    beyond = await stripe.refund(RefundRequest(pi, 501, "USD"))
    assert (beyond.outcome, beyond.decline_reason) == (
        Outcome.HARD_DECLINE,
        DeclineReason.INVALID_AMOUNT,
    )
    assert beyond.raw_message and "($5.01)" in beyond.raw_message
    rest = await stripe.refund(RefundRequest(pi, None, "USD"))
    assert (rest.outcome, rest.amount) == (Outcome.APPROVED, 500)
    nothing_left = await stripe.refund(RefundRequest(pi, 100, "USD"))
    assert nothing_left.decline_reason is DeclineReason.INVALID_STATE
    assert nothing_left.raw_code == "charge_already_refunded"
    final = await stripe.inquire(InquireRequest(transaction_id=pi))
    assert final.state is GatewayState.REFUNDED


async def test_void_after_capture_is_refused(stripe: StripeConnector) -> None:
    sale = await stripe.sale(payment())
    void = await stripe.void(VoidRequest(str(sale.transaction_id)))
    assert (void.outcome, void.decline_reason) == (
        Outcome.HARD_DECLINE,
        DeclineReason.INVALID_STATE,
    )
    assert void.raw_code == "payment_intent_unexpected_state"
    assert void.transaction_id == sale.transaction_id


async def test_an_uncaptured_authorization_cannot_be_refunded(stripe: StripeConnector) -> None:
    auth = await stripe.authorize(payment())
    refund = await stripe.refund(RefundRequest(str(auth.transaction_id), None, "USD"))
    assert refund.decline_reason is DeclineReason.INVALID_STATE


@pytest.mark.parametrize("operation", ["capture", "void", "refund"])
async def test_unknown_transaction_ids_are_not_found(
    stripe: StripeConnector, operation: str
) -> None:
    calls = {
        "capture": lambda: stripe.capture(CaptureRequest("pi_missing", None, "USD")),
        "void": lambda: stripe.void(VoidRequest("pi_missing")),
        "refund": lambda: stripe.refund(RefundRequest("pi_missing", None, "USD")),
    }
    result = await calls[operation]()
    assert (result.outcome, result.decline_reason) == (
        Outcome.HARD_DECLINE,
        DeclineReason.TRANSACTION_NOT_FOUND,
    )


# --- 4. each outcome class ----------------------------------------------------------------------


async def test_wrong_credentials_are_a_config_error(http: httpx.AsyncClient, url: str) -> None:
    wrong = connector(http, url, credentials={"secret_key": "sk_test_wrongKey000000000000wxyz"})
    for result in (await wrong.sale(payment()), await wrong.verify()):
        assert result.outcome is Outcome.CONFIG_ERROR
        assert result.raw_message and result.raw_message.endswith("wxyz")
        assert "wrongKey" not in result.raw_message
        assert not result.charge_may_exist


async def test_a_live_key_is_refused_before_sending_in_the_sandbox_environment(
    http: httpx.AsyncClient, url: str
) -> None:
    live = connector(http, url, credentials={"secret_key": "sk_live_realKey0000000000000000"})
    result = await live.sale(payment())
    assert (result.outcome, result.request_sent) == (Outcome.CONFIG_ERROR, False)
    assert await ledger(http, url) == []


async def test_missing_credentials_are_a_config_error(http: httpx.AsyncClient, url: str) -> None:
    result = await connector(http, url, credentials={}).verify()
    assert (result.outcome, result.request_sent) == (Outcome.CONFIG_ERROR, False)


@pytest.mark.parametrize("mode", ["error", "malformed"])
async def test_a_broken_answer_is_a_gateway_error_and_the_charge_exists(
    stripe: StripeConnector, http: httpx.AsyncClient, url: str, mode: str
) -> None:
    await set_fault(http, url, mode, count=1)
    request = payment()
    result = await stripe.sale(request)
    assert result.outcome is Outcome.GATEWAY_ERROR
    assert result.request_sent and result.charge_may_exist
    assert result.retryable  # retry advice from base: the same request may be repeated
    # The sandbox processed the sale before the answer broke, like a lost real answer.
    found = await stripe.inquire(InquireRequest(order_id=request.order_id))
    assert (found.state, found.amount) == (GatewayState.CAPTURED, 1999)


async def test_nothing_listening_is_an_error_before_send(http: httpx.AsyncClient) -> None:
    nowhere = connector(http, f"http://127.0.0.1:{free_port()}")
    result = await nowhere.sale(payment())
    assert result.outcome is Outcome.ERROR_BEFORE_SEND
    assert result.request_sent is False
    assert result.retryable and not result.charge_may_exist


async def test_a_hung_answer_is_a_timeout_after_send_and_inquiry_finds_the_charge(
    http: httpx.AsyncClient, url: str
) -> None:
    impatient = connector(http, url, read=0.3)
    await set_fault(http, url, "hang", count=1)
    request = payment(amount=2750)
    started = time.perf_counter()
    result = await impatient.sale(request)
    assert time.perf_counter() - started < 2
    assert result.outcome is Outcome.TIMEOUT_AFTER_SEND
    assert result.request_sent and result.charge_may_exist
    # The sandbox acted on the request before hanging, as a real gateway whose answer was lost.
    found = await connector(http, url).inquire(InquireRequest(order_id=request.order_id))
    assert (found.outcome, found.state) == (Outcome.APPROVED, GatewayState.CAPTURED)
    assert found.amount == 2750 and found.transaction_id


async def test_a_slow_answer_within_the_timeout_is_still_an_approval(
    stripe: StripeConnector, http: httpx.AsyncClient, url: str
) -> None:
    # No `count`: Faults._take() clears delay_ms with the count, so a counted slow fault
    # would not wait (reported); the url fixture's reset clears this one.
    await set_fault(http, url, "slow", delay_ms=150)
    result = await stripe.sale(payment())
    await set_fault(http, url, "none")
    assert result.outcome is Outcome.APPROVED
    assert result.latency_ms >= 150


async def test_idempotency_key_replays_the_first_answer(
    stripe: StripeConnector, http: httpx.AsyncClient, url: str
) -> None:
    key = f"idem-{uuid4()}"
    request = payment(idempotency_key=key)
    first = await stripe.sale(request)
    replay = await stripe.sale(request)
    assert first.outcome is replay.outcome is Outcome.APPROVED
    assert replay.transaction_id == first.transaction_id
    assert len(await ledger(http, url)) == 1
    other = await stripe.sale(payment(amount=5000, order_id=request.order_id, idempotency_key=key))
    assert (other.decline_reason, other.raw_code) == (
        DeclineReason.INVALID_REQUEST,
        "idempotency_error",
    )


async def test_a_retry_with_the_same_key_after_a_timeout_gets_the_lost_answer(
    http: httpx.AsyncClient, url: str
) -> None:
    await set_fault(http, url, "hang", count=1)
    request = payment(idempotency_key=f"idem-{uuid4()}")
    lost = await connector(http, url, read=0.3).sale(request)
    assert lost.outcome is Outcome.TIMEOUT_AFTER_SEND
    retry = await connector(http, url).sale(request)
    assert retry.outcome is Outcome.APPROVED
    assert len(await ledger(http, url)) == 1


async def test_a_replayed_decline_stays_a_decline(stripe: StripeConnector) -> None:
    request = payment(card=card("4000000000009995"), idempotency_key=f"idem-{uuid4()}")
    first, replay = await stripe.sale(request), await stripe.sale(request)
    assert first.decline_reason is replay.decline_reason is DeclineReason.INSUFFICIENT_FUNDS
    assert first.transaction_id == replay.transaction_id


async def test_sandbox_replays_carry_the_idempotent_replayed_header(
    http: httpx.AsyncClient, url: str
) -> None:
    headers = {
        "Authorization": f"Bearer {SANDBOX_CREDENTIALS['secret_key']}",
        "Idempotency-Key": f"idem-{uuid4()}",
    }
    body = {
        "amount": "1000",
        "currency": "usd",
        "confirm": "true",
        "payment_method": "pm_card_visa",
    }
    first = await http.post(f"{url}/v1/payment_intents", data=body, headers=headers)
    again = await http.post(f"{url}/v1/payment_intents", data=body, headers=headers)
    assert first.json() == again.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.headers["Request-Id"].startswith("req_")


async def test_sandbox_lists_payment_intents_by_creation_time(
    stripe: StripeConnector, http: httpx.AsyncClient, url: str
) -> None:
    sale = await stripe.sale(payment(token="pm_card_visa"))
    auth = {"Authorization": f"Bearer {SANDBOX_CREDENTIALS['secret_key']}"}
    now = int(time.time())
    recent = await http.get(
        f"{url}/v1/payment_intents", params={"created[gte]": now - 60}, headers=auth
    )
    future = await http.get(
        f"{url}/v1/payment_intents", params={"created[gt]": now + 60}, headers=auth
    )
    assert [pi["id"] for pi in recent.json()["data"]] == [sale.transaction_id]
    assert future.json() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": "/v1/payment_intents",
    }


async def test_sandbox_accepts_the_key_as_basic_username(http: httpx.AsyncClient, url: str) -> None:
    response = await http.get(f"{url}/v1/balance", auth=(SANDBOX_CREDENTIALS["secret_key"], ""))
    assert response.status_code == 200
    missing = await http.get(f"{url}/v1/balance")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"


# --- 2b. in-process through the ASGI transport -------------------------------------------------


@pytest.fixture
async def asgi_http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


@pytest.fixture
def local(asgi_http: httpx.AsyncClient) -> StripeConnector:
    return connector(asgi_http, "http://stripe.sandbox")


async def test_in_process_sale_refund_and_inquiry(local: StripeConnector) -> None:
    request = payment(amount=1200)
    sale = await local.sale(request)
    assert sale.outcome is Outcome.APPROVED
    refund = await local.refund(RefundRequest(str(sale.transaction_id), 200, "USD"))
    assert (refund.outcome, refund.amount) == (Outcome.APPROVED, 200)
    found = await local.inquire(InquireRequest(order_id=request.order_id))
    assert (found.state, found.amount) == (GatewayState.PARTIALLY_REFUNDED, 1200)
    assert (await local.verify()).outcome is Outcome.APPROVED


async def test_an_account_without_raw_card_access_is_a_config_error() -> None:
    transport = httpx.ASGITransport(app=create_app(allow_raw_cards=False))
    async with httpx.AsyncClient(transport=transport) as client:
        stripe = connector(client, "http://stripe.sandbox")
        raw = await stripe.sale(payment())
        assert raw.outcome is Outcome.CONFIG_ERROR
        assert raw.raw_message and "card numbers directly" in raw.raw_message
        assert (await stripe.sale(payment(token="pm_card_visa"))).outcome is Outcome.APPROVED


# --- 3. every documented test trigger ----------------------------------------------------------

A, SOFT, HARD = Outcome.APPROVED, Outcome.SOFT_DECLINE, Outcome.HARD_DECLINE
R = DeclineReason
U = AvsResult.UNAVAILABLE

# number, test PaymentMethod, outcome, reason, AVS, CVV (card sent with CVC, line1 and zip)
TRIGGERS: list[tuple[str, str | None, Outcome, DeclineReason | None, AvsResult, CvvResult]] = [
    (VISA, "pm_card_visa", A, None, AvsResult.MATCH, CvvResult.MATCH),
    (
        "4000000000000002",
        "pm_card_visa_chargeDeclined",
        SOFT,
        R.GENERIC_DECLINE,
        U,
        CvvResult.UNAVAILABLE,
    ),
    (
        "4000000000009995",
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        SOFT,
        R.INSUFFICIENT_FUNDS,
        U,
        CvvResult.UNAVAILABLE,
    ),
    (
        "4000000000009987",
        "pm_card_visa_chargeDeclinedLostCard",
        HARD,
        R.STOLEN_OR_LOST,
        U,
        CvvResult.UNAVAILABLE,
    ),
    (
        "4000000000009979",
        "pm_card_visa_chargeDeclinedStolenCard",
        HARD,
        R.STOLEN_OR_LOST,
        U,
        CvvResult.UNAVAILABLE,
    ),
    (
        "4000000000006975",
        "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
        SOFT,
        R.LIMIT_EXCEEDED,
        U,
        CvvResult.UNAVAILABLE,
    ),
    (
        "4000000000000069",
        "pm_card_chargeDeclinedExpiredCard",
        HARD,
        R.EXPIRED_CARD,
        U,
        CvvResult.UNAVAILABLE,
    ),
    (
        "4000000000000127",
        "pm_card_chargeDeclinedIncorrectCvc",
        HARD,
        R.INVALID_CVV,
        U,
        CvvResult.NO_MATCH,
    ),
    (
        "4000000000000119",
        "pm_card_chargeDeclinedProcessingError",
        SOFT,
        R.PROCESSING_ERROR,
        U,
        CvvResult.UNAVAILABLE,
    ),
    ("4100000000000019", "pm_card_radarBlock", HARD, R.FRAUD_SUSPECTED, U, CvvResult.UNAVAILABLE),
    ("4000000000000010", "pm_card_avsFail", A, None, AvsResult.NO_MATCH, CvvResult.MATCH),
    ("4000000000000028", "pm_card_avsLine1Fail", A, None, AvsResult.POSTAL_ONLY, CvvResult.MATCH),
    ("4000000000000036", "pm_card_avsZipFail", A, None, AvsResult.ADDRESS_ONLY, CvvResult.MATCH),
    ("4000000000000044", "pm_card_avsUnchecked", A, None, U, CvvResult.MATCH),
    ("4000000000000101", "pm_card_cvcCheckFail", HARD, R.INVALID_CVV, U, CvvResult.NO_MATCH),
    ("4000002500003155", None, SOFT, R.AUTHENTICATION_REQUIRED, U, CvvResult.UNAVAILABLE),
    (
        "4000002760003184",
        "pm_card_authenticationRequired",
        SOFT,
        R.AUTHENTICATION_REQUIRED,
        U,
        CvvResult.UNAVAILABLE,
    ),
    (
        "4000000000003220",
        "pm_card_threeDSecure2Required",
        SOFT,
        R.AUTHENTICATION_REQUIRED,
        U,
        CvvResult.UNAVAILABLE,
    ),
]


def check_trigger(
    result: GatewayResult,
    outcome: Outcome,
    reason: DeclineReason | None,
    avs: AvsResult,
    cvv: CvvResult,
) -> None:
    assert (result.outcome, result.decline_reason) == (outcome, reason)
    assert result.retryable is (RETRYABLE[reason] if reason else False)
    assert (result.avs, result.cvv) == (avs, cvv)
    # Every attempt that reached the card network leaves a PaymentIntent to look up.
    assert result.transaction_id and result.transaction_id.startswith("pi_")


@pytest.mark.parametrize(("number", "token", "outcome", "reason", "avs", "cvv"), TRIGGERS)
async def test_trigger_cards(
    local: StripeConnector,
    number: str,
    token: str | None,
    outcome: Outcome,
    reason: DeclineReason | None,
    avs: AvsResult,
    cvv: CvvResult,
) -> None:
    result = await local.sale(payment(card=card(number)))
    check_trigger(result, outcome, reason, avs, cvv)


@pytest.mark.parametrize(
    ("number", "token", "outcome", "reason", "avs", "cvv"), [t for t in TRIGGERS if t[1]]
)
async def test_trigger_payment_methods(
    local: StripeConnector,
    number: str,
    token: str,
    outcome: Outcome,
    reason: DeclineReason | None,
    avs: AvsResult,
    cvv: CvvResult,
) -> None:
    result = await local.authorize(payment(token=token))
    check_trigger(result, outcome, reason, avs, cvv)


async def test_trigger_over_loopback_http_matches(stripe: StripeConnector) -> None:
    result = await stripe.sale(payment(card=card("4000000000009995")))
    check_trigger(result, SOFT, R.INSUFFICIENT_FUNDS, U, CvvResult.UNAVAILABLE)


@pytest.mark.parametrize(
    ("changes", "reason", "raw_code"),
    [
        ({"number": "4242424242424241"}, R.INVALID_CARD, "incorrect_number"),
        ({"number": "42424242"}, R.INVALID_CARD, "incorrect_number"),
        ({"exp_month": 13}, R.INVALID_EXPIRY, "invalid_expiry_month"),
        ({"exp_year": 2020}, R.INVALID_EXPIRY, "invalid_expiry_year"),
        ({"cvv": "99"}, R.INVALID_CVV, "invalid_cvc"),
    ],
)
async def test_invalid_card_data_is_refused_before_any_payment_intent(
    local: StripeConnector,
    asgi_http: httpx.AsyncClient,
    changes: dict[str, Any],
    reason: DeclineReason,
    raw_code: str,
) -> None:
    bad = card(**{"number": VISA, "cvv": CVV, **changes})
    result = await local.sale(payment(card=bad))
    assert (result.outcome, result.decline_reason, result.raw_code) == (HARD, reason, raw_code)
    assert result.transaction_id is None
    transactions = await asgi_http.get("http://stripe.sandbox/_sandbox/transactions")
    assert transactions.json() == []


async def test_checks_run_only_on_fields_that_were_sent(local: StripeConnector) -> None:
    no_cvc = await local.sale(payment(card=card("4000000000000101", cvv=None)))
    assert (no_cvc.outcome, no_cvc.cvv) == (A, CvvResult.NOT_PROVIDED)
    no_address = await local.sale(payment(card=card("4000000000000010"), billing=None))
    assert (no_address.outcome, no_address.avs) == (A, U)
    zip_only = await local.sale(
        payment(card=card("4000000000000028"), billing=Address(postal_code="94107"))
    )
    assert zip_only.avs is AvsResult.POSTAL_ONLY


@pytest.mark.parametrize(
    ("amount", "currency", "outcome", "raw_code"),
    [
        (49, "USD", HARD, "amount_too_small"),
        (50, "USD", A, "succeeded"),
        (29, "GBP", HARD, "amount_too_small"),
        (49, "JPY", HARD, "amount_too_small"),
        (500, "JPY", A, "succeeded"),
        (100_000_000, "USD", HARD, "amount_too_large"),
    ],
)
async def test_amount_limits(
    local: StripeConnector, amount: int, currency: str, outcome: Outcome, raw_code: str
) -> None:
    result = await local.sale(payment(amount=amount, currency=currency, token="pm_card_visa"))
    assert (result.outcome, result.raw_code) == (outcome, raw_code)
    if outcome is HARD:
        assert result.decline_reason is R.INVALID_AMOUNT
    else:
        assert result.amount == amount


async def test_an_unknown_payment_method_is_an_invalid_card(local: StripeConnector) -> None:
    result = await local.sale(payment(token="pm_card_doesNotExist"))
    assert (result.outcome, result.decline_reason) == (HARD, R.INVALID_CARD)


# --- 6. logs stay clean -------------------------------------------------------------------------


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level


async def test_logs_never_show_the_card_cvv_or_key(
    captured_logs: io.StringIO, http: httpx.AsyncClient, url: str
) -> None:
    stripe = connector(http, url)
    sale = await stripe.sale(payment(card=card(VISA, CVV)))
    declined = await stripe.sale(payment(card=card("4000000000000127", CVV)))
    assert sale.approved and declined.decline_reason is R.INVALID_CVV
    text = captured_logs.getvalue()
    assert '"event": "gateway.call"' in text  # the connector did log both calls
    assert text.count("gateway.call") >= 2
    for secret in (VISA, "4000000000000127", SANDBOX_CREDENTIALS["secret_key"]):
        assert secret not in text
    assert not re.search(rf"(?<![\w.]){CVV}(?!\w)", text)
    assert "[cvc]" not in text and "[number]" not in text
    for result in (sale, declined):
        assert VISA not in repr(result) and CVV not in str(result.raw_message)
