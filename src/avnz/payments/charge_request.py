"""The charge request, checked and turned into what each step of the charge reads: the
customer and order it names (in the company), the amount and currency, the card (vaulted, or
the stored one), the transaction as the rules read it, and the request the gateway gets."""

from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.commerce import service as commerce
from avnz.commerce.models import Order, OrderStatus
from avnz.core.errors import InvalidRequest
from avnz.core.money import Money
from avnz.gateways.base import (
    Address,
    Card,
    PaymentRequest,
)
from avnz.payments import vault
from avnz.payments.models import Payment, PaymentKind, PaymentMethod
from avnz.payments.ruling import (
    Ruling,
)
from avnz.payments.schemas import (
    BillingAddress,
    PaymentCreate,
    PaymentMethodCreate,
)
from avnz.rules.inputs import CardFacts, Transaction
from avnz.security.keyring import Keyring
from avnz.tenancy.models import Company

if TYPE_CHECKING:
    pass

log = structlog.get_logger(__name__)


def transaction_facts(
    data: PaymentCreate,
    method: PaymentMethod,
    order: Order | None,
    customer_id: str | None,
    amount: int,
    currency: str,
    now: datetime,
) -> Transaction:
    """The payment as the rule engine reads it (before any surcharge or discount)."""
    billing = data.billing_address or BillingAddress.model_validate(method.billing_address or {})
    return Transaction(
        amount=amount,
        currency=currency,
        moment=now,
        card=CardFacts(method.brand, method.card_type, method.bin, method.issuing_country),
        country=billing.country,
        state=billing.state.upper() if billing.state else None,
        customer_id=customer_id,
        order=order,
        is_tokenized=data.payment_method_id is not None,
        is_3ds_enrolled=data.three_d_secure is not None,
    )


def payment_kind(data: PaymentCreate, ruling: Ruling) -> PaymentKind:
    """A sale unless the request asked for an authorization or a review holds the funds."""
    review = ruling.directive.review
    if not data.capture or (review is not None and review.hold_funds):
        return PaymentKind.AUTHORIZE
    return PaymentKind.SALE


def review_flag(ruling: Ruling) -> dict[str, Any] | None:
    review = ruling.directive.review
    if review is None or ruling.match is None:
        return None
    return {
        "status": "pending",
        "reason": review.reason,
        "severity": review.severity,
        "hold_funds": review.hold_funds,
        "rule_id": ruling.match.rule.id,
    }


def three_d_secure(data: PaymentCreate) -> dict[str, Any]:
    """What the payment keeps of its 3-D Secure result: the ECI and version, never the CAVV."""
    if data.three_d_secure is None:
        return {}
    secure = data.three_d_secure
    return {"three_d_secure": {"eci": secure.eci, "version": secure.version}}


async def customer_of(
    session: AsyncSession, principal: Principal, company: Company, customer_id: str | None
) -> str | None:
    if customer_id is None:
        return None
    customer = await commerce.customer_of_company(
        session=session, principal=principal, company_id=company.id, customer_id=customer_id
    )
    return customer.id


async def order_of(
    session: AsyncSession, principal: Principal, company: Company, order_id: str | None
) -> Order | None:
    if order_id is None:
        return None
    order = await commerce.order_of_company(
        session=session, principal=principal, company_id=company.id, order_id=order_id
    )
    if order.status != OrderStatus.PENDING:
        raise InvalidRequest(
            f"Order {order_id!r} is {order.status}; only a pending order can be paid.",
            code="order_not_payable",
            param="order_id",
        )
    return order


def amount_of(data: PaymentCreate, order: Order | None) -> tuple[int, str]:
    """The amount and currency: as sent, or the order's total; both must agree."""
    amount = data.amount if data.amount is not None else (order.total if order else None)
    currency = data.currency or (order.currency if order else None)
    if amount is None or currency is None:  # the schema guarantees one of the two sources
        raise InvalidRequest("amount and currency are required.", param="amount")
    if order is not None and (currency != order.currency or amount != order.total):
        raise InvalidRequest(
            f"The order is for {Money(order.total, order.currency)}; a payment for it must be "
            "for that amount and currency.",
            code="amount_mismatch",
            param="amount",
        )
    try:
        Money(amount, currency)
    except ValueError:
        raise InvalidRequest(
            f"{currency!r} is not an ISO 4217 currency.", code="invalid_currency", param="currency"
        ) from None
    if amount <= 0:
        raise InvalidRequest("The amount must be positive.", param="amount")
    return amount, currency


async def instrument(
    session: AsyncSession,
    keyring: Keyring,
    principal: Principal,
    company: Company,
    data: PaymentCreate,
) -> tuple[vault.ChargeCard, Card]:
    """The vaulted card (with what its statement read along) and its clear form for this one
    call (the CVV only ever in memory)."""
    if data.card is not None:
        create = PaymentMethodCreate(
            company_id=company.id,
            customer_id=data.customer_id,
            card=data.card,
            billing_address=data.billing_address,
        )
        charge_card = await vault.vault_for_charge(session, principal, keyring, company, create)
        cvv = data.card.cvv.get_secret_value() if data.card.cvv else None
        return charge_card, vault.reveal(charge_card.method, keyring, cvv=cvv)
    assert data.payment_method_id is not None  # the schema allows exactly one of the two
    charge_card = await vault.vaulted_for_charge(
        session, principal, company, data.payment_method_id
    )
    return charge_card, vault.reveal(charge_card.method, keyring)


def gateway_request(payment: Payment, card: Card, data: PaymentCreate) -> PaymentRequest:
    billing = data.billing_address or BillingAddress()
    return PaymentRequest(
        amount=payment.amount,
        currency=payment.currency,
        order_id=payment.id,  # our id at the gateway: how an inquiry finds a lost answer
        card=card,
        billing=Address(
            first_name=None,
            line1=billing.line1,
            line2=billing.line2,
            city=billing.city,
            state=billing.state,
            postal_code=billing.postal_code,
            country=billing.country,
        ),
        email=payment.email,
        ip_address=payment.ip_address,
        customer_id=payment.customer_id,
        descriptor=payment.descriptor,
        description=payment.description,
        metadata={"avnz_payment_id": payment.id},
        idempotency_key=payment.id,
    )
