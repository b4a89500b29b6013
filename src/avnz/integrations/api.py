"""Integration routes: `/admin/integrations/...` for the organization's own (organization admins),
`/integrations/...` for a client's (client level and above). Credentials come back masked."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.permissions import Level, Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.errors import PermissionDenied
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.db.engine import after_commit
from avnz.deps import RuntimeDep, Session, require
from avnz.integrations import connection_tests, gateway_accounts, schemas
from avnz.integrations import service as integrations
from avnz.integrations.models import (
    IntegrationCategory,
    IntegrationMode,
    IntegrationStatus,
    PlatformIntegration,
)
from avnz.runtime import Runtime

router = APIRouter(route_class=ApiRoute)
P = Permission


def _at_level(level: Level, permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """The permission, and a caller at `level` or above (organization is the top)."""
    permitted = require(permission)

    async def dependency(principal: Annotated[Principal, Depends(permitted)]) -> Principal:
        if principal.level > level:
            where = "organization" if level is Level.ORGANIZATION else "client"
            raise PermissionDenied(f"This needs a role at {where} level or above.")
        return principal

    return dependency


PlatformRead = Annotated[Principal, Depends(_at_level(Level.ORGANIZATION, P.SETTINGS_READ))]
PlatformWrite = Annotated[Principal, Depends(_at_level(Level.ORGANIZATION, P.SETTINGS_WRITE))]
ClientRead = Annotated[Principal, Depends(_at_level(Level.CLIENT, P.SETTINGS_READ))]
ClientWrite = Annotated[Principal, Depends(_at_level(Level.CLIENT, P.SETTINGS_WRITE))]
Id = Annotated[str | None, Query(max_length=40)]
Month = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (UTC); default: this month."),
]
ADMIN_TAGS: list[str | Any] = ["platform integrations"]
CLIENT_TAGS: list[str | Any] = ["integrations"]


def _identity_changed(session: AsyncSession, runtime: Runtime, row: PlatformIntegration) -> None:
    # Tokens are checked against cached OIDC settings; drop them once the change has committed.
    if row.category is IntegrationCategory.AUTHENTICATION:
        after_commit(session, lambda: runtime.oidc_configs.discard("all"))


# --- definitions and platform integrations ---------------------------------------------------


@router.get(
    "/admin/integrations/definitions", response_model=schemas.DefinitionList, tags=ADMIN_TAGS
)
async def list_definitions(
    session: Session,
    principal: PlatformRead,
    category: IntegrationCategory | None = None,
    provider: schemas.ProviderCode | None = None,
    client_allowed: bool | None = None,
) -> Any:
    rows = await integrations.list_definitions(
        session=session, category=category, provider=provider, client_allowed=client_allowed
    )
    return {"data": [schemas.DefinitionOut.model_validate(row) for row in rows]}


@router.get(
    "/admin/integrations/platform",
    response_model=PageOut[schemas.PlatformIntegrationOut],
    tags=ADMIN_TAGS,
)
async def list_platform_integrations(
    session: Session,
    principal: PlatformRead,
    paging: Paging,
    category: IntegrationCategory | None = None,
    provider: schemas.ProviderCode | None = None,
    status: IntegrationStatus | None = None,
    shared: bool | None = None,
) -> Any:
    page = await integrations.list_platform_integrations(
        session=session,
        principal=principal,
        page=paging,
        category=category,
        provider=provider,
        status=status,
        shared=shared,
    )
    return page_out(page, schemas.PlatformIntegrationOut)


@router.post(
    "/admin/integrations/platform",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PlatformIntegrationOut,
    tags=ADMIN_TAGS,
)
async def create_platform_integration(
    data: schemas.PlatformIntegrationCreate,
    session: Session,
    principal: PlatformWrite,
    runtime: RuntimeDep,
) -> Any:
    row = await integrations.create_platform_integration(
        session=session, principal=principal, keyring=runtime.keyring, data=data
    )
    _identity_changed(session, runtime, row)
    return row


@router.get(
    "/admin/integrations/platform/{integration_id}",
    response_model=schemas.PlatformIntegrationOut,
    tags=ADMIN_TAGS,
)
async def get_platform_integration(
    integration_id: str, session: Session, principal: PlatformRead
) -> Any:
    return await integrations.get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )


@router.patch(
    "/admin/integrations/platform/{integration_id}",
    response_model=schemas.PlatformIntegrationOut,
    tags=ADMIN_TAGS,
)
async def update_platform_integration(
    integration_id: str,
    data: schemas.PlatformIntegrationUpdate,
    session: Session,
    principal: PlatformWrite,
    runtime: RuntimeDep,
) -> Any:
    row = await integrations.update_platform_integration(
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        integration_id=integration_id,
        data=data,
    )
    _identity_changed(session, runtime, row)
    return row


@router.delete(
    "/admin/integrations/platform/{integration_id}",
    response_model=schemas.PlatformIntegrationOut,
    tags=ADMIN_TAGS,
)
async def delete_platform_integration(
    integration_id: str, session: Session, principal: PlatformWrite, runtime: RuntimeDep
) -> Any:
    row = await integrations.delete_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    _identity_changed(session, runtime, row)
    return row


@router.post(
    "/admin/integrations/platform/{integration_id}/test",
    response_model=schemas.ConnectionTestOut,
    tags=ADMIN_TAGS,
)
async def run_platform_test(
    integration_id: str, session: Session, principal: PlatformWrite, runtime: RuntimeDep
) -> Any:
    _, result = await connection_tests.check_integration(
        kind="platform",
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        http=runtime.http,
        integration_id=integration_id,
    )
    return result.as_json()


@router.patch(
    "/admin/integrations/platform/{integration_id}/sharing",
    response_model=schemas.PlatformIntegrationOut,
    tags=ADMIN_TAGS,
)
async def set_sharing(
    integration_id: str, data: schemas.SharingUpdate, session: Session, principal: PlatformWrite
) -> Any:
    return await integrations.set_sharing(
        session=session, principal=principal, integration_id=integration_id, data=data
    )


# --- client integrations ---------------------------------------------------------------------


@router.get("/integrations/available", response_model=schemas.AvailableList, tags=CLIENT_TAGS)
async def available_integrations(session: Session, principal: ClientRead) -> Any:
    catalog = await integrations.available(session=session, principal=principal)
    return {
        "data": [
            {
                "definition": schemas.DefinitionOut.model_validate(definition),
                "platform_options": [schemas.PlatformOption.model_validate(o) for o in offers],
            }
            for definition, offers in catalog
        ]
    }


@router.get("/integrations", response_model=PageOut[schemas.ClientIntegrationOut], tags=CLIENT_TAGS)
async def list_client_integrations(
    session: Session,
    principal: ClientRead,
    paging: Paging,
    client_id: Id = None,
    company_id: Id = None,
    category: IntegrationCategory | None = None,
    provider: schemas.ProviderCode | None = None,
    status: IntegrationStatus | None = None,
    mode: IntegrationMode | None = None,
) -> Any:
    page = await integrations.list_client_integrations(
        session=session,
        principal=principal,
        page=paging,
        client_id=client_id,
        company_id=company_id,
        category=category,
        provider=provider,
        status=status,
        mode=mode,
    )
    return {
        "object": "list",
        "data": await integrations.client_out(session, page.items),
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


async def _one_out(session: AsyncSession, row: Any) -> schemas.ClientIntegrationOut:
    [out] = await integrations.client_out(session, [row])
    return out


@router.post(
    "/integrations",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ClientIntegrationOut,
    tags=CLIENT_TAGS,
)
async def create_client_integration(
    data: schemas.ClientIntegrationCreate,
    session: Session,
    principal: ClientWrite,
    runtime: RuntimeDep,
) -> Any:
    row = await gateway_accounts.create_client_integration(
        session=session, principal=principal, keyring=runtime.keyring, data=data
    )
    return await _one_out(session, row)


@router.get(
    "/integrations/{integration_id}",
    response_model=schemas.ClientIntegrationOut,
    tags=CLIENT_TAGS,
)
async def get_client_integration(
    integration_id: str, session: Session, principal: ClientRead
) -> Any:
    row = await integrations.get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    return await _one_out(session, row)


@router.patch(
    "/integrations/{integration_id}",
    response_model=schemas.ClientIntegrationOut,
    tags=CLIENT_TAGS,
)
async def update_client_integration(
    integration_id: str,
    data: schemas.ClientIntegrationUpdate,
    session: Session,
    principal: ClientWrite,
    runtime: RuntimeDep,
) -> Any:
    row = await gateway_accounts.update_client_integration(
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        integration_id=integration_id,
        data=data,
    )
    return await _one_out(session, row)


@router.delete(
    "/integrations/{integration_id}",
    response_model=schemas.ClientIntegrationOut,
    tags=CLIENT_TAGS,
)
async def delete_client_integration(
    integration_id: str, session: Session, principal: ClientWrite
) -> Any:
    row = await gateway_accounts.delete_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    return await _one_out(session, row)


@router.post(
    "/integrations/{integration_id}/test",
    response_model=schemas.ConnectionTestOut,
    tags=CLIENT_TAGS,
)
async def run_client_test(
    integration_id: str, session: Session, principal: ClientWrite, runtime: RuntimeDep
) -> Any:
    _, result = await connection_tests.check_integration(
        kind="client",
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        http=runtime.http,
        integration_id=integration_id,
    )
    return result.as_json()


@router.patch(
    "/integrations/{integration_id}/default",
    response_model=schemas.ClientIntegrationOut,
    tags=CLIENT_TAGS,
)
async def set_default(integration_id: str, session: Session, principal: ClientWrite) -> Any:
    row = await integrations.set_default(
        session=session, principal=principal, integration_id=integration_id
    )
    return await _one_out(session, row)


@router.get(
    "/integrations/{integration_id}/usage", response_model=schemas.UsageOut, tags=CLIENT_TAGS
)
async def integration_usage(
    integration_id: str, session: Session, principal: ClientRead, month: Month = None
) -> Any:
    return await integrations.usage(
        session=session, principal=principal, integration_id=integration_id, month=month
    )
