"""Customers, products and orders of a company, always inside the caller's scope.

A row outside the caller's scope, or soft-deleted, is reported as missing (404), never as
forbidden. Figures the server owns are computed here and never taken from input: an order's
totals, a customer's lifetime value and chargeback figures (written by payments through
`record_purchase`, `record_chargeback` and `mark_order`).
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import structlog
from sqlalchemy import ColumnElement, Select, Text, case, cast, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, scope_clause
from avnz.commerce import schemas
from avnz.commerce.models import (
    Customer,
    CustomerStatus,
    CustomerType,
    Order,
    OrderStatus,
    Product,
    RiskLevel,
    SubscriptionInterval,
)
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.money import Money
from avnz.core.pagination import Page, PageParams, paginate
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import Company

log = structlog.get_logger(__name__)

Row = TypeVar("Row", Customer, Product, Order)

# Legal moves of an order; moving an order to the status it has is a no-op (payments retry).
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.CANCELLED}),
    OrderStatus.FAILED: frozenset({OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
# An order that took money stays: it is the record of a payment.
_DELETABLE_ORDERS = frozenset({OrderStatus.PENDING, OrderStatus.FAILED, OrderStatus.CANCELLED})
_RATE_PLACES = Decimal("0.0001")


# --- scope -----------------------------------------------------------------------------------


def _visible(principal: Principal, model: type[Row]) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=model.organization_id,
        client_id=model.client_id,
        company_id=model.company_id,
    )


def _live(principal: Principal, model: type[Row]) -> Select[Row]:
    return select(model).where(_visible(principal, model), model.deleted_at.is_(None))


async def _get(
    session: AsyncSession, principal: Principal, model: type[Row], row_id: str, param: str = "id"
) -> Row:
    row = await session.scalar(_live(principal, model).where(model.id == row_id))
    if row is None:
        raise NotFound(f"No {model.__name__.lower()} {row_id!r}.", param=param)
    return row


async def _company(session: AsyncSession, principal: Principal, company_id: str | None) -> Company:
    """The company a new row goes to: the one named, else the caller's own."""
    company_id = company_id or principal.company_id
    if company_id is None:
        raise InvalidRequest("company_id is required.", code="missing_param", param="company_id")
    try:
        return await tenancy.get_company(
            session=session, principal=principal, company_id=company_id
        )
    except NotFound:
        raise NotFound(f"No company {company_id!r}.", param="company_id") from None


def _tenant(row: Customer | Product | Order) -> audit.Tenant:
    return audit.Tenant(row.organization_id, row.client_id, row.company_id)


def _audit(
    session: AsyncSession,
    principal: Principal | None,
    action: audit.AuditAction,
    row: Customer | Product | Order,
    before: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=type(row).__tablename__.removesuffix("s"),
        resource_id=row.id,
        tenant=_tenant(row),
        before=before,
        after=audit.snapshot(row),
    )


def _not_null(changes: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)


