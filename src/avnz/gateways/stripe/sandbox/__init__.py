"""A local Stripe on the real API paths, so the connector only swaps its base URL and Stripe's
own `stripe` library works against it unchanged (reference/gateways.md, section 4;
docs.stripe.com/testing).

Credentials: the sandbox accepts one secret key, `SANDBOX_CREDENTIALS["secret_key"]`
(`sk_test_avnzSandboxStripe…`), as `Authorization: Bearer <key>` or as the Basic username. A
missing or different key gets Stripe's 401 `invalid_request_error` ("Invalid API Key provided:
sk_test_****abcd"), on every path, known or not: the key is checked before the route, so
"404 means the key works" holds. `create_app(credentials)` accepts another key instead.

Every call (calls.py): `Stripe-Version` is echoed (default: the connector's API_VERSION; a
malformed one is 400); versions before 2022-11-15 get `charges` instead of `latest_charge`. A
parameter an endpoint does not take is 400 `parameter_unknown` naming it (`TABLE` below lists
what each takes). An unknown path with a good key is Stripe's 404 JSON. Errors carry type, code,
decline_code, param (exp_month, cvc, number… for card errors), doc_url, request_log_url.

Endpoints (TABLE): PaymentIntents (create with confirm=true or confirm later, capture, cancel,
retrieve, list by `created`, search by `metadata['k']:'v'`/status/currency/amount), Refunds,
balance, PaymentMethods (create from card data or `card[token]=tok_visa`, retrieve, update,
attach, detach, list), Customers (create, retrieve, update, delete, list, their
PaymentMethods), SetupIntents (create, confirm, cancel, retrieve), Disputes (list, retrieve,
update evidence, close; disputes.py), Events and webhook endpoints whose deliveries are signed
like Stripe's (events.py, webhooks.py). `expand[]=latest_charge` (`data.latest_charge` on lists)
embeds the charge with its AVS/CVC checks.

Cards: a test PaymentMethod id as `payment_method=pm_card_…` (tokens stand for a card saved with
CVC, address line 1 and postal code, so every check runs), or a raw card as
`payment_method_data[type]=card&payment_method_data[card][number]=…` plus exp_month, exp_year,
cvc and billing_details. Real Stripe accepts raw numbers only on accounts for which it has
enabled raw card data APIs; `create_app(allow_raw_cards=False)` answers like any other account
(HTTP 402 invalid_request_error "Sending credit card numbers directly…").

Test triggers (number / PaymentMethod → result):
  4242424242424242  pm_card_visa (also _mastercard, _amex, ...)   succeeded
  4000000000000002  pm_card_visa_chargeDeclined                    card_declined/generic_decline
  4000000000009995  pm_card_visa_chargeDeclinedInsufficientFunds   card_declined/insufficient_funds
  4000000000009987  pm_card_visa_chargeDeclinedLostCard            card_declined/lost_card
  4000000000009979  pm_card_visa_chargeDeclinedStolenCard          card_declined/stolen_card
  4000000000006975  pm_card_visa_chargeDeclinedVelocityLimitExceeded  .../card_velocity_exceeded
  4000000000000069  pm_card_chargeDeclinedExpiredCard              expired_card
  4000000000000127  pm_card_chargeDeclinedIncorrectCvc             incorrect_cvc (cvc_check fail)
  4000000000000119  pm_card_chargeDeclinedProcessingError          processing_error
  4100000000000019  pm_card_radarBlock                             card_declined/fraudulent, blocked
  4000000000000010  pm_card_avsFail        succeeded; line1 and postal code checks fail
  4000000000000028  pm_card_avsLine1Fail   succeeded; line1 check fails
  4000000000000036  pm_card_avsZipFail     succeeded; postal code check fails
  4000000000000044  pm_card_avsUnchecked   succeeded; both address checks unavailable
  4000000000000101  pm_card_cvcCheckFail   cvc_check fails; declined incorrect_cvc when a CVC is
                                           sent (Radar's default "block if CVC fails" rule)
  4000002500003155, 4000002760003184 (pm_card_authenticationRequired),
  4000000000003220 (pm_card_threeDSecure2Required)   requires_action (3-D Secure)
  4000000000000259 (pm_card_createDispute)           succeeded, then disputed (fraudulent)
  4000000000002685 / 4000000000001976                disputed: product_not_received / inquiry
  4242424242424241 or any number failing Luhn          incorrect_number (no PaymentIntent made)
  exp_month outside 1-12 / a past month              invalid_expiry_month
  a past exp_year                                    invalid_expiry_year
  a CVC that is not 3-4 digits                       invalid_cvc
  amount below the currency's minimum (USD 50)       amount_too_small (HTTP 400)
  amount above 99,999,999                            amount_too_large (HTTP 400)
A check runs only when its field is sent: no postal code, no postal code check (null).

State rules: capture only from requires_capture, at most amount_capturable, once (the rest is
released); cancel from requires_payment_method/requires_capture/requires_confirmation/
requires_action; refunds only from succeeded, adding up to at most the captured amount
(amount_too_large), and charge_already_refunded once nothing is left. Declined attempts leave
the PaymentIntent in requires_payment_method with last_payment_error, as Stripe does.

Idempotency-Key (POST): the status and body of the first request that started executing are
stored and replayed with `Idempotent-Replayed: true`; the same key with other parameters gets
400 idempotency_error; validation failures (bad parameters, unknown ids, wrong state) are not
stored. Keys survive /_sandbox/reset: use fresh keys after a reset.

State: the ledger of PaymentIntents and refunds, the objects (customers, PaymentMethods,
SetupIntents, disputes, events, webhook endpoints) and the idempotency keys live in the
sandbox's store (`avnz.gateways.sandbox.store`): memory by default, a SQLite file when built
inside `store.persisting(...)` as `avnz serve`, `avnz demo` and `avnz sandbox` do.

Faults (`/_sandbox/faults`) hit the answer after the request was processed: after a hang, a
5xx or a garbled body the PaymentIntent exists, as when a real answer is lost on its way back,
and an inquiry finds it. A hung request ends when its client disconnects, so a test's server
can shut down; over the in-process ASGI transport (no disconnects, no timeouts) do not use hang.
Search is immediately consistent here; Stripe's index lags writes by up to a minute.
"""

