"""A company's orders: lines priced from the catalog, totals computed here, and the legal moves
of an order's status (payments marks orders through `mark_order`).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal
from avnz.commerce import schemas
from avnz.commerce.models import (
    Customer,
    CustomerStatus,
    Order,
    OrderStatus,
    Product,
)
from avnz.commerce.rows import (
    audit_change,
    company_for_new,
    dumped,
    get_row,
    live,
    refuse_nulls,
)
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate

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
    livemode: bool,
    lines: list[schemas.LineItemIn],
    currency: str | None,
    is_renewal: bool,
) -> tuple[list[dict[str, Any]], str]:
    """The lines as stored, priced from the catalog (of the order's mode) where they do not
    say, and the currency."""
    skus = {line.sku for line in lines}
    found = await session.scalars(
        select(Product).where(
            Product.company_id == company_id,
            Product.livemode.is_(livemode),
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
    customer = await get_row(session, principal, Customer, data.customer_id, param="customer_id")
    company_id = customer.company_id
    if data.company_id is not None:
        company_id = (await company_for_new(session, principal, data.company_id)).id
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
        session, company_id, customer.livemode, data.line_items, data.currency, data.is_renewal
    )
    order = Order(
        id=new_id("ord"),
        organization_id=customer.organization_id,
        client_id=customer.client_id,
        company_id=company_id,
        livemode=customer.livemode,
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
        shipping_address=dumped(data.shipping_address) or customer.shipping_address,
        metadata_=data.metadata,
        created_by=principal.id,
        updated_by=principal.id,
    )
    _set_totals(order)
    session.add(order)
    await session.flush()
    audit_change(session, principal, audit.AuditAction.CREATE, order)
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
    stmt = live(principal, Order)
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
    return await get_row(session, principal, Order, order_id)


async def order_of_company(
    *, session: AsyncSession, principal: Principal, company_id: str, order_id: str
) -> Order:
    """The order `order_id` names, if it is `company_id`'s and the caller may see it; one of
    another tenant, another mode or none is as missing (404 naming the field)."""
    try:
        order = await get_row(session, principal, Order, order_id)
    except NotFound:
        order = None
    if order is None or order.company_id != company_id:
        raise NotFound(f"No order {order_id!r} in this company.", param="order_id")
    return order


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
    order = await get_row(session, principal, Order, order_id)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, (*_PRICED_FIELDS, "metadata"))
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
            session,
            order.company_id,
            order.livemode,
            data.line_items,
            data.currency or order.currency,
            is_renewal,
        )
    for name in ("shipping_amount", "tax_amount", "discount_amount", "is_renewal", "is_trial"):
        if name in changes:
            setattr(order, name, changes[name])
    if "shipping_address" in changes:
        order.shipping_address = dumped(data.shipping_address)
    if "metadata" in changes:
        order.metadata_ = changes["metadata"]
    if priced:
        _set_totals(order)
    if data.status is not None:
        _transition(order, OrderStatus(data.status))
    order.updated_by = principal.id
    await session.flush()
    audit_change(session, principal, audit.AuditAction.UPDATE, order, before)
    return order


async def delete_order(*, session: AsyncSession, principal: Principal, order_id: str) -> Order:
    """Soft delete of an order that took no money (pending, failed or cancelled): it is
    cancelled and hidden. A paid or refunded order stays (409)."""
    order = await get_row(session, principal, Order, order_id)
    if order.status not in _DELETABLE_ORDERS:
        raise Conflict(
            f"A {order.status.value} order is a payment record and cannot be deleted.",
            code="order_not_deletable",
        )
    before = audit.snapshot(order)
    _transition(order, OrderStatus.CANCELLED)
    order.deleted_at = clock.now()
    order.updated_by = principal.id
    audit_change(session, principal, audit.AuditAction.DELETE, order, before)
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
        audit_change(session, None, audit.AuditAction.UPDATE, order, before)
    return order
