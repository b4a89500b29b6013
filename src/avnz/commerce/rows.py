"""What customers, products and orders share: the caller's scope as a WHERE clause, the
company a new row goes to, the audit trail, and turning a unique-index clash into a 409.

A row outside the caller's scope, or soft-deleted, is reported as missing (404), never as
forbidden.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, mode_clause, scope_clause
from avnz.commerce.models import (
    Customer,
    Order,
    Product,
)
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import Company

Row = TypeVar("Row", Customer, Product, Order)


def visible(principal: Principal, model: type[Row]) -> ColumnElement[bool]:
    """The WHERE clause of the rows of `model` inside the caller's scope and mode."""
    return scope_clause(
        principal,
        organization_id=model.organization_id,
        client_id=model.client_id,
        company_id=model.company_id,
    ) & mode_clause(principal, model.livemode)


def live(principal: Principal, model: type[Row]) -> Select[Row]:
    """SELECT of the caller's rows of `model` that are not soft-deleted."""
    return select(model).where(visible(principal, model), model.deleted_at.is_(None))


async def get_row(
    session: AsyncSession, principal: Principal, model: type[Row], row_id: str, param: str = "id"
) -> Row:
    """One live row in scope, or a 404 naming `param`."""
    row = await session.scalar(live(principal, model).where(model.id == row_id))
    if row is None:
        raise NotFound(f"No {model.__name__.lower()} {row_id!r}.", param=param)
    return row


async def company_for_new(
    session: AsyncSession, principal: Principal, company_id: str | None
) -> Company:
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


def tenant_of(row: Customer | Product | Order) -> audit.Tenant:
    """The tenant a row belongs to, for its audit entries."""
    return audit.Tenant(row.organization_id, row.client_id, row.company_id)


def audit_change(
    session: AsyncSession,
    principal: Principal | None,
    action: audit.AuditAction,
    row: Customer | Product | Order,
    before: dict[str, Any] | None = None,
) -> None:
    """Record a change of a customer, product or order in the audit log."""
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=type(row).__tablename__.removesuffix("s"),
        resource_id=row.id,
        tenant=tenant_of(row),
        before=before,
        after=audit.snapshot(row),
    )


def refuse_nulls(changes: dict[str, Any], names: Iterable[str]) -> None:
    """A PATCH may not clear these fields: null is a 400 naming the field."""
    for name in names:
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)


async def flush_unique(session: AsyncSession, table: str, taken: dict[str, str]) -> None:
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


def like_pattern(value: str) -> str:
    """`value` with LIKE's wildcards escaped, to match it literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def dumped(value: Any) -> Any:
    """A validated JSON document as stored (None stays None)."""
    return value.model_dump(mode="json", exclude_none=True) if value is not None else None


def apply_changes(row: Any, changes: dict[str, Any], principal: Principal) -> None:
    """Set the changed fields on the row and who changed it last."""
    for name, value in changes.items():
        setattr(row, "metadata_" if name == "metadata" else name, value)
    row.updated_by = principal.id