from collections.abc import Collection, Mapping

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from avnz.gateways.sandbox.common import Ledger, SandboxState, alnum_ids, sandbox_app
from avnz.gateways.sandbox.store import SandboxStore
from avnz.gateways.stripe.sandbox.calls import Handler, StripeSandbox, route, unknown_route
from avnz.gateways.stripe.sandbox.cards import (
    attach_method,
    create_method,
    detach_method,
    list_methods,
    retrieve_method,
    update_method,
)
from avnz.gateways.stripe.sandbox.customers import (
    cancel_setup,
    confirm_setup,
    create_customer,
    create_setup,
    customer_methods,
    delete_customer,
    list_customers,
    retrieve_customer,
    retrieve_setup,
    update_customer,
)
from avnz.gateways.stripe.sandbox.disputes import (
    close_dispute,
    list_disputes,
    retrieve_dispute,
    update_dispute,
)
from avnz.gateways.stripe.sandbox.events import (
    create_endpoint,
    delete_endpoint,
    list_endpoints,
    list_events,
    retrieve_endpoint,
    retrieve_event,
    update_endpoint,
)
from avnz.gateways.stripe.sandbox.intents import (
    cancel_intent,
    capture_intent,
    confirm_intent,
    create_intent,
    list_intents,
    retrieve_intent,
    search_intents,
)
from avnz.gateways.stripe.sandbox.refunds import balance, create_refund, retrieve_refund
from avnz.gateways.stripe.sandbox.tables import SANDBOX_CREDENTIALS

# Top-level parameters each endpoint takes (`expand` everywhere); any other is parameter_unknown.
PAGING = ("limit", "starting_after", "ending_before")
PAYING = (
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "payment_method_options",
    "return_url",
    "off_session",
    "setup_future_usage",
    "receipt_email",
)
INTENT = (
    "amount",
    "currency",
    "confirm",
    "capture_method",
    "confirmation_method",
    "customer",
    "description",
    "metadata",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "automatic_payment_methods",
    "error_on_requires_action",
    *PAYING,
)
CUSTOMER = ("email", "name", "description", "phone", "metadata", "address", "payment_method")
SETUP = ("customer", "confirm", "usage", "description", "metadata", *PAYING)
ENDPOINT = ("url", "enabled_events", "description", "metadata", "api_version")

