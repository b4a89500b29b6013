"""The Stripe sandbox driven by Stripe's own Python library (`stripe`), over loopback HTTP: what
an integration written against api.stripe.com does must work here unchanged."""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from avnz.gateways.stripe.payloads import API_VERSION
from avnz.gateways.stripe.sandbox import create_app
from avnz.gateways.stripe.sandbox.tables import SANDBOX_CREDENTIALS
from tests.support.live_server import live_server

KEY = SANDBOX_CREDENTIALS["secret_key"]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with live_server(create_app()) as base:
        yield base


@pytest.fixture
def client(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": url}, max_network_retries=0)


def confirmed(client: stripe.StripeClient, method: str, amount: int) -> Any:
    """A PaymentIntent of `amount` cents paid at once with PaymentMethod `method`."""
    params: dict[str, Any] = {"amount": amount, "currency": "usd", "payment_method": method}
    return client.v1.payment_intents.create(
        params={**params, "confirm": True, "payment_method_types": ["card"]}
    )


def test_payment_methods_customers_attach_list_and_detach(client: stripe.StripeClient) -> None:
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"token": "tok_visa"}, "metadata": {"k": "v"}}
    )
    assert (method.object, method.type, method.card.last4, method.card.brand) == (
        "payment_method",
        "card",
        "4242",
        "visa",
    )
    assert method.customer is None and method.metadata.to_dict() == {"k": "v"}
    customer = client.v1.customers.create(params={"email": "ada@example.com", "name": "Ada"})
    assert customer.id.startswith("cus_") and customer.email == "ada@example.com"

    attached = client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    assert attached.customer == customer.id
    assert client.v1.payment_methods.retrieve(method.id).customer == customer.id
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [m.id for m in listed.data] == [method.id]
    by_query = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert [m.id for m in by_query.data] == [method.id]

    updated = client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": method.id}}
    )
    assert updated.invoice_settings.default_payment_method == method.id

    detached = client.v1.payment_methods.detach(method.id)
    assert detached.customer is None
    assert client.v1.customers.payment_methods.list(customer.id).data == []


def test_a_test_payment_method_attached_is_stored_as_a_copy(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"name": "Grace"})
    copy = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})
    assert copy.id != "pm_card_mastercard" and copy.card.brand == "mastercard"
    assert client.v1.payment_methods.retrieve("pm_card_mastercard").customer is None


def test_create_then_confirm_with_a_customers_card_and_refund(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"email": "lin@example.com"})
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"token": "tok_visa"}}
    )
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    intent = client.v1.payment_intents.create(
        params={
            "amount": 2500,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": method.id,
            "payment_method_types": ["card"],
        }
    )
    assert intent.status == "requires_confirmation"
    confirmed = client.v1.payment_intents.confirm(intent.id, params={"expand": ["latest_charge"]})
    assert confirmed.status == "succeeded" and confirmed.amount_received == 2500
    assert confirmed.payment_method == method.id and confirmed.customer == customer.id
    assert confirmed.latest_charge.payment_method_details.card.last4 == "4242"

    partial = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    rest = client.v1.refunds.create(params={"charge": confirmed.latest_charge.id})
    assert (partial.amount, rest.amount, rest.status) == (1000, 1500, "succeeded")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refused.value.code == "charge_already_refunded"


def test_authorize_capture_and_void(client: stripe.StripeClient) -> None:
    def authorize() -> Any:
        return client.v1.payment_intents.create(
            params={
                "amount": 4000,
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "confirm": True,
                "capture_method": "manual",
                "payment_method_types": ["card"],
            }
        )

    held = authorize()
    assert (held.status, held.amount_capturable) == ("requires_capture", 4000)
    captured = client.v1.payment_intents.capture(held.id, params={"amount_to_capture": 3000})
    assert (captured.status, captured.amount_received) == ("succeeded", 3000)

    voided = client.v1.payment_intents.cancel(
        authorize().id, params={"cancellation_reason": "requested_by_customer"}
    )
    assert (voided.status, voided.cancellation_reason) == ("canceled", "requested_by_customer")
    with pytest.raises(stripe.InvalidRequestError) as late:
        client.v1.payment_intents.cancel(captured.id)
    assert late.value.code == "payment_intent_unexpected_state"


def test_declines_are_complete_card_errors(client: stripe.StripeClient) -> None:
    def charge(method: str) -> stripe.CardError:
        with pytest.raises(stripe.CardError) as declined:
            confirmed(client, method, 1500)
        return declined.value

    expired = charge("pm_card_chargeDeclinedExpiredCard")
    assert (expired.http_status, expired.code, expired.param) == (402, "expired_card", "exp_month")
    assert expired.error is not None
    assert expired.error.doc_url == "https://stripe.com/docs/error-codes/expired-card"
    assert expired.error.payment_intent["status"] == "requires_payment_method"
    cvc = charge("pm_card_chargeDeclinedIncorrectCvc")
    assert (cvc.code, cvc.param) == ("incorrect_cvc", "cvc")
    funds = charge("pm_card_visa_chargeDeclinedInsufficientFunds")
    assert funds.error is not None
    assert (funds.code, funds.error.decline_code) == ("card_declined", "insufficient_funds")
    assert funds.error.message == "Your card has insufficient funds."

    with pytest.raises(stripe.CardError) as bad_month:
        client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 13,
                    "exp_year": 2040,
                    "cvc": "123",
                },
            }
        )
    assert (bad_month.value.code, bad_month.value.param) == ("invalid_expiry_month", "exp_month")


