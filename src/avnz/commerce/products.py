"""A company's product catalog, one-time or subscription."""

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal
from avnz.commerce import schemas
from avnz.commerce.models import (
    Product,
    SubscriptionInterval,
)
from avnz.commerce.rows import (
    apply_changes,
    audit_change,
    company_for_new,
    flush_unique,
    get_row,
    like_pattern,
    live,
    refuse_nulls,
)
from avnz.core import clock
from avnz.core.errors import InvalidRequest
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate

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
    await flush_unique(session, "products", {"sku": f"A product with sku {product.sku!r}"})


async def create_product(
    *, session: AsyncSession, principal: Principal, data: schemas.ProductCreate
) -> Product:
    """A catalog product; the sku is unique among the company's live products."""
    company = await company_for_new(session, principal, data.company_id)
    _check_subscription(data.is_subscription, data.interval, data.trial_days)
    product = Product(
        id=new_id("prd"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        livemode=principal.livemode,
        created_by=principal.id,
    )
    apply_changes(product, data.model_dump(exclude={"company_id"}), principal)
    session.add(product)
    await _flush_product(session, product)
    audit_change(session, principal, audit.AuditAction.CREATE, product)
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
    stmt = live(principal, Product)
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
        pattern = f"%{like_pattern(search)}%"
        stmt = stmt.where(
            or_(Product.name.ilike(pattern, escape="\\"), Product.sku.ilike(pattern, escape="\\"))
        )
    return await paginate(session, stmt, Product.id, page)


async def get_product(*, session: AsyncSession, principal: Principal, product_id: str) -> Product:
    return await get_row(session, principal, Product, product_id)


async def update_product(
    *, session: AsyncSession, principal: Principal, product_id: str, data: schemas.ProductUpdate
) -> Product:
    """Change the given fields; the subscription fields must agree once merged. Orders keep the
    prices they were made with."""
    product = await get_row(session, principal, Product, product_id)
    changes = data.model_dump(exclude_unset=True)
    refuse_nulls(changes, _PRODUCT_NOT_NULL)
    _check_subscription(
        changes.get("is_subscription", product.is_subscription),
        changes.get("interval", product.interval),
        changes.get("trial_days", product.trial_days),
    )
    before = audit.snapshot(product)
    apply_changes(product, changes, principal)
    await _flush_product(session, product)
    audit_change(session, principal, audit.AuditAction.UPDATE, product, before)
    return product


async def delete_product(
    *, session: AsyncSession, principal: Principal, product_id: str
) -> Product:
    """Soft delete: inactive and hidden; its sku is free again; past orders keep their lines."""
    product = await get_row(session, principal, Product, product_id)
    before = audit.snapshot(product)
    product.active = False
    product.deleted_at = clock.now()
    product.updated_by = principal.id
    audit_change(session, principal, audit.AuditAction.DELETE, product, before)
    return product
