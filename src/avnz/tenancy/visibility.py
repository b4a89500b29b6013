"""Which tenancy rows a principal can see: the one place that turns a scope into a WHERE clause
for organizations, clients, companies, departments and users. Other domains use it to find the
company a new row belongs to without importing the tenancy service."""

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.permissions import Level
from avnz.auth.scope import Principal, scope_clause
from avnz.core.errors import InvalidRequest, NotFound
from avnz.tenancy.models import Client, Company, Department, Organization, User

Row = TypeVar("Row", Organization, Client, Company, Department, User)

_SCOPE_COLUMNS: dict[type[Any], tuple[Any, Any, Any]] = {
    Company: (Company.organization_id, Company.client_id, Company.id),
    Department: (Department.organization_id, Department.client_id, Department.company_id),
    User: (User.organization_id, User.client_id, User.company_id),
}


def visible(principal: Principal, model: type[Row]) -> ColumnElement[bool]:
    if model is Organization:
        return Organization.id == principal.organization_id
    if model is Client:
        if principal.level is Level.COMPANY:
            return false()
        in_org = Client.organization_id == principal.organization_id
        return (
            in_org
            if principal.level is Level.ORGANIZATION
            else in_org & (Client.id == principal.client_id)
        )
    organization_id, client_id, company_id = _SCOPE_COLUMNS[model]
    return scope_clause(
        principal, organization_id=organization_id, client_id=client_id, company_id=company_id
    )


def not_deleted(model: type[Row]) -> ColumnElement[bool] | None:
    deleted_at = getattr(model, "deleted_at", None)
    return deleted_at.is_(None) if deleted_at is not None else None


def scoped(principal: Principal, model: type[Row]) -> Select[Row]:
    stmt = select(model).where(visible(principal, model))
    live = not_deleted(model)
    return stmt.where(live) if live is not None else stmt


async def get_visible(
    session: AsyncSession, principal: Principal, model: type[Row], row_id: str, param: str = "id"
) -> Row:
    """The live row `row_id` if the principal can see it; otherwise 404 (never 403: another
    tenant's rows do not exist for this caller). `param` names the input that carried the id.
    By primary key, the scope then checked in Python (`can_see`, the same rule as `visible`):
    the ORM caches that load, where a scoped query is built anew per call (every payment
    finds its company here)."""
    row = await session.get(model, row_id)
    if row is None:
        raise NotFound(f"No {model.__name__.lower()} {row_id!r}.", param=param)
    return visible_row(principal, row, param=param)


def visible_row(principal: Principal, row: Row, param: str = "id") -> Row:
    """`row` if it is live and the principal can see it; otherwise 404, as `get_visible`."""
    if getattr(row, "deleted_at", None) is not None or not can_see(principal, row):
        raise NotFound(f"No {type(row).__name__.lower()} {row.id!r}.", param=param)
    return row


def can_see(principal: Principal, row: Organization | Client | Company | Department | User) -> bool:
    """`visible` for one loaded row."""
    if isinstance(row, Organization):
        return row.id == principal.organization_id
    if isinstance(row, Client):  # none for company users: no company id to match
        return principal.can_see(row.organization_id, row.id, None)
    organization_id, client_id, company_id = (
        getattr(row, column.key) for column in _SCOPE_COLUMNS[type(row)]
    )
    return principal.can_see(organization_id, client_id, company_id)


async def target_company(
    session: AsyncSession, principal: Principal, company_id: str | None
) -> Company:
    """The company a request acts on: the one named, else the caller's own (company users);
    400 when neither says, 404 when it is outside the caller's scope."""
    company_id = company_id or principal.company_id
    if company_id is None:
        raise InvalidRequest("company_id is required.", code="missing_param", param="company_id")
    return await get_visible(session, principal, Company, company_id, param="company_id")
