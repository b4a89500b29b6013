"""NMI requests: pure `to_*_payload` builders of the Direct Post and Query API form fields."""

from collections.abc import Mapping
from typing import Literal

from avnz.core.money import Money
from avnz.gateways.base import (
    CaptureRequest,
    InquireRequest,
    PaymentRequest,
    RefundRequest,
    VoidRequest,
)


def amount_text(amount: int, currency: str) -> str:
    """Minor units as NMI's decimal string: 1999 USD → "19.99", 500 JPY → "500"."""
    return f"{Money(amount, currency).to_decimal():f}"


def _drop_empty(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value}


def _names(request: PaymentRequest) -> tuple[str | None, str | None]:
    """Billing names, or the card holder's name split at the last space when billing has none."""
    billing = request.billing
    if billing and (billing.first_name or billing.last_name):
        return billing.first_name, billing.last_name
    holder = request.card.holder_name if request.card else None
    if not holder:
        return None, None
    first, _, last = holder.strip().rpartition(" ")
    return (first, last) if first else (None, last)


def _instrument_fields(request: PaymentRequest) -> dict[str, str | None]:
    if request.card is None:
        # Collect.js payment tokens stand in for the card (and hold its CVV) on NMI's side.
        return {"payment_token": request.token}
    card = request.card
    return {
        "payment": "creditcard",
        "ccnumber": card.number,
        "ccexp": f"{card.exp_month:02d}{card.exp_year % 100:02d}",
        "cvv": card.cvv,
    }


def _billing_fields(request: PaymentRequest) -> dict[str, str | None]:
    first_name, last_name = _names(request)
    billing = request.billing
    if billing is None:
        return {"first_name": first_name, "last_name": last_name}
    return {
        "first_name": first_name,
        "last_name": last_name,
        "company": billing.company,
        "address1": billing.line1,
        "address2": billing.line2,
        "city": billing.city,
        "state": billing.state,
        "zip": billing.postal_code,
        "country": billing.country,
        "phone": billing.phone,
    }


def to_payment_payload(request: PaymentRequest, kind: Literal["sale", "auth"]) -> dict[str, str]:
    """The form fields of a sale or an authorization, without credentials. Our order id goes in
    `orderid`: NMI has no idempotency header, and it is what an inquiry after a timeout uses."""
    return _drop_empty(
        {
            "type": kind,
            "amount": amount_text(request.amount, request.currency),
            "currency": request.currency,
            "orderid": request.order_id,
            "order_description": request.description,
            "email": request.email,
            "ipaddress": request.ip_address,
            **_instrument_fields(request),
            **_billing_fields(request),
        }
    )


def to_sale_payload(request: PaymentRequest) -> dict[str, str]:
    """The Direct Post fields of a sale (authorize and capture)."""
    return to_payment_payload(request, "sale")


def to_authorize_payload(request: PaymentRequest) -> dict[str, str]:
    """The Direct Post fields of an authorization only."""
    return to_payment_payload(request, "auth")


def to_capture_payload(request: CaptureRequest) -> dict[str, str]:
    """No amount means the whole authorization."""
    amount = amount_text(request.amount, request.currency) if request.amount is not None else None
    return _drop_empty(
        {
            "type": "capture",
            "transactionid": request.transaction_id,
            "amount": amount,
            "orderid": request.order_id,
        }
    )


def to_void_payload(request: VoidRequest) -> dict[str, str]:
    """The Direct Post fields that void `request.transaction_id`."""
    return {"type": "void", "transactionid": request.transaction_id}


def to_refund_payload(request: RefundRequest) -> dict[str, str]:
    """No amount means everything still refundable (NMI refunds the balance when it is absent)."""
    amount = amount_text(request.amount, request.currency) if request.amount is not None else None
    return _drop_empty(
        {"type": "refund", "transactionid": request.transaction_id, "amount": amount}
    )


def to_verify_payload() -> dict[str, str]:
    """NMI has no credentials check; voiding transaction 0 moves no money and proves the key
    (ActiveMerchant's trick): only a bad key answers `Authentication Failed`."""
    return {"type": "void", "transactionid": "0"}


def to_inquire_payload(request: InquireRequest) -> dict[str, str]:
    """The gateway id when we have it (exact); our order id after a timeout-after-send."""
    if request.transaction_id:
        return {"transaction_id": request.transaction_id}
    return {"order_id": request.order_id or ""}
