"""Authorize.Net requests: pure `to_*_payload` builders of the JSON documents, keys in XSD order."""

import ipaddress
from collections.abc import Mapping
from typing import Any

from avnz.core.money import Money
from avnz.gateways.base import Address, CaptureRequest, PaymentRequest, RefundRequest, VoidRequest

API_PATH = "/xml/v1/request.api"
INVOICE_MAX = 20
PAGE_SIZE = 1000  # the most getUnsettledTransactionListRequest returns per page
MAX_PAGES = 20
ACCEPT_JS_DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"
# Every currency Authorize.Net settles in (USD, CAD, EUR, GBP, AUD, NZD) has two decimals, and its
# reports carry no currency: amounts read back are converted with this exponent.
REPORT_CURRENCY = "USD"

Payload = dict[str, Any]


# --- request payloads (keys in XSD order) ----------------------------------------------------

_BILL_TO_LIMITS = {
    "firstName": 50,
    "lastName": 50,
    "company": 50,
    "address": 60,
    "city": 40,
    "state": 40,
    "zip": 20,
    "country": 60,
    "phoneNumber": 25,
}


def _compact(**fields: Any) -> Payload:
    """The fields in the order given (the XSD's), without those we do not send."""
    return {key: value for key, value in fields.items() if value not in (None, "", {}, [])}


def _tail(value: str | None, limit: int) -> str | None:
    # Our ids are prefixed ULIDs (`txn_01j…`, 30 chars): their tail is the random, unique part.
    return value[-limit:] if value else None


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


def invoice_number(order_id: str) -> str:
    """The order id as it fits `order.invoiceNumber` (20 characters)."""
    return order_id[-INVOICE_MAX:]


def wire_amount(amount: int, currency: str) -> str:
    """Minor units as the decimal string the gateway expects: 1234 USD -> "12.34"."""
    return str(Money(amount, currency).to_decimal())


def merchant_authentication(credentials: Mapping[str, str]) -> Payload:
    """The `merchantAuthentication` element from the account's credentials."""
    return {"name": credentials["api_login_id"], "transactionKey": credentials["transaction_key"]}


def _payment(request: PaymentRequest) -> Payload:
    card = request.card
    if card is None:  # a gateway token is an Accept.js nonce
        return {"opaqueData": {"dataDescriptor": ACCEPT_JS_DESCRIPTOR, "dataValue": request.token}}
    return {
        "creditCard": _compact(
            cardNumber=card.number,
            expirationDate=f"{card.exp_year:04d}-{card.exp_month:02d}",
            cardCode=card.cvv,
        )
    }


def _bill_to(address: Address | None) -> Payload | None:
    if address is None:
        return None
    street = " ".join(part for part in (address.line1, address.line2) if part)
    fields = _compact(
        firstName=address.first_name,
        lastName=address.last_name,
        company=address.company,
        address=street,
        city=address.city,
        state=address.state,
        zip=address.postal_code,
        country=address.country,
        phoneNumber=address.phone,
    )
    return {key: value[: _BILL_TO_LIMITS[key]] for key, value in fields.items()}


def _ipv4(value: str | None) -> str | None:
    # The field holds up to 15 characters, an IPv4 address: anything else fails the request.
    try:
        return value if value and ipaddress.ip_address(value).version == 4 else None
    except ValueError:
        return None


def _user_fields(metadata: Mapping[str, str]) -> Payload | None:
    fields = [{"name": key, "value": value} for key, value in list(metadata.items())[:20]]
    return {"userField": fields} if fields else None


def _payment_transaction(transaction_type: str, request: PaymentRequest) -> Payload:
    return _compact(
        transactionType=transaction_type,
        amount=wire_amount(request.amount, request.currency),
        currencyCode=request.currency,
        payment=_payment(request),
        order=_compact(
            invoiceNumber=invoice_number(request.order_id),
            description=_clip(request.description, 255),
        ),
        customer=_compact(id=_tail(request.customer_id, 20), email=_clip(request.email, 255)),
        billTo=_bill_to(request.billing),
        customerIP=_ipv4(request.ip_address),
        userFields=_user_fields(request.metadata),
    )


def _transaction_envelope(credentials: Mapping[str, str], transaction: Payload) -> Payload:
    return {
        "createTransactionRequest": {
            "merchantAuthentication": merchant_authentication(credentials),
            "transactionRequest": transaction,
        }
    }


def to_sale_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> Payload:
    """A createTransactionRequest that authorizes and captures (authCaptureTransaction)."""
    return _transaction_envelope(
        credentials, _payment_transaction("authCaptureTransaction", request)
    )


def to_authorize_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> Payload:
    """A createTransactionRequest that only authorizes (authOnlyTransaction)."""
    return _transaction_envelope(credentials, _payment_transaction("authOnlyTransaction", request))


def to_capture_payload(request: CaptureRequest, credentials: Mapping[str, str]) -> Payload:
    """Without an amount the gateway captures everything that was authorized."""
    amount = None if request.amount is None else wire_amount(request.amount, request.currency)
    transaction = _compact(
        transactionType="priorAuthCaptureTransaction",
        amount=amount,
        refTransId=request.transaction_id,
    )
    return _transaction_envelope(credentials, transaction)


def to_void_payload(request: VoidRequest, credentials: Mapping[str, str]) -> Payload:
    """A createTransactionRequest that voids `request.transaction_id`."""
    transaction = _compact(transactionType="voidTransaction", refTransId=request.transaction_id)
    return _transaction_envelope(credentials, transaction)


def to_refund_payload(
    request: RefundRequest, credentials: Mapping[str, str], *, amount: int, card_last4: str
) -> Payload:
    """A referenced refund: the gateway wants the card's last four digits, never the PAN."""
    transaction = _compact(
        transactionType="refundTransaction",
        amount=wire_amount(amount, request.currency),
        payment={"creditCard": {"cardNumber": card_last4, "expirationDate": "XXXX"}},
        refTransId=request.transaction_id,
        order=_compact(
            invoiceNumber=invoice_number(request.order_id) if request.order_id else None,
            description=_clip(request.reason, 255),
        ),
    )
    return _transaction_envelope(credentials, transaction)


def to_authenticate_payload(credentials: Mapping[str, str]) -> Payload:
    """An authenticateTestRequest: checks the credentials, moves no money."""
    return {
        "authenticateTestRequest": {"merchantAuthentication": merchant_authentication(credentials)}
    }


def to_details_payload(transaction_id: str, credentials: Mapping[str, str]) -> Payload:
    """A getTransactionDetailsRequest for one transaction id."""
    return {
        "getTransactionDetailsRequest": {
            "merchantAuthentication": merchant_authentication(credentials),
            "transId": transaction_id,
        }
    }


def to_unsettled_list_payload(credentials: Mapping[str, str], page: int = 1) -> Payload:
    """Newest first, so the latest attempt for an order is met before older ones."""
    return {
        "getUnsettledTransactionListRequest": {
            "merchantAuthentication": merchant_authentication(credentials),
            "sorting": {"orderBy": "submitTimeUTC", "orderDescending": True},
            "paging": {"limit": PAGE_SIZE, "offset": page},
        }
    }
