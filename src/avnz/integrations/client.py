"""Each client's own integrations (own or platform mode): CRUD, the default per category, what a
client can add, and the read and record steps of their connection test. A payment gateway's
merchant account follows in `gateway_accounts`, above this module.
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.integrations import schemas
from avnz.integrations.catalog import definition_for_new, get_definition, list_definitions
from avnz.integrations.models import (
    ClientIntegration,
    DefinitionStatus,
    IntegrationCategory,
    IntegrationDefinition,
    IntegrationMode,
    IntegrationStatus,
    PlatformIntegration,
)
from avnz.integrations.probes import ProbeResult, Target
from avnz.integrations.records import (
    audit_change,
    merged_credentials,
    record_test_result,
    seal,
    snapshot,
    target_of,
)
from avnz.integrations.validation import (
    checked_credentials,
    checked_settings,
    require_client_level,
)
from avnz.security.keyring import Keyring
from avnz.tenancy import service as tenancy


def _client_visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=ClientIntegration.organization_id,
        client_id=ClientIntegration.client_id,
        company_id=ClientIntegration.company_id,
    ) & ClientIntegration.deleted_at.is_(None)


async def get_client_integration(
    *, session: AsyncSession, principal: Principal, integration_id: str
) -> ClientIntegration:
    require_client_level(principal)
    row = await session.scalar(
        select(ClientIntegration).where(
            ClientIntegration.id == integration_id, _client_visible(principal)
        )
    )
    if row is None:
        raise NotFound(f"No integration {integration_id!r}.", param="id")
    return row


async def list_client_integrations(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    client_id: str | None = None,
    company_id: str | None = None,
    category: IntegrationCategory | None = None,
    provider: str | None = None,
    status: IntegrationStatus | None = None,
    mode: IntegrationMode | None = None,
) -> Page[ClientIntegration]:
    require_client_level(principal)
    stmt = select(ClientIntegration).where(_client_visible(principal))
    for column, value in (
        (ClientIntegration.client_id, client_id),
        (ClientIntegration.company_id, company_id),
        (ClientIntegration.category, category),
        (ClientIntegration.provider, provider),
        (ClientIntegration.status, status),
        (ClientIntegration.mode, mode),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, ClientIntegration.id, page)


async def _shared_platform_integration(
    session: AsyncSession, organization_id: str, integration_id: str
) -> PlatformIntegration:
    row = await session.scalar(
        select(PlatformIntegration).where(
            PlatformIntegration.id == integration_id,
            PlatformIntegration.organization_id == organization_id,
            PlatformIntegration.deleted_at.is_(None),
            PlatformIntegration.status == IntegrationStatus.ACTIVE,
            PlatformIntegration.is_shared_with_clients.is_(True),
        )
    )
    if row is None:
        raise NotFound(
            f"No platform integration {integration_id!r} is offered to clients.",
            param="platform_integration_id",
        )
    return row


async def _company_of_gateway(
    session: AsyncSession,
    principal: Principal,
    definition: IntegrationDefinition,
    client_id: str,
    company_id: str | None,
) -> str | None:
    if definition.category is not IntegrationCategory.PAYMENT_GATEWAY:
        if company_id is not None:
            raise InvalidRequest(
                "company_id applies to payment gateway integrations only.", param="company_id"
            )
        return None
    if company_id is None:
        raise InvalidRequest(
            "company_id is required: the brand whose merchant account this gateway feeds.",
            code="missing_param",
            param="company_id",
        )
    try:
        company = await tenancy.get_company(
            session=session, principal=principal, company_id=company_id
        )
    except NotFound:
        raise NotFound(f"No company {company_id!r}.", param="company_id") from None
    if company.client_id != client_id:
        raise InvalidRequest("The company belongs to another client.", param="company_id")
    return company.id


def _no_platform_endpoint(settings: Mapping[str, Any]) -> None:
    if "base_url" in settings:
        # The platform's credentials must not be sent where a client says.
        raise InvalidRequest(
            "Platform mode uses the platform integration's endpoint; remove base_url.",
            code="base_url_not_allowed",
            param="settings.base_url",
        )


async def create_client_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    data: schemas.ClientIntegrationCreate,
) -> ClientIntegration:
    """Add a client's integration in `own` or `platform` mode (its merchant account, for a
    payment gateway, is `gateway_accounts`' part)."""
    require_client_level(principal)
    client_id = data.client_id or principal.client_id
    if client_id is None:
        raise InvalidRequest("client_id is required.", code="missing_param", param="client_id")
    try:
        client = await tenancy.get_client(session=session, principal=principal, client_id=client_id)
    except NotFound:
        raise NotFound(f"No client {client_id!r}.", param="client_id") from None
    definition = await definition_for_new(session, data.provider)
    if not definition.is_client_allowed:
        raise InvalidRequest(
            f"{definition.name} is configured by the organization only.",
            code="provider_not_allowed",
            param="provider",
        )
    company_id = await _company_of_gateway(
        session, principal, definition, client.id, data.company_id
    )
    row = ClientIntegration(
        id=new_id("cint"),
        organization_id=client.organization_id,
        client_id=client.id,
        company_id=company_id,
        provider=definition.provider,
        category=definition.category,
        name=data.name,
        description=data.description,
        mode=data.mode,
        priority=data.priority,
        status=IntegrationStatus.ACTIVE,
        is_default=False,
        is_verified=False,
        created_by=principal.id,
        updated_by=principal.id,
    )
    credentials: dict[str, str] = {}
    if data.mode is IntegrationMode.OWN:
        if data.platform_integration_id is not None:
            raise InvalidRequest(
                "platform_integration_id is for platform mode.", param="platform_integration_id"
            )
        if data.credentials is None:
            raise InvalidRequest(
                "Own mode needs credentials.", code="missing_param", param="credentials"
            )
        credentials = checked_credentials(definition, data.credentials)
        row.environment = data.environment
    else:
        if data.credentials is not None:
            raise InvalidRequest(
                "Platform mode uses the platform's credentials; send none.", param="credentials"
            )
        if data.platform_integration_id is None:
            raise InvalidRequest(
                "Platform mode needs platform_integration_id.",
                code="missing_param",
                param="platform_integration_id",
            )
        platform = await _shared_platform_integration(
            session, client.organization_id, data.platform_integration_id
        )
        if platform.provider != definition.provider or not definition.is_platform_offered:
            raise InvalidRequest(
                f"That platform integration is {platform.provider}, not {definition.provider}.",
                param="platform_integration_id",
            )
        _no_platform_endpoint(data.settings)
        row.platform_integration_id = platform.id
        row.environment = platform.environment
    row.settings = checked_settings(definition, data.settings, row.environment)
    seal(row, credentials, keyring)
    session.add(row)
    await session.flush()
    if data.is_default or not await _has_default(session, row):
        await _make_default(session, row)
    audit_change(session, principal, audit.AuditAction.CREATE, row)
    return row