async def _flush_unique(session: AsyncSession, table: str, taken: dict[str, str]) -> None:
    """Flush, turning a unique-index violation into a 409 naming the field. `taken` maps each
    unique column to what the message calls taken; the column is found in the database's
    message by the index name (PostgreSQL) or `table.column` (SQLite), never by the value."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        message = str(exc.orig)
        param = next(
            (
                column
                for column in taken
                if f"uq_{table}_company_{column}" in message or f"{table}.{column}" in message
            ),
            next(iter(taken)),
        )
        raise Conflict(f"{taken[param]} is already taken.", code="duplicate", param=param) from None


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _dump(value: Any) -> Any:
    """A validated JSON document as stored (None stays None)."""
    return value.model_dump(mode="json", exclude_none=True) if value is not None else None


def _apply(row: Any, changes: dict[str, Any], principal: Principal) -> None:
    for name, value in changes.items():
        setattr(row, "metadata_" if name == "metadata" else name, value)
    row.updated_by = principal.id


# --- customers -------------------------------------------------------------------------------

_CUSTOMER_NOT_NULL = ("email", "type", "risk_level", "segments", "custom_fields", "status")


def _customer_changes(data: schemas.CustomerCreate | schemas.CustomerUpdate) -> dict[str, Any]:
    """The fields to write: all of a create, the ones sent in an update."""
    changes = data.model_dump(
        exclude_unset=isinstance(data, schemas.CustomerUpdate), exclude={"company_id"}
    )
    for name in ("billing_address", "shipping_address"):
        if name in changes:
            changes[name] = _dump(getattr(data, name))
    if changes.get("email") is not None:
        changes["email"] = changes["email"].lower()
    if changes.get("segments") is not None:
        changes["segments"] = list(dict.fromkeys(changes["segments"]))
    return changes


async def _flush_customer(session: AsyncSession, customer: Customer) -> None:
    await _flush_unique(
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
    company = await _company(session, principal, data.company_id)
    customer = Customer(
        id=new_id("cus"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        lifetime_value=0,
        payments_count=0,
        chargeback_count=0,
        chargeback_rate=Decimal(0),
        created_by=principal.id,
        updated_by=principal.id,
    )
    _apply(customer, _customer_changes(data), principal)
    session.add(customer)
    await _flush_customer(session, customer)
    _audit(session, principal, audit.AuditAction.CREATE, customer)
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
    stmt = select(Customer).where(_visible(principal, Customer))
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
        quoted = f'%"{_like(segment.lower())}"%'
        stmt = stmt.where(cast(Customer.segments, Text).like(quoted, escape="\\"))
    if search:
        pattern = f"%{_like(search)}%"
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
    return await _get(session, principal, Customer, customer_id)


async def update_customer(
    *,
    session: AsyncSession,
    principal: Principal,
    customer_id: str,
    data: schemas.CustomerUpdate,
) -> Customer:
    """Change the given fields; the lifetime value's currency only while it is still zero."""
    customer = await _get(session, principal, Customer, customer_id)
    changes = _customer_changes(data)
    _not_null(changes, _CUSTOMER_NOT_NULL)
    new_currency = "currency" in changes and changes["currency"] != customer.currency
    if new_currency and (customer.lifetime_value or customer.payments_count):
        raise Conflict(
            "The currency of a customer with purchases cannot change.",
            code="currency_locked",
            param="currency",
        )
    before = audit.snapshot(customer)
    _apply(customer, changes, principal)
    await _flush_customer(session, customer)
    _audit(session, principal, audit.AuditAction.UPDATE, customer, before)
    return customer


async def delete_customer(
    *, session: AsyncSession, principal: Principal, customer_id: str
) -> Customer:
    """Soft delete: status `deleted`, hidden from reads; its orders stay, its email is free."""
    customer = await _get(session, principal, Customer, customer_id)
    before = audit.snapshot(customer)
    customer.status = CustomerStatus.DELETED
    customer.deleted_at = clock.now()
    customer.updated_by = principal.id
    _audit(session, principal, audit.AuditAction.DELETE, customer, before)
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


# --- products --------------------------------------------------------------------------------

_PRODUCT_NOT_NULL = (
    "sku",
    "name",
    "price",
    "currency",
    "is_subscription",
    "trial_days",
    "active",
    "metadata",
)


def _check_subscription(
    is_subscription: bool, interval: SubscriptionInterval | None, trial_days: int
) -> None:
    if is_subscription and interval is None:
        raise InvalidRequest(
            "interval is required for a subscription (monthly or yearly).", param="interval"
        )
    if not is_subscription and interval is not None:
        raise InvalidRequest(
            "interval is for subscriptions only; set is_subscription or leave interval null.",
            param="interval",
        )
    if not is_subscription and trial_days:
        raise InvalidRequest("trial_days is for subscriptions only.", param="trial_days")


async def _flush_product(session: AsyncSession, product: Product) -> None:
    await _flush_unique(session, "products", {"sku": f"A product with sku {product.sku!r}"})


