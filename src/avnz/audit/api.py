"""`GET /admin/audit-logs` and `/admin/audit-logs/{id}`: the audit trail within your scope."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from avnz.audit import schemas
from avnz.audit import service as audit
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.errors import InvalidRequest
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.core.params import IsoDatetime
from avnz.deps import Session, require

router = APIRouter(route_class=ApiRoute, tags=["audit"])
Auditor = Annotated[Principal, Depends(require(Permission.ADMIN_USERS))]


@router.get("/admin/audit-logs", response_model=PageOut[schemas.AuditLogOut])
async def list_audit_logs(
    session: Session,
    principal: Auditor,
    paging: Paging,
    user_id: Annotated[str | None, Query(max_length=40)] = None,
    resource: Annotated[str | None, Query(max_length=64)] = None,
    resource_id: Annotated[str | None, Query(max_length=40)] = None,
    action: audit.AuditAction | None = None,
    since: Annotated[
        IsoDatetime | None, Query(description="Inclusive, ISO 8601 with offset.")
    ] = None,
    until: Annotated[
        IsoDatetime | None, Query(description="Exclusive, ISO 8601 with offset.")
    ] = None,
) -> Any:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidRequest(
                f"{name} needs a timezone offset, e.g. 2026-11-01T00:00:00Z.", param=name
            )
    page = await audit.list_entries(
        session=session,
        principal=principal,
        page=paging,
        user_id=user_id,
        resource=resource,
        resource_id=resource_id,
        action=action,
        since=since,
        until=until,
    )
    return page_out(page, schemas.AuditLogOut)


@router.get("/admin/audit-logs/{entry_id}", response_model=schemas.AuditLogOut)
async def get_audit_log(entry_id: str, session: Session, principal: Auditor) -> Any:
    return await audit.get_entry(session=session, principal=principal, entry_id=entry_id)
