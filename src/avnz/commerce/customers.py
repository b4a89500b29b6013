"""A company's customers, and the figures payments write on them: lifetime value and
chargeback rate (`record_purchase`, `record_chargeback`), never taken from input.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import structlog
from sqlalchemy import Text, case, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal
from avnz.commerce import schemas
from avnz.commerce.models import (
    Customer,
    CustomerStatus,
    CustomerType,
    RiskLevel,
)
from avnz.commerce.rows import (
    apply_changes,
    audit_change,
    company_for_new,
    dumped,
    flush_unique,
    get_row,
    like_pattern,
    refuse_nulls,
    visible,
)
from avnz.core import clock
from avnz.core.errors import Conflict, NotFound
from avnz.core.ids import new_id
from avnz.core.money import Money
from avnz.core.pagination import Page, PageParams, paginate

_RATE_PLACES = Decimal("0.0001")

log = structlog.get_logger(__name__)


_CUSTOMER_NOT_NULL = (
    "email",
    "type",
    "risk_level",
    "segments",
    "custom_fields",
    "metadata",
    "status",
)


def _customer_changes(data: schemas.CustomerCreate | schemas.CustomerUpdate) -> dict[str, Any]:
    """The fields to write: all of a create, the ones sent in an update."""
    changes = data.model_dump(
        exclude_unset=isinstance(data, schemas.CustomerUpdate), exclude={"company_id"}
    )
    for name in ("billing_address", "shipping_address"):
        if name in changes:
            changes[name] = dumped(getattr(data, name))
    if changes.get("email") is not None:
        changes["email"] = changes["email"].lower()
    if changes.get("segments") is not None:
        changes["segments"] = list(dict.fromkeys(changes["segments"]))
    return changes


async def _flush_customer(session: AsyncSession, customer: Customer) -> None:
    await flush_unique(
        session,
        "customers",
        {
            "external_id": f"A customer with external_id {customer.external_id!r}",
            "email": f"A customer with email {customer.email!r}",
        },
    )


async def create_customer(
    *, session: AsyncSession, principal: Principal, data: schemas.CustomerCreate
) -> Customer:
    """A new customer of a company the caller can see; the email is unique among its live
    customers."""
    company = await company_for_new(session, principal, data.company_id)
    customer = Customer(
        id=new_id("cus"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        livemode=principal.livemode,
        lifetime_value=0,
        payments_count=0,
        chargeback_count=0,
        chargeback_rate=Decimal(0),
        created_by=principal.id,
        updated_by=principal.id,
    )
    apply_changes(customer, _customer_changes(data), principal)
    session.add(customer)
    await _flush_customer(session, customer)
    audit_change(session, principal, audit.AuditAction.CREATE, customer)
    return customer


async def list_customers(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    company_id: str | None = None,
    status: CustomerStatus | None = None,
    type: CustomerType | None = None,
    risk_level: RiskLevel | None = None,
    segment: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
    search: str | None = None,
) -> Page[Customer]:
    """Customers in scope, newest first; deleted ones only when `status=deleted` is asked for."""
    stmt = select(Customer).where(visible(principal, Customer))
    if status is CustomerStatus.DELETED:
        stmt = stmt.where(Customer.deleted_at.is_not(None))
    else:
        stmt = stmt.where(Customer.deleted_at.is_(None))
        if status is not None:
            stmt = stmt.where(Customer.status == status)
    for column, value in (
        (Customer.company_id, company_id),
        (Customer.type, type),
        (Customer.risk_level, risk_level),
        (Customer.external_id, external_id),
        (Customer.email, email.lower() if email else None),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if segment is not None:
        # Segments are stored lower-cased as a JSON array of restricted characters, so the
        # quoted name occurs in its text exactly when it is an element (SQLite and PostgreSQL).
        quoted = f'%"{like_pattern(segment.lower())}"%'
        stmt = stmt.where(cast(Customer.segments, Text).like(quoted, escape="\\"))
    if search:
        pattern = f"%{like_pattern(search)}%"
        stmt = stmt.where(
            or_(
                Customer.email.ilike(pattern, escape="\\"),
                Customer.name.ilike(pattern, escape="\\"),
            )
        )
    return await paginate(session, stmt, Customer.id, page)


async def get_customer(
    *, session: AsyncSession, principal: Principal, customer_id: str
) -> Customer:
    return await get_row(session, principal, Customer, customer_id)


async def customer_of_company(
    *, session: AsyncSession, principal: Principal, company_id: str, customer_id: str
) -> Customer:
    """The customer `customer_id` names, if it is `company_id`'s and the caller may see it: a
    payment or a card names its customer, and a customer of another brand is as missing (404)
    as one that does not exist."""
    try:
        customer = await get_row(session, principal, Customer, customer_id)
    except NotFound:  # of another tenant, another mode, or none: the field is named
        customer = None
    if customer is None or customer.company_id != company_id:
        raise NotFound(f"No customer {customer_id!r} in this company.", param="customer_id")
    return customer


async def update_customer(
    *,
    session: AsyncSession,
    principal: Principal,
    customer_id: str,
    data: schemas.CustomerUpdate,
) -> Customer:
    """Change the given fields; the lifetime value's currency only while it is still zero."""
    customer = await get_row(session, principal, Customer, customer_id)
    changes = _customer_changes(data)
    refuse_nulls(changes, _CUSTOMER_NOT_NULL)
    new_currency = "currency" in changes and changes["currency"] != customer.currency
    if new_currency and (customer.lifetime_value or customer.payments_count):
        raise Conflict(
            "The currency of a customer with purchases cannot change.",
            code="currency_locked",
            param="currency",
        )
    before = audit.snapshot(customer)
    apply_changes(customer, changes, principal)
    await _flush_customer(session, customer)
    audit_change(session, principal, audit.AuditAction.UPDATE, customer, before)
    return customer


