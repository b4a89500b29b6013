"""Writing and reading the audit log.

`record` adds the row to the caller's session, so the audit entry commits in the same database
transaction as the change it describes: a change that succeeded always has its audit row. The
row is linked into its organization's hash chain as that transaction commits (`audit.chain`).
"""

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import chain
from avnz.audit.models import AuditLog
from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock, context
from avnz.core.errors import NotFound
from avnz.core.ids import new_id
from avnz.core.masking import mask_value
from avnz.core.pagination import Page, PageParams, paginate


class AuditAction(enum.StrEnum):
    CREATE = "CREATE"
    READ = "READ"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CAPTURE = "CAPTURE"
    VOID = "VOID"
    REFUND = "REFUND"
    ROTATE = "ROTATE"
    LOGIN_FAILED = "LOGIN_FAILED"


@dataclass(frozen=True, slots=True)
class Tenant:
    """The hierarchy ids of the row an audit entry is about."""

    organization_id: str
    client_id: str | None = None
    company_id: str | None = None


# Never copied into an audit row, even masked.
_OMITTED_COLUMNS = frozenset({"password_hash", "key_hash", "token_hash"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(row: object) -> dict[str, Any]:
    """The row's column values as JSON-safe data, hashes left out (`record` masks the rest)."""
    mapper = inspect(type(row))
    # Keyed by column name ("metadata", not the attribute "metadata_"), as the API shows it.
    values = {
        prop.columns[0].name: _jsonable(getattr(row, prop.key))
        for prop in mapper.column_attrs
        if prop.key not in _OMITTED_COLUMNS
    }
    return values


def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    action: AuditAction,
    resource: str,
    resource_id: str | None,
    tenant: Tenant,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row to the session; it commits (or rolls back) with the change itself."""
    request = context.current()
    entry = AuditLog(
        id=new_id("aud"),
        timestamp=clock.now(),
        organization_id=tenant.organization_id,
        client_id=tenant.client_id,
        company_id=tenant.company_id,
        actor_type=actor.kind if actor else "system",
        user_id=actor.id if actor else None,
        user_email=actor.email if actor else None,
        action=action.value,
        resource=resource,
        resource_id=resource_id,
        previous_value=mask_value(before) if before is not None else None,
        new_value=mask_value(after) if after is not None else None,
        ip_address=request.ip_address if request else None,
        user_agent=request.user_agent if request else None,
        request_id=request.request_id if request else None,
        metadata_=mask_value(metadata or {}),
    )
    session.add(entry)
    chain.note(session.sync_session, entry)
    return entry


def record_key_rotation(
    session: AsyncSession,
    *,
    organization_ids: list[str],
    key_version: int,
    re_encrypted: dict[str, int],
) -> None:
    """A master key rotation in the audit log of every organization whose secrets the keys
    protect: the new key's version and how many ciphertexts were rewritten (never a key)."""
    for organization_id in organization_ids:
        record(
            session,
            actor=None,
            action=AuditAction.ROTATE,
            resource="master_keys",
            resource_id=f"v{key_version}",
            tenant=Tenant(organization_id),
            metadata={"key_version": key_version, "re_encrypted": re_encrypted},
        )


def _visible(principal: Principal) -> Any:
    return scope_clause(
        principal,
        organization_id=AuditLog.organization_id,
        client_id=AuditLog.client_id,
        company_id=AuditLog.company_id,
    )


async def list_entries(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    user_id: str | None = None,
    resource: str | None = None,
    resource_id: str | None = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditLog]:
    stmt = select(AuditLog).where(_visible(principal))
    if user_id:
        stmt = stmt.where(AuditLog.user_id == user_id)
    if resource:
        stmt = stmt.where(AuditLog.resource == resource)
    if resource_id:
        stmt = stmt.where(AuditLog.resource_id == resource_id)
    if action:
        stmt = stmt.where(AuditLog.action == action.value)
    if since:
        stmt = stmt.where(AuditLog.timestamp >= since)
    if until:
        stmt = stmt.where(AuditLog.timestamp < until)
    return await paginate(session, stmt, AuditLog.id, page)


async def get_entry(*, session: AsyncSession, principal: Principal, entry_id: str) -> AuditLog:
    entry = await session.scalar(
        select(AuditLog).where(AuditLog.id == entry_id, _visible(principal))
    )
    if entry is None:
        raise NotFound(f"No audit log entry {entry_id!r}.", param="id")
    return entry
