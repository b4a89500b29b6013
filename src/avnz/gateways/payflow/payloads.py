"""Payflow requests: pure `to_*_payload` builders of the NVP fields, credentials included."""

import hashlib
import math
import uuid
from collections.abc import Mapping

from avnz.core.money import Money
from avnz.gateways.base import (
    Address,
    CaptureRequest,
    InquireRequest,
    PaymentRequest,
    RefundRequest,
    Timeouts,
    VoidRequest,
)


class MissingCredentials(ValueError):
    """The account's credentials lack a required field."""


def auth_fields(credentials: Mapping[str, str]) -> dict[str, str]:
    """PARTNER/VENDOR/USER/PWD; USER defaults to the vendor login, as Payflow documents."""
    missing = [name for name in ("partner", "vendor", "password") if not credentials.get(name)]
    if missing:
        raise MissingCredentials(f"payflow credentials lack {', '.join(missing)}")
    return {
        "PARTNER": credentials["partner"],
        "VENDOR": credentials["vendor"],
        "USER": credentials.get("user") or credentials["vendor"],
        "PWD": credentials["password"],
    }


def format_amount(amount: int, currency: str) -> str:
    """Minor units to Payflow's decimal amount: 1999 USD → "19.99", 500 JPY → "500"."""
    return f"{Money(amount, currency).to_decimal():f}"


def request_id(idempotency_key: str | None) -> str:
    """X-VPS-REQUEST-ID: 32 hex characters; the same key always gives the same id, so a retry
    replays the original answer. Without a key every call is a new transaction."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def request_headers(idempotency_key: str | None, timeouts: Timeouts) -> dict[str, str]:
    """The headers of every Payflow POST: NVP body, request id (replay key), timeout."""
    return {
        "Content-Type": "text/namevalue",
        "X-VPS-REQUEST-ID": request_id(idempotency_key),
        # Tells PayPal how long we wait, so it gives up (RESULT 11) rather than answer into a void.
        "X-VPS-CLIENT-TIMEOUT": str(max(1, math.ceil(timeouts.read))),
        "PAYPAL-NVP": "Y",
    }


def _present(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in fields.items() if value}


def _source_fields(request: PaymentRequest) -> dict[str, str]:
    if request.card is None:
        # A token is the PNREF of an earlier transaction: a reference transaction re-uses its card.
        return {"ORIGID": request.token or ""}
    card = request.card
    return _present(
        {
            "ACCT": card.number,
            "EXPDATE": f"{card.exp_month:02d}{card.exp_year % 100:02d}",
            "CVV2": card.cvv,
        }
    )


def _billing_fields(billing: Address | None, holder_name: str | None) -> dict[str, str]:
    billing = billing or Address()
    first, last = billing.first_name, billing.last_name
    if not (first or last) and holder_name:
        first, _, last = holder_name.rpartition(" ")
    return _present(
        {
            "BILLTOFIRSTNAME": first,
            "BILLTOLASTNAME": last,
            "COMPANYNAME": billing.company,
            "BILLTOSTREET": billing.line1,
            "BILLTOSTREET2": billing.line2,
            "BILLTOCITY": billing.city,
            "BILLTOSTATE": billing.state,
            "BILLTOZIP": billing.postal_code,
            "BILLTOCOUNTRY": billing.country,
            "BILLTOPHONENUM": billing.phone,
        }
    )


def _payment_payload(
    trxtype: str, request: PaymentRequest, credentials: Mapping[str, str]
) -> dict[str, str]:
    holder = request.card.holder_name if request.card else None
    return {
        **auth_fields(credentials),
        "TRXTYPE": trxtype,
        "TENDER": "C",
        "VERBOSITY": "HIGH",
        "AMT": format_amount(request.amount, request.currency),
        "CURRENCY": request.currency,
        **_source_fields(request),
        **_billing_fields(request.billing, holder),
        **_present(
            {
                "CUSTREF": request.order_id,
                "INVNUM": request.order_id,
                "EMAIL": request.email,
                "CUSTIP": request.ip_address,
                "COMMENT1": (request.description or "")[:128],  # Payflow's limit
                "MERCHDESCR": request.descriptor,
            }
        ),
    }


def to_sale_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """The NVP fields of a sale (TRXTYPE S)."""
    return _payment_payload("S", request, credentials)


def to_authorize_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """TRXTYPE A; with amount 0 it is an account verification."""
    return _payment_payload("A", request, credentials)


def _reference_payload(
    trxtype: str,
    origid: str,
    credentials: Mapping[str, str],
    amount: int | None = None,
    currency: str | None = None,
) -> dict[str, str]:
    fields = {
        **auth_fields(credentials),
        "TRXTYPE": trxtype,
        "TENDER": "C",
        "ORIGID": origid,
        "VERBOSITY": "HIGH",  # so the answer states the amount it moved
    }
    if amount is not None and currency is not None:
        fields |= {"AMT": format_amount(amount, currency), "CURRENCY": currency}
    return fields


def to_capture_payload(request: CaptureRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """TRXTYPE D; without AMT Payflow captures the whole authorization."""
    return _reference_payload(
        "D", request.transaction_id, credentials, request.amount, request.currency
    )


def to_void_payload(request: VoidRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """The NVP fields that void a transaction by its PNREF (TRXTYPE V)."""
    return _reference_payload("V", request.transaction_id, credentials)


def to_refund_payload(request: RefundRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """A referenced credit (TRXTYPE C); without AMT Payflow credits what is left."""
    fields = _reference_payload(
        "C", request.transaction_id, credentials, request.amount, request.currency
    )
    return fields | _present({"COMMENT1": request.reason})


def to_verify_payload(credentials: Mapping[str, str]) -> dict[str, str]:
    """A void of an ORIGID that cannot exist: checks the credentials, moves no money."""
    return {**auth_fields(credentials), "TRXTYPE": "V", "TENDER": "C", "ORIGID": "0"}


def to_inquire_payload(request: InquireRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """TRXTYPE I by PNREF, or by CUSTREF (our order id) when we never learned the PNREF."""
    reference = (
        {"ORIGID": request.transaction_id}
        if request.transaction_id
        else {"CUSTREF": request.order_id or ""}
    )
    return {
        **auth_fields(credentials),
        "TRXTYPE": "I",
        "TENDER": "C",
        "VERBOSITY": "HIGH",
        **reference,
    }
