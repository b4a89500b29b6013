"""The Authorize.Net sandbox driven by Authorize.Net's own Python SDK (`authorizenet`, which
speaks XML), over loopback HTTP; and the same API in JSON answering in JSON."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from authorizenet import apicontractsv1
from authorizenet.apicontrollers import (
    authenticateTestController,
    createTransactionController,
    getTransactionDetailsController,
)

from avnz.gateways.authorize_net.sandbox import create_app
from avnz.gateways.authorize_net.sandbox.tables import API_PATH, SANDBOX_CREDENTIALS
from tests.support.live_server import live_server

EXPIRY = f"{datetime.now(UTC).year + 2}-12"


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with live_server(create_app()) as url:
        yield url


@pytest.fixture
def endpoint(base: str) -> str:
    return f"{base}{API_PATH}"


def auth(key: str = SANDBOX_CREDENTIALS["transaction_key"]) -> Any:
    merchant = apicontractsv1.merchantAuthenticationType()
    merchant.name = SANDBOX_CREDENTIALS["api_login_id"]
    merchant.transactionKey = key
    return merchant


def transaction(kind: str, amount: str | None = None, **fields: Any) -> Any:
    request = apicontractsv1.transactionRequestType()
    request.transactionType = kind
    if amount is not None:
        request.amount = amount
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def card_payment(number: str = "4111111111111111", code: str = "900") -> Any:
    card = apicontractsv1.creditCardType()
    card.cardNumber, card.expirationDate, card.cardCode = number, EXPIRY, code
    payment = apicontractsv1.paymentType()
    payment.creditCard = card
    return payment


def run(endpoint: str, request: Any, key: str | None = None) -> Any:
    """Send one createTransactionRequest through the SDK and return its parsed answer."""
    envelope = apicontractsv1.createTransactionRequest()
    envelope.merchantAuthentication = auth() if key is None else auth(key)
    envelope.refId = "sdk-test"
    envelope.transactionRequest = request
    controller = createTransactionController(envelope)
    controller.setenvironment(endpoint)
    controller.execute()
    return controller.getresponse()


def pay(endpoint: str, kind: str = "authCaptureTransaction", amount: str = "25.00") -> Any:
    answer = run(endpoint, transaction(kind, amount, payment=card_payment()))
    assert answer.messages.resultCode == "Ok"
    assert str(answer.transactionResponse.responseCode) == "1"
    return answer.transactionResponse


def details(endpoint: str, trans_id: str) -> Any:
    request = apicontractsv1.getTransactionDetailsRequest()
    request.merchantAuthentication = auth()
    request.transId = trans_id
    controller = getTransactionDetailsController(request)
    controller.setenvironment(endpoint)
    controller.execute()
    return controller.getresponse()


def test_auth_capture_carries_the_network_transaction_id(endpoint: str) -> None:
    sale = pay(endpoint)
    duplicate = run(
        endpoint, transaction("authCaptureTransaction", "25.00", payment=card_payment())
    )
    assert str(duplicate.transactionResponse.errors.error[0].errorCode) == "11"
    assert str(sale.cvvResultCode) == "M" and str(sale.accountNumber) == "XXXX1111"
    assert len(str(sale.networkTransId)) == 15
    found = details(endpoint, str(sale.transId))
    assert found.messages.resultCode == "Ok"
    assert str(found.transaction.transactionStatus) == "capturedPendingSettlement"
    assert str(found.transaction.networkTransId) == str(sale.networkTransId)


def test_auth_only_then_prior_auth_capture(endpoint: str) -> None:
    held = pay(endpoint, "authOnlyTransaction", "40.00")
    assert str(details(endpoint, str(held.transId)).transaction.transactionStatus) == (
        "authorizedPendingCapture"
    )
    captured = run(
        endpoint, transaction("priorAuthCaptureTransaction", "30.00", refTransId=str(held.transId))
    )
    assert str(captured.transactionResponse.responseCode) == "1"
    again = run(endpoint, transaction("priorAuthCaptureTransaction", refTransId=str(held.transId)))
    assert str(again.transactionResponse.messages.message[0].code) == "311"


def test_void(endpoint: str) -> None:
    sale = pay(endpoint, amount="26.00")  # another amount: the same one within 2 min is a duplicate
    voided = run(endpoint, transaction("voidTransaction", refTransId=str(sale.transId)))
    assert str(voided.transactionResponse.responseCode) == "1"
    assert str(details(endpoint, str(sale.transId)).transaction.transactionStatus) == "voided"


def test_refund_after_settlement(endpoint: str, base: str) -> None:
    sale = pay(endpoint, amount="50.00")
    refund_card = apicontractsv1.creditCardType()
    refund_card.cardNumber, refund_card.expirationDate = "1111", "XXXX"
    payment = apicontractsv1.paymentType()
    payment.creditCard = refund_card
    request = transaction(
        "refundTransaction", "20.00", payment=payment, refTransId=str(sale.transId)
    )
    early = run(endpoint, request)
    assert str(early.transactionResponse.errors.error[0].errorCode) == "54"  # not settled yet
    assert httpx.post(f"{base}/_sandbox/settle").json()["settled"] >= 1
    refunded = run(endpoint, request)
    assert str(refunded.transactionResponse.responseCode) == "1"
    assert str(refunded.transactionResponse.refTransID) == str(sale.transId)


def test_bad_credentials_and_the_credentials_test(endpoint: str) -> None:
    refused = run(
        endpoint,
        transaction("authCaptureTransaction", "5.00", payment=card_payment()),
        key="WrongKey00000000",
    )
    assert refused.messages.resultCode == "Error"
    assert str(refused.messages.message[0].code) == "E00007"
    request = apicontractsv1.authenticateTestRequest()
    request.merchantAuthentication = auth()
    controller = authenticateTestController(request)
    controller.setenvironment(endpoint)
    controller.execute()
    assert controller.getresponse().messages.resultCode == "Ok"


def test_a_decline_by_zip(endpoint: str) -> None:
    bill_to = apicontractsv1.customerAddressType()
    bill_to.zip = "46282"
    answer = run(
        endpoint,
        transaction("authCaptureTransaction", "9.00", payment=card_payment(), billTo=bill_to),
    )
    assert str(answer.transactionResponse.responseCode) == "2"
    assert str(answer.transactionResponse.errors.error[0].errorCode) == "2"


def test_xml_in_xml_out_and_json_in_json_out(endpoint: str) -> None:
    login, key = SANDBOX_CREDENTIALS["api_login_id"], SANDBOX_CREDENTIALS["transaction_key"]
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<authenticateTestRequest xmlns="AnetApi/xml/v1/schema/AnetApiSchema.xsd">'
        f"<merchantAuthentication><name>{login}</name><transactionKey>{key}</transactionKey>"
        "</merchantAuthentication></authenticateTestRequest>"
    )
    as_xml = httpx.post(endpoint, content=xml, headers={"Content-Type": "text/xml"})
    assert as_xml.content.startswith(b"\xef\xbb\xbf<?xml")
    assert b"<authenticateTestResponse" in as_xml.content and b"<resultCode>Ok" in as_xml.content
    document = {
        "authenticateTestRequest": {
            "merchantAuthentication": {"name": login, "transactionKey": key}
        }
    }
    as_json = httpx.post(endpoint, json=document)
    assert json.loads(as_json.content.decode("utf-8-sig"))["messages"]["resultCode"] == "Ok"
    out_of_order = xml.replace(
        f"<name>{login}</name><transactionKey>{key}</transactionKey>",
        f"<transactionKey>{key}</transactionKey><name>{login}</name>",
    )
    refused = httpx.post(endpoint, content=out_of_order, headers={"Content-Type": "text/xml"})
    assert b"<code>E00003</code>" in refused.content
    entity = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><authenticateTestRequest/>'
    unread = httpx.post(endpoint, content=entity, headers={"Content-Type": "text/xml"})
    assert b"<ErrorResponse" in unread.content and b"E00003" in unread.content
