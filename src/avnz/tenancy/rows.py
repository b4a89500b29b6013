"""What the tenancy rows share: the level a change needs, the audit trail, PATCH semantics
(only nullable columns may be cleared), and a unique clash turned into a 409.
"""

import re
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.permissions import Level
from avnz.auth.scope import Principal
from avnz.core.errors import Conflict, InvalidRequest, PermissionDenied
from avnz.tenancy.models import (
    Client,
    Company,
    Department,
    Organization,
    User,
)


def require_level(principal: Principal, level: Level, action: str) -> None:
    """Refuse (403) a caller whose level is below `level`."""
    if principal.level > level:
        raise PermissionDenied(f"Your role cannot {action}.")


def tenant_of(row: Organization | Client | Company | Department | User) -> audit.Tenant:
    """The tenant a row belongs to, for its audit entries."""
    if isinstance(row, Organization):
        return audit.Tenant(row.id)
    if isinstance(row, Client):
        return audit.Tenant(row.organization_id, row.id)
    if isinstance(row, Company):
        return audit.Tenant(row.organization_id, row.client_id, row.id)
    return audit.Tenant(row.organization_id, row.client_id, row.company_id)


def audit_change(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    row: Organization | Client | Company | Department | User,
    before: dict[str, Any] | None = None,
) -> None:
    """Record a change of an organization, client, company, department or user."""
    after = audit.snapshot(row)
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=type(row).__tablename__.removesuffix("s").replace("companie", "company"),
        resource_id=row.id,
        tenant=tenant_of(row),
        before=before,
        after=after,
    )


def _attribute(field: str) -> str:
    return "metadata_" if field == "metadata" else field


def refuse_nulls(row_type: type[Any], changes: dict[str, Any]) -> None:
    """A PATCH may clear only nullable columns: null elsewhere is the client's mistake (400),
    not a constraint violation for the database to report."""
    columns = sa_inspect(row_type).columns
    for field, value in changes.items():
        column = columns.get(_attribute(field))
        if value is None and column is not None and not column.nullable:
            raise InvalidRequest(f"{field} cannot be null.", param=field)


def apply_changes(row: Any, changes: dict[str, Any], principal: Principal) -> None:
    """Set the changed fields on the row (nullable ones only may be cleared)."""
    refuse_nulls(type(row), changes)
    for field, value in changes.items():
        setattr(row, _attribute(field), value)
    row.updated_by = principal.id


async def flush_unique(session: AsyncSession, what: str, param: str) -> None:
    """Flush, turning a unique-constraint violation into a 409 the caller can act on."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"{what} is already taken.", code="duplicate", param=param) from None


def slugify(name: str) -> str:
    """A URL-safe slug of `name` (lower case, dashes), at most 80 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80] or "item"