def test_unknown_parameters_are_refused_by_name(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create(params={"email": "x@example.com", "favourite_color": "teal"})
    assert refused.value.http_status == 400
    assert (refused.value.code, refused.value.param) == ("parameter_unknown", "favourite_color")
    assert client.v1.customers.list(params={"email": "x@example.com"}).data == []


def test_the_key_is_checked_before_the_route(url: str) -> None:
    wrong = stripe.StripeClient(
        "sk_test_wrongwrongwrong", base_addresses={"api": url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError) as refused:
        wrong.v1.balance.retrieve()
    assert "sk_test_" in str(refused.value) and "wrongwrongwrong" not in str(refused.value)
    for key, status in (("sk_test_wrong", 401), (KEY, 404)):
        answer = httpx.get(f"{url}/v1/charges/nonexistent_route/x", auth=(key, ""))
        assert answer.status_code == status
        assert answer.json()["error"]["type"] == "invalid_request_error"


def test_stripe_version_is_echoed_and_honoured(url: str) -> None:
    form = {
        "amount": "900",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "confirm": "true",
        "payment_method_types[]": "card",
        "expand[]": "latest_charge",
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    old = httpx.post(
        f"{url}/v1/payment_intents", data=form, headers={**headers, "Stripe-Version": "2020-08-27"}
    )
    assert old.headers["Stripe-Version"] == "2020-08-27"
    assert "latest_charge" not in old.json() and old.json()["charges"]["data"][0]["paid"] is True
    new = httpx.post(
        f"{url}/v1/payment_intents",
        data=form,
        headers={**headers, "Stripe-Version": "2025-03-31.basil"},
    )
    assert new.headers["Stripe-Version"] == "2025-03-31.basil"
    assert "charges" not in new.json() and new.json()["latest_charge"]["paid"] is True
    default = httpx.get(f"{url}/v1/balance", headers=headers)
    assert default.headers["Stripe-Version"] == API_VERSION
    bad = httpx.get(f"{url}/v1/balance", headers={**headers, "Stripe-Version": "yesterday"})
    assert bad.status_code == 400 and "Invalid Stripe API version" in bad.json()["error"]["message"]


def test_setup_intents_save_a_card_for_a_customer(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"name": "Setup"})
    setup = client.v1.setup_intents.create(
        params={"customer": customer.id, "payment_method_types": ["card"]}
    )
    assert setup.status == "requires_payment_method"
    done = client.v1.setup_intents.confirm(setup.id, params={"payment_method": "pm_card_visa"})
    assert done.status == "succeeded"
    assert [m.id for m in client.v1.customers.payment_methods.list(customer.id).data] == [
        done.payment_method
    ]
    with pytest.raises(stripe.CardError) as declined:
        client.v1.setup_intents.create(
            params={
                "customer": customer.id,
                "payment_method": "pm_card_visa_chargeDeclined",
                "confirm": True,
            }
        )
    assert declined.value.code == "card_declined"
    canceled = client.v1.setup_intents.cancel(
        client.v1.setup_intents.create(params={"customer": customer.id}).id
    )
    assert canceled.status == "canceled"


def test_a_dispute_card_opens_a_dispute_that_evidence_wins(client: stripe.StripeClient) -> None:
    intent = confirmed(client, "pm_card_createDispute", 5000)
    [dispute] = client.v1.disputes.list(params={"payment_intent": intent.id}).data
    assert (dispute.status, dispute.reason, dispute.amount) == (
        "needs_response",
        "fraudulent",
        5000,
    )
    assert client.v1.disputes.retrieve(dispute.id).charge == intent.latest_charge
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refused.value.code == "charge_disputed"
    won = client.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    assert won.status == "won"

    lost = confirmed(client, "pm_card_createDispute", 800)
    [other] = client.v1.disputes.list(params={"payment_intent": lost.id}).data
    assert client.v1.disputes.close(other.id).status == "lost"


def test_webhook_events_are_signed_like_stripes(client: stripe.StripeClient) -> None:
    received: list[tuple[bytes, str]] = []

    async def hook(request: Request) -> Response:
        received.append((await request.body(), request.headers["stripe-signature"]))
        return Response(status_code=200)

    with live_server(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        endpoint = client.v1.webhook_endpoints.create(
            params={
                "url": f"{receiver}/hook",
                "enabled_events": ["payment_intent.succeeded", "charge.refunded"],
            }
        )
        assert endpoint.secret.startswith("whsec_")
        intent = confirmed(client, "pm_card_visa", 1200)
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 200})
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        client.v1.webhook_endpoints.delete(endpoint.id)

    events = [
        stripe.Webhook.construct_event(body, header, endpoint.secret) for body, header in received
    ]
    assert [e.type for e in events] == ["payment_intent.succeeded", "charge.refunded"]
    assert events[0].data.object.id == intent.id
    assert events[1].data.previous_attributes["amount_refunded"] == 0
    assert client.v1.events.retrieve(events[0].id).type == "payment_intent.succeeded"
    body, header = received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, "whsec_someoneelse")
    tampered = json.dumps({**json.loads(body), "type": "charge.refunded"})
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, header, endpoint.secret)