async def update_client_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    integration_id: str,
    data: schemas.ClientIntegrationUpdate,
) -> ClientIntegration:
    """Change the given fields (a gateway's merchant account follows in `gateway_accounts`)."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    definition = await get_definition(session=session, provider=row.provider)
    before = snapshot(row)
    changes = data.model_dump(exclude_unset=True)
    platform_mode = row.mode is IntegrationMode.PLATFORM
    for field in ("credentials", "environment"):
        if platform_mode and changes.get(field) is not None:
            raise InvalidRequest(
                f"A platform-mode integration takes its {field} from the platform.", param=field
            )
    if changes.get("credentials") is not None:
        credentials = checked_credentials(
            definition, merged_credentials(row, changes["credentials"], keyring)
        )
        seal(row, credentials, keyring)
        row.is_verified = False
    if changes.get("environment") is not None:
        row.environment = changes["environment"]
        row.is_verified = False
    if "settings" in changes or "environment" in changes:
        settings = (changes.get("settings") if "settings" in changes else row.settings) or {}
        if platform_mode:
            _no_platform_endpoint(settings)
        row.settings = checked_settings(definition, settings, row.environment)
    for field in ("name", "priority", "status"):
        if changes.get(field) is not None:
            setattr(row, field, changes[field])
    if "description" in changes:
        row.description = changes["description"]
    row.updated_by = principal.id
    await session.flush()
    audit_change(session, principal, audit.AuditAction.UPDATE, row, before)
    return row


async def delete_client_integration(
    *, session: AsyncSession, principal: Principal, integration_id: str
) -> ClientIntegration:
    """Soft delete: the credentials are erased (a gateway's merchant account is deactivated
    by `gateway_accounts`)."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    before = snapshot(row)
    row.status = IntegrationStatus.INACTIVE
    row.is_default = False
    row.deleted_at = clock.now()
    row.credentials_ciphertext, row.credentials_mask = None, {}
    row.updated_by = principal.id
    await session.flush()
    audit_change(session, principal, audit.AuditAction.DELETE, row, before)
    return row