async def create_product(
    *, session: AsyncSession, principal: Principal, data: schemas.ProductCreate
) -> Product:
    """A catalog product; the sku is unique among the company's live products."""
    company = await _company(session, principal, data.company_id)
    _check_subscription(data.is_subscription, data.interval, data.trial_days)
    product = Product(
        id=new_id("prd"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        created_by=principal.id,
    )
    _apply(product, data.model_dump(exclude={"company_id"}), principal)
    session.add(product)
    await _flush_product(session, product)
    _audit(session, principal, audit.AuditAction.CREATE, product)
    return product


async def list_products(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    company_id: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    is_subscription: bool | None = None,
    sku: str | None = None,
    search: str | None = None,
) -> Page[Product]:
    stmt = _live(principal, Product)
    for column, value in (
        (Product.company_id, company_id),
        (Product.category, category),
        (Product.active, active),
        (Product.is_subscription, is_subscription),
        (Product.sku, sku),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if search:
        pattern = f"%{_like(search)}%"
        stmt = stmt.where(
            or_(Product.name.ilike(pattern, escape="\\"), Product.sku.ilike(pattern, escape="\\"))
        )
    return await paginate(session, stmt, Product.id, page)


async def get_product(*, session: AsyncSession, principal: Principal, product_id: str) -> Product:
    return await _get(session, principal, Product, product_id)


async def update_product(
    *, session: AsyncSession, principal: Principal, product_id: str, data: schemas.ProductUpdate
) -> Product:
    """Change the given fields; the subscription fields must agree once merged. Orders keep the
    prices they were made with."""
    product = await _get(session, principal, Product, product_id)
    changes = data.model_dump(exclude_unset=True)
    _not_null(changes, _PRODUCT_NOT_NULL)
    _check_subscription(
        changes.get("is_subscription", product.is_subscription),
        changes.get("interval", product.interval),
        changes.get("trial_days", product.trial_days),
    )
    before = audit.snapshot(product)
    _apply(product, changes, principal)
    await _flush_product(session, product)
    _audit(session, principal, audit.AuditAction.UPDATE, product, before)
    return product


async def delete_product(
    *, session: AsyncSession, principal: Principal, product_id: str
) -> Product:
    """Soft delete: inactive and hidden; its sku is free again; past orders keep their lines."""
    product = await _get(session, principal, Product, product_id)
    before = audit.snapshot(product)
    product.active = False
    product.deleted_at = clock.now()
    product.updated_by = principal.id
    _audit(session, principal, audit.AuditAction.DELETE, product, before)
    return product


# --- orders ----------------------------------------------------------------------------------


def _order_currency(
    lines: list[schemas.LineItemIn], products: dict[str, Product], currency: str | None
) -> str:
    """The order's currency: the one given, else the first line's, else its first product's."""
    candidates = [
        currency,
        *(line.currency for line in lines),
        *(products[line.sku].currency for line in lines if line.sku in products),
    ]
    found = next((c for c in candidates if c is not None), None)
    if found is None:
        raise InvalidRequest(
            "currency is required when no line names a catalog product.",
            code="missing_param",
            param="currency",
        )
    return found


def _price_line(
    index: int,
    line: schemas.LineItemIn,
    product: Product | None,
    currency: str,
    is_renewal: bool,
) -> schemas.LineItem:
    """One line with its name and unit price resolved against the catalog and its amount."""
    param = f"line_items.{index}"
    if line.currency is not None and line.currency != currency:
        raise InvalidRequest(
            f"{param}.currency: an order has one currency ({currency}); this line is in "
            f"{line.currency}.",
            code="currency_mismatch",
            param=f"{param}.currency",
        )
    if product is not None and not product.active and not is_renewal:
        # A renewal may go on with a product that is no longer sold to new customers.
        raise Conflict(
            f"{param}.sku: the product {product.sku!r} is not active.",
            code="product_inactive",
            param=f"{param}.sku",
        )
    name = line.name or (product.name if product else None)
    if name is None:
        raise InvalidRequest(
            f"{param}.name is required when the sku is not in the catalog.",
            code="missing_param",
            param=f"{param}.name",
        )
    unit_amount = line.unit_amount
    if unit_amount is None and product is not None:
        if product.currency != currency:
            raise InvalidRequest(
                f"{param}.unit_amount: the product {product.sku!r} is priced in "
                f"{product.currency}; give its price in {currency}.",
                code="currency_mismatch",
                param=f"{param}.unit_amount",
            )
        unit_amount = product.price
    if unit_amount is None:
        raise InvalidRequest(
            f"{param}.unit_amount is required when the sku is not in the catalog.",
            code="missing_param",
            param=f"{param}.unit_amount",
        )
    return schemas.LineItem(
        sku=line.sku,
        name=name,
        quantity=line.quantity,
        unit_amount=unit_amount,
        amount=line.quantity * unit_amount,
        product_id=product.id if product else None,
        category=product.category if product else None,
        is_subscription=product.is_subscription if product else False,
        interval=product.interval if product else None,
    )


async def _price_lines(
    session: AsyncSession,
    company_id: str,
    lines: list[schemas.LineItemIn],
    currency: str | None,
    is_renewal: bool,
) -> tuple[list[dict[str, Any]], str]:
    """The lines as stored, priced from the catalog where they do not say, and the currency."""
    skus = {line.sku for line in lines}
    found = await session.scalars(
        select(Product).where(
            Product.company_id == company_id,
            Product.deleted_at.is_(None),
            Product.sku.in_(skus),
        )
    )
    products = {product.sku: product for product in found}
    currency = _order_currency(lines, products, currency)
    priced = [
        _price_line(i, line, products.get(line.sku), currency, is_renewal)
        for i, line in enumerate(lines)
    ]
    return [line.model_dump(mode="json") for line in priced], currency


def _set_totals(order: Order) -> None:
    """subtotal = Σ line amounts; total = subtotal + shipping + tax - discount, never negative."""
    order.subtotal = sum(int(line["amount"]) for line in order.line_items)
    total = order.subtotal + order.shipping_amount + order.tax_amount - order.discount_amount
    if total < 0:
        raise InvalidRequest(
            "discount_amount exceeds the order's subtotal, shipping and tax.",
            param="discount_amount",
        )
    order.total = total


def _transition(order: Order, status: OrderStatus) -> bool:
    """Move the order to `status`; False when it is already there, 409 for an illegal move."""
    if status is order.status:
        return False
    if status not in ORDER_TRANSITIONS[order.status]:
        raise Conflict(
            f"An order that is {order.status.value} cannot become {status.value}.",
            code="illegal_status_transition",
            param="status",
        )
    order.status = status
    order.status_changed_at = clock.now()
    return True


async def _order_customer(
    session: AsyncSession, principal: Principal, data: schemas.OrderCreate
) -> tuple[Customer, str]:
    """The order's live customer and company; a customer of another company is missing."""
    customer = await _get(session, principal, Customer, data.customer_id, param="customer_id")
    company_id = customer.company_id
    if data.company_id is not None:
        company_id = (await _company(session, principal, data.company_id)).id
        if customer.company_id != company_id:
            raise NotFound(f"No customer {data.customer_id!r}.", param="customer_id")
    if customer.status is CustomerStatus.BLOCKED:
        raise Conflict("This customer is blocked.", code="customer_blocked", param="customer_id")
    return customer, company_id


async def create_order(
    *, session: AsyncSession, principal: Principal, data: schemas.OrderCreate
) -> Order:
    """A pending order of a customer the caller can see, priced and totalled by the server."""
    customer, company_id = await _order_customer(session, principal, data)
    lines, currency = await _price_lines(
        session, company_id, data.line_items, data.currency, data.is_renewal
    )
    order = Order(
        id=new_id("ord"),
        organization_id=customer.organization_id,
        client_id=customer.client_id,
        company_id=company_id,
        customer_id=customer.id,
        line_items=lines,
        currency=currency,
        shipping_amount=data.shipping_amount,
        tax_amount=data.tax_amount,
        discount_amount=data.discount_amount,
        is_renewal=data.is_renewal,
        is_trial=data.is_trial,
        status=OrderStatus.PENDING,
        status_changed_at=clock.now(),
        shipping_address=_dump(data.shipping_address) or customer.shipping_address,
        metadata_=data.metadata,
        created_by=principal.id,
        updated_by=principal.id,
    )
    _set_totals(order)
    session.add(order)
    await session.flush()
    _audit(session, principal, audit.AuditAction.CREATE, order)
    return order


async def list_orders(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    company_id: str | None = None,
    customer_id: str | None = None,
    status: OrderStatus | None = None,
    currency: str | None = None,
    created_gte: datetime | None = None,
    created_lte: datetime | None = None,
    total_gte: int | None = None,
    total_lte: int | None = None,
) -> Page[Order]:
    stmt = _live(principal, Order)
    for column, value in (
        (Order.company_id, company_id),
        (Order.customer_id, customer_id),
        (Order.status, status),
        (Order.currency, currency),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if created_gte is not None:
        stmt = stmt.where(Order.created_at >= created_gte)
    if created_lte is not None:
        stmt = stmt.where(Order.created_at <= created_lte)
    if total_gte is not None:
        stmt = stmt.where(Order.total >= total_gte)
    if total_lte is not None:
        stmt = stmt.where(Order.total <= total_lte)
    return await paginate(session, stmt, Order.id, page)


async def get_order(*, session: AsyncSession, principal: Principal, order_id: str) -> Order:
    return await _get(session, principal, Order, order_id)


_PRICED_FIELDS = (
    "line_items",
    "currency",
    "shipping_amount",
    "tax_amount",
    "discount_amount",
    "is_renewal",
    "is_trial",
)


async def update_order(
    *, session: AsyncSession, principal: Principal, order_id: str, data: schemas.OrderUpdate
) -> Order:
    """Change the given fields; what decides the price only while pending (the totals follow).
    `status: cancelled` cancels the order where that is a legal move (409 otherwise)."""
    order = await _get(session, principal, Order, order_id)
    changes = data.model_dump(exclude_unset=True)
    _not_null(changes, (*_PRICED_FIELDS, "metadata"))
    priced = [name for name in _PRICED_FIELDS if name in changes]
    if priced and order.status is not OrderStatus.PENDING:
        raise Conflict(
            f"{priced[0]} can change only while the order is pending.",
            code="order_not_pending",
            param=priced[0],
        )
    if "currency" in changes and "line_items" not in changes and data.currency != order.currency:
        raise InvalidRequest(
            "line_items are required with a new currency: their prices are in the old one.",
            code="missing_param",
            param="line_items",
        )
    before = audit.snapshot(order)
    is_renewal = order.is_renewal if data.is_renewal is None else data.is_renewal
    if data.line_items is not None:
        order.line_items, order.currency = await _price_lines(
            session, order.company_id, data.line_items, data.currency or order.currency, is_renewal
        )
    for name in ("shipping_amount", "tax_amount", "discount_amount", "is_renewal", "is_trial"):
        if name in changes:
            setattr(order, name, changes[name])
    if "shipping_address" in changes:
        order.shipping_address = _dump(data.shipping_address)
    if "metadata" in changes:
        order.metadata_ = changes["metadata"]
    if priced:
        _set_totals(order)
    if data.status is not None:
        _transition(order, OrderStatus(data.status))
    order.updated_by = principal.id
    await session.flush()
    _audit(session, principal, audit.AuditAction.UPDATE, order, before)
    return order


async def delete_order(*, session: AsyncSession, principal: Principal, order_id: str) -> Order:
    """Soft delete of an order that took no money (pending, failed or cancelled): it is
    cancelled and hidden. A paid or refunded order stays (409)."""
    order = await _get(session, principal, Order, order_id)
    if order.status not in _DELETABLE_ORDERS:
        raise Conflict(
            f"A {order.status.value} order is a payment record and cannot be deleted.",
            code="order_not_deletable",
        )
    before = audit.snapshot(order)
    _transition(order, OrderStatus.CANCELLED)
    order.deleted_at = clock.now()
    order.updated_by = principal.id
    _audit(session, principal, audit.AuditAction.DELETE, order, before)
    return order


async def mark_order(
    *, session: AsyncSession, company_id: str, order_id: str, status: OrderStatus
) -> Order:
    """Move an order of `company_id` to `status` for the payment path (paid, failed, refunded,
    …): 409 for an illegal move, nothing changes when it already has that status. The row is
    locked first, so two payments cannot both move it from the same state."""
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.company_id == company_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound(f"No order {order_id!r}.", param="order_id")
    before = audit.snapshot(order)
    if _transition(order, status):
        await session.flush()
        _audit(session, None, audit.AuditAction.UPDATE, order, before)
    return order
