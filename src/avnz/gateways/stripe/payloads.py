"""Stripe requests: pure `to_*_payload` / `to_*_params` builders (form fields in the API's
names) and the currency exponent Stripe uses for amounts.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from avnz.core.money import Money, currency_exponent
from avnz.gateways.base import (
    Address,
    CaptureRequest,
    Card,
    PaymentRequest,
    RefundRequest,
    VoidRequest,
)

# Pinned so the objects we parse keep their shape whatever the account's default version is.
API_VERSION: Final = "2024-06-20"
# How far back the consistent list is read when search finds nothing (search lags about a
# minute; the wide margin covers slow retries without paging through much).
RECENT_WINDOW_SECONDS: Final = 15 * 60
RECENT_LIMIT: Final = 100

# Stripe's smallest unit differs from ISO 4217's minor unit only here: ISK stays two-decimal in
# the API (amounts must be multiples of 100) although ISO and the card networks use none.
STRIPE_EXPONENT: Final[Mapping[str, int]] = {"ISK": 2}

# Stripe's refund reasons; anything else we were given travels as metadata instead.
REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def stripe_exponent(currency: str) -> int:
    """The decimal places Stripe uses for `currency` (ISO's, except where Stripe differs)."""
    code = currency.upper()
    return STRIPE_EXPONENT.get(code, currency_exponent(code))


def to_stripe_amount(amount: int, currency: str) -> int:
    """Our ISO minor units as Stripe's smallest unit (identical except for STRIPE_EXPONENT)."""
    major = Money(amount, currency).to_decimal()
    return int(major.scaleb(stripe_exponent(currency)))


def from_stripe_amount(amount: int, currency: str) -> int:
    """Stripe's smallest unit as ISO minor units; ValueError for a fraction ISO cannot hold."""
    major = Decimal(amount).scaleb(-stripe_exponent(currency))
    return Money.from_decimal(major, currency.upper()).amount


# --- requests ---------------------------------------------------------------------------------


def to_sale_payload(request: PaymentRequest) -> dict[str, str]:
    """A confirmed PaymentIntent captured at once (capture_method=automatic)."""
    return _payment_payload(request, capture_method="automatic")


def to_authorize_payload(request: PaymentRequest) -> dict[str, str]:
    """A confirmed PaymentIntent left to capture later (capture_method=manual)."""
    return _payment_payload(request, capture_method="manual")


def _payment_payload(request: PaymentRequest, *, capture_method: str) -> dict[str, str]:
    payload = {
        "amount": str(to_stripe_amount(request.amount, request.currency)),
        "currency": request.currency.lower(),
        "confirm": "true",
        "capture_method": capture_method,
        # Card only: recent API versions otherwise enable redirect methods and demand return_url.
        "payment_method_types[]": "card",
        "expand[]": "latest_charge",  # the charge carries the AVS and CVC checks
    }
    payload.update(_optional(description=request.description, **_descriptor(request.descriptor)))
    payload.update(_metadata(request))
    if request.card is not None:
        payload.update(_card_fields(request.card, request.billing, request.email))
    else:
        payload["payment_method"] = str(request.token)
    return payload


def _descriptor(descriptor: str | None) -> dict[str, str | None]:
    # Card payments accept only the suffix (the prefix is set on the account), 22 characters.
    return {"statement_descriptor_suffix": descriptor[:22] if descriptor else None}


def _metadata(request: PaymentRequest) -> dict[str, str]:
    fields = {f"metadata[{key}]": value for key, value in request.metadata.items()}
    # Our ids win over caller metadata: inquire() finds the payment by metadata[order_id].
    fields["metadata[order_id]"] = request.order_id
    if request.customer_id:
        fields["metadata[customer_id]"] = request.customer_id
    return fields


def _card_fields(card: Card, billing: Address | None, email: str | None) -> dict[str, str]:
    fields = {
        "payment_method_data[type]": "card",
        "payment_method_data[card][number]": card.number,
        "payment_method_data[card][exp_month]": str(card.exp_month),
        "payment_method_data[card][exp_year]": str(card.exp_year),
    }
    if card.cvv:
        fields["payment_method_data[card][cvc]"] = card.cvv
    details = _billing_details(card, billing, email)
    fields.update({f"payment_method_data[billing_details]{k}": v for k, v in details.items()})
    return fields


def _billing_details(card: Card, billing: Address | None, email: str | None) -> dict[str, str]:
    address = billing or Address()
    billing_name = " ".join(filter(None, (address.first_name, address.last_name)))
    return _optional(
        **{
            "[name]": card.holder_name or billing_name or None,
            "[email]": email,
            "[phone]": address.phone,
            "[address][line1]": address.line1,
            "[address][line2]": address.line2,
            "[address][city]": address.city,
            "[address][state]": address.state,
            "[address][postal_code]": address.postal_code,
            "[address][country]": address.country,
        }
    )


def to_capture_payload(request: CaptureRequest) -> dict[str, str]:
    """The capture form: the whole authorization, or `request.amount` of it."""
    payload = {"expand[]": "latest_charge"}
    if request.amount is not None:
        payload["amount_to_capture"] = str(to_stripe_amount(request.amount, request.currency))
    return payload


def to_void_payload(_request: VoidRequest) -> dict[str, str]:
    """The cancel form of a PaymentIntent."""
    return {"expand[]": "latest_charge"}


def to_refund_payload(request: RefundRequest) -> dict[str, str]:
    # Stripe refunds by PaymentIntent; a charge id (ch_…) from an older integration also works.
    """The refund form: target, optional partial amount and reason."""
    target = "charge" if request.transaction_id.startswith("ch_") else "payment_intent"
    payload = {target: request.transaction_id}
    if request.amount is not None:
        payload["amount"] = str(to_stripe_amount(request.amount, request.currency))
    reason_field = "reason" if request.reason in REFUND_REASONS else "metadata[reason]"
    payload.update(_optional(**{reason_field: request.reason}))
    payload.update(_optional(**{"metadata[order_id]": request.order_id}))
    return payload


def to_lookup_params() -> list[tuple[str, str]]:
    """The query of a PaymentIntent retrieval (with its latest charge)."""
    return [("expand[]", "latest_charge")]


def to_search_params(order_id: str) -> list[tuple[str, str]]:
    """The search query that finds PaymentIntents by our order id."""
    escaped = order_id.replace("\\", "\\\\").replace("'", "\\'")
    return [
        ("query", f"metadata['order_id']:'{escaped}'"),
        ("limit", "100"),
        ("expand[]", "data.latest_charge"),
    ]


def to_recent_params(now_ts: int) -> list[tuple[str, str]]:
    """The list query of PaymentIntents created in the recent window."""
    return [
        ("created[gte]", str(now_ts - RECENT_WINDOW_SECONDS)),
        ("limit", str(RECENT_LIMIT)),
        ("expand[]", "data.latest_charge"),
    ]


def _optional(**fields: str | None) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value}