async def _has_default(session: AsyncSession, row: ClientIntegration) -> bool:
    found = await session.scalar(
        select(ClientIntegration.id).where(
            ClientIntegration.client_id == row.client_id,
            ClientIntegration.category == row.category,
            ClientIntegration.is_default.is_(True),
            ClientIntegration.id != row.id,
        )
    )
    return found is not None


async def _make_default(session: AsyncSession, row: ClientIntegration) -> None:
    # The partial unique index allows one default per client and category; clearing the old one
    # first keeps it satisfied, and a concurrent change loses with a 409 instead of leaving two.
    await session.execute(
        update(ClientIntegration)
        .where(
            ClientIntegration.client_id == row.client_id,
            ClientIntegration.category == row.category,
            ClientIntegration.is_default.is_(True),
            ClientIntegration.id != row.id,
        )
        .values(is_default=False, updated_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    row.is_default = True
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "Another default was set at the same time; retry.", code="default_conflict"
        ) from None


async def set_default(
    *, session: AsyncSession, principal: Principal, integration_id: str
) -> ClientIntegration:
    """Make this the client's default integration of its category (the previous one stops)."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    if row.status is not IntegrationStatus.ACTIVE:
        raise InvalidRequest(
            "An inactive integration cannot be the default.", code="integration_inactive"
        )
    before = snapshot(row)
    await _make_default(session, row)
    row.updated_by = principal.id
    audit_change(
        session, principal, audit.AuditAction.UPDATE, row, before, event="integration.default"
    )
    return row


async def client_test_target(
    *, session: AsyncSession, principal: Principal, keyring: Keyring, integration_id: str
) -> Target:
    """What a test of this integration uses: its own credentials and settings, or in platform
    mode the platform integration's."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    return await _client_target(session, keyring, row)


async def _client_target(session: AsyncSession, keyring: Keyring, row: ClientIntegration) -> Target:
    if row.mode is IntegrationMode.PLATFORM and row.platform_integration_id:
        platform = await session.get(PlatformIntegration, row.platform_integration_id)
        if platform is None or platform.deleted_at is not None:
            raise NotFound("The platform integration behind this one is gone.")
        return target_of(platform, keyring)
    return target_of(row, keyring)


async def client_provider_target(
    session: AsyncSession, keyring: Keyring, *, client_id: str, provider: str
) -> Target | None:
    """The client's active integration of `provider` for background work (its category's
    default first, then by priority, lowest first), or None. Not scoped by a principal: the
    caller acts for the client whose id it holds."""
    row = await session.scalar(
        select(ClientIntegration)
        .where(
            ClientIntegration.client_id == client_id,
            ClientIntegration.provider == provider,
            ClientIntegration.status == IntegrationStatus.ACTIVE,
            ClientIntegration.deleted_at.is_(None),
        )
        .order_by(
            ClientIntegration.is_default.desc(), ClientIntegration.priority, ClientIntegration.id
        )
        .limit(1)
    )
    return None if row is None else await _client_target(session, keyring, row)


async def record_client_test(
    *, session: AsyncSession, principal: Principal, integration_id: str, result: ProbeResult
) -> ClientIntegration:
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    before = snapshot(row)
    record_test_result(row, result)
    row.is_verified = result.success
    await session.flush()
    audit_change(
        session,
        principal,
        audit.AuditAction.UPDATE,
        row,
        before,
        event="integration.tested",
        success=result.success,
    )
    return row


async def available(
    *, session: AsyncSession, principal: Principal
) -> list[tuple[IntegrationDefinition, list[PlatformIntegration]]]:
    """What a client can add: every client-allowed provider, with the platform's offers of it."""
    require_client_level(principal)
    definitions = [
        d
        for d in await list_definitions(session=session, client_allowed=True)
        if d.status is not DefinitionStatus.DEPRECATED
    ]
    offers = (
        await session.scalars(
            select(PlatformIntegration)
            .where(
                PlatformIntegration.organization_id == principal.organization_id,
                PlatformIntegration.deleted_at.is_(None),
                PlatformIntegration.status == IntegrationStatus.ACTIVE,
                PlatformIntegration.is_shared_with_clients.is_(True),
            )
            .order_by(PlatformIntegration.id)
        )
    ).all()
    return [
        (d, [o for o in offers if o.provider == d.provider and d.is_platform_offered])
        for d in definitions
    ]