TABLE: tuple[tuple[str, str, Handler, Collection[str]], ...] = (
    ("/v1/payment_intents", "POST", create_intent, INTENT),
    ("/v1/payment_intents", "GET", list_intents, ("created", "customer", *PAGING)),
    ("/v1/payment_intents/search", "GET", search_intents, ("query", "limit", "page")),
    ("/v1/payment_intents/{intent}", "GET", retrieve_intent, ("client_secret",)),
    ("/v1/payment_intents/{intent}/confirm", "POST", confirm_intent, PAYING),
    ("/v1/payment_intents/{intent}/capture", "POST", capture_intent, ("amount_to_capture",)),
    ("/v1/payment_intents/{intent}/cancel", "POST", cancel_intent, ("cancellation_reason",)),
    (
        "/v1/refunds",
        "POST",
        create_refund,
        ("payment_intent", "charge", "amount", "reason", "metadata"),
    ),
    ("/v1/refunds/{refund}", "GET", retrieve_refund, ()),
    ("/v1/balance", "GET", balance, ()),
    ("/v1/payment_methods", "POST", create_method, ("type", "card", "billing_details", "metadata")),
    ("/v1/payment_methods", "GET", list_methods, ("customer", "type", *PAGING)),
    ("/v1/payment_methods/{method}", "GET", retrieve_method, ()),
    (
        "/v1/payment_methods/{method}",
        "POST",
        update_method,
        ("billing_details", "card", "metadata"),
    ),
    ("/v1/payment_methods/{method}/attach", "POST", attach_method, ("customer",)),
    ("/v1/payment_methods/{method}/detach", "POST", detach_method, ()),
    ("/v1/customers", "POST", create_customer, (*CUSTOMER, "invoice_settings")),
    ("/v1/customers", "GET", list_customers, ("email", *PAGING)),
    ("/v1/customers/{customer}", "GET", retrieve_customer, ()),
    ("/v1/customers/{customer}", "POST", update_customer, (*CUSTOMER, "invoice_settings")),
    ("/v1/customers/{customer}", "DELETE", delete_customer, ()),
    ("/v1/customers/{customer}/payment_methods", "GET", customer_methods, ("type", *PAGING)),
    ("/v1/setup_intents", "POST", create_setup, SETUP),
    ("/v1/setup_intents/{intent}", "GET", retrieve_setup, ("client_secret",)),
    ("/v1/setup_intents/{intent}/confirm", "POST", confirm_setup, PAYING),
    ("/v1/setup_intents/{intent}/cancel", "POST", cancel_setup, ("cancellation_reason",)),
    ("/v1/disputes", "GET", list_disputes, ("charge", "payment_intent", "created", *PAGING)),
    ("/v1/disputes/{dispute}", "GET", retrieve_dispute, ()),
    ("/v1/disputes/{dispute}", "POST", update_dispute, ("evidence", "metadata", "submit")),
    ("/v1/disputes/{dispute}/close", "POST", close_dispute, ()),
    ("/v1/events", "GET", list_events, ("type", "types", "created", *PAGING)),
    ("/v1/events/{event}", "GET", retrieve_event, ()),
    ("/v1/webhook_endpoints", "POST", create_endpoint, ENDPOINT),
    ("/v1/webhook_endpoints", "GET", list_endpoints, PAGING),
    ("/v1/webhook_endpoints/{endpoint}", "GET", retrieve_endpoint, ()),
    ("/v1/webhook_endpoints/{endpoint}", "POST", update_endpoint, (*ENDPOINT, "disabled")),
    ("/v1/webhook_endpoints/{endpoint}", "DELETE", delete_endpoint, ()),
)


def _routes(sandbox: StripeSandbox) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        route(sandbox, path, method, handler, allowed) for path, method, handler, allowed in TABLE
    ]
    return [*routes, unknown_route(sandbox)]


def create_app(
    credentials: Mapping[str, str] | None = None,
    *,
    allow_raw_cards: bool = True,
    store: SandboxStore | None = None,
) -> Starlette:
    """A Stripe sandbox with its own ledger, faults, objects and idempotency keys, kept in
    `store` (default: the one in effect, `store.current()`; a fresh one is empty)."""
    api_key = (credentials or SANDBOX_CREDENTIALS)["secret_key"]
    state = SandboxState(ledger=Ledger.stored("stripe", alnum_ids("pi_", 24), store))
    sandbox = StripeSandbox(state=state, api_key=api_key, allow_raw_cards=allow_raw_cards)
    return sandbox_app(state, _routes(sandbox))