async def delete_customer(
    *, session: AsyncSession, principal: Principal, customer_id: str
) -> Customer:
    """Soft delete: status `deleted`, hidden from reads; its orders stay, its email is free."""
    customer = await get_row(session, principal, Customer, customer_id)
    before = audit.snapshot(customer)
    customer.status = CustomerStatus.DELETED
    customer.deleted_at = clock.now()
    customer.updated_by = principal.id
    audit_change(session, principal, audit.AuditAction.DELETE, customer, before)
    return customer


def _chargeback_rate(chargebacks: int, payments: int) -> Decimal:
    """Percent of successful payments charged back. A chargeback is always on a payment, so the
    denominator is at least the number of chargebacks (payments made before avnz count too)."""
    if chargebacks <= 0:
        return Decimal(0)
    rate = Decimal(chargebacks) * 100 / Decimal(max(payments, chargebacks))
    return rate.quantize(_RATE_PLACES, rounding=ROUND_HALF_UP)


async def _set_rate(
    session: AsyncSession, company_id: str, customer_id: str, payments: int, chargebacks: int
) -> Customer:
    """Write the rate of the counts an UPDATE just returned (its row lock is still held, so no
    other payment moved them since) and return the customer as stored."""
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.company_id == company_id)
        .values(chargeback_rate=_chargeback_rate(chargebacks, payments))
        .execution_options(synchronize_session=False)
    )
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id).execution_options(populate_existing=True)
    )
    assert customer is not None  # updated just above
    return customer


async def record_purchase(
    *,
    session: AsyncSession,
    company_id: str,
    customer_id: str,
    amount_minor: int,
    currency: str,
) -> Customer:
    """Count a successful payment of the customer: one more payment, a new customer becomes
    returning, the lifetime value grows when the payment is in its currency, the chargeback
    rate follows. The counters move in one UPDATE of the row, so concurrent payments all count;
    no audit entry (the payment is the record)."""
    money = Money(amount_minor, currency)
    if money.amount <= 0:
        raise ValueError("amount_minor must be positive")
    now = clock.now()
    same_currency = Customer.currency.is_(None) | (Customer.currency == money.currency)
    counts = (
        await session.execute(
            update(Customer)
            .where(Customer.id == customer_id, Customer.company_id == company_id)
            .values(
                payments_count=Customer.payments_count + 1,
                lifetime_value=Customer.lifetime_value
                + case((same_currency, money.amount), else_=0),
                currency=func.coalesce(Customer.currency, money.currency),
                type=case(
                    (Customer.type == CustomerType.NEW.value, CustomerType.RETURNING.value),
                    else_=Customer.type,
                ),
                last_purchase_at=now,
                updated_at=now,
            )
            .returning(Customer.payments_count, Customer.chargeback_count, Customer.currency)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if counts is None:
        raise NotFound(f"No customer {customer_id!r}.", param="customer_id")
    if counts.currency != money.currency:
        # No exchange rates here: the payment counts, its amount stays out of the value.
        log.warning(
            "customer.purchase_currency_mismatch",
            customer_id=customer_id,
            customer_currency=counts.currency,
            payment_currency=money.currency,
        )
    return await _set_rate(
        session, company_id, customer_id, counts.payments_count, counts.chargeback_count
    )


async def record_chargeback(
    *, session: AsyncSession, company_id: str, customer_id: str
) -> Customer:
    """Count a chargeback against the customer and recompute the chargeback rate (chargebacks
    over successful payments, in percent)."""
    counts = (
        await session.execute(
            update(Customer)
            .where(Customer.id == customer_id, Customer.company_id == company_id)
            .values(chargeback_count=Customer.chargeback_count + 1, updated_at=clock.now())
            .returning(Customer.payments_count, Customer.chargeback_count)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if counts is None:
        raise NotFound(f"No customer {customer_id!r}.", param="customer_id")
    return await _set_rate(
        session, company_id, customer_id, counts.payments_count, counts.chargeback_count
    )
