"""The organization's platform integrations: CRUD, sharing with clients, their credentials for
platform-mode merchant accounts, and the read and record steps of their connection test.
"""

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.integrations import schemas
from avnz.integrations.catalog import definition_for_new, get_definition
from avnz.integrations.models import (
    ClientIntegration,
    IntegrationCategory,
    IntegrationDefinition,
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
    unseal,
)
from avnz.integrations.validation import (
    checked_credentials,
    checked_settings,
    require_organization_level,
)
from avnz.security.keyring import Keyring


def _platform_visible(principal: Principal) -> ColumnElement[bool]:
    return (PlatformIntegration.organization_id == principal.organization_id) & (
        PlatformIntegration.deleted_at.is_(None)
    )


async def get_platform_integration(
    *, session: AsyncSession, principal: Principal, integration_id: str
) -> PlatformIntegration:
    require_organization_level(principal)
    row = await session.scalar(
        select(PlatformIntegration).where(
            PlatformIntegration.id == integration_id, _platform_visible(principal)
        )
    )
    if row is None:
        raise NotFound(f"No platform integration {integration_id!r}.", param="id")
    return row


async def list_platform_integrations(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    category: IntegrationCategory | None = None,
    provider: str | None = None,
    status: IntegrationStatus | None = None,
    shared: bool | None = None,
) -> Page[PlatformIntegration]:
    require_organization_level(principal)
    stmt = select(PlatformIntegration).where(_platform_visible(principal))
    for column, value in (
        (PlatformIntegration.category, category),
        (PlatformIntegration.provider, provider),
        (PlatformIntegration.status, status),
        (PlatformIntegration.is_shared_with_clients, shared),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, PlatformIntegration.id, page)


async def _check_identity(session: AsyncSession, row: PlatformIntegration) -> None:
    """One active identity provider per organization, and an issuer trusts one organization
    only: tokens are routed to an organization by their issuer."""
    if row.category is not IntegrationCategory.AUTHENTICATION:
        return
    if row.status is not IntegrationStatus.ACTIVE or row.deleted_at is not None:
        return
    live = (
        (PlatformIntegration.category == IntegrationCategory.AUTHENTICATION)
        & (PlatformIntegration.status == IntegrationStatus.ACTIVE)
        & PlatformIntegration.deleted_at.is_(None)
        & (PlatformIntegration.id != row.id)
    )
    others = (await session.execute(select(PlatformIntegration).where(live))).scalars().all()
    if any(other.organization_id == row.organization_id for other in others):
        raise Conflict(
            "The organization already has an active identity provider; deactivate it first.",
            code="identity_provider_exists",
            param="provider",
        )
    issuer = str(row.settings.get("issuer", "")).rstrip("/")
    if any(str(o.settings.get("issuer", "")).rstrip("/") == issuer for o in others):
        raise Conflict(
            "Another organization already uses this identity provider issuer.",
            code="issuer_in_use",
            param="settings.issuer",
        )


def _offer(definition: IntegrationDefinition, shared: bool) -> None:
    if shared and not definition.is_platform_offered:
        raise InvalidRequest(
            f"{definition.name} cannot be offered to clients.",
            code="not_platform_offered",
            param="is_shared_with_clients",
        )


async def create_platform_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    data: schemas.PlatformIntegrationCreate,
) -> PlatformIntegration:
    """Add an organization-level integration; its credentials are checked and sealed."""
    require_organization_level(principal)
    definition = await definition_for_new(session, data.provider)
    credentials = checked_credentials(definition, data.credentials)
    settings = checked_settings(definition, data.settings, data.environment)
    _offer(definition, data.is_shared_with_clients)
    pricing = data.client_pricing or (
        schemas.ClientPricing() if data.is_shared_with_clients else None
    )
    row = PlatformIntegration(
        id=new_id("pint"),
        organization_id=principal.organization_id,
        provider=definition.provider,
        category=definition.category,
        name=data.name,
        description=data.description,
        settings=settings,
        environment=data.environment,
        status=data.status,
        is_shared_with_clients=data.is_shared_with_clients,
        client_pricing=pricing.stored() if pricing else None,
        created_by=principal.id,
        updated_by=principal.id,
    )
    seal(row, credentials, keyring)
    await _check_identity(session, row)
    session.add(row)
    await session.flush()
    audit_change(session, principal, audit.AuditAction.CREATE, row)
    return row


async def update_platform_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    integration_id: str,
    data: schemas.PlatformIntegrationUpdate,
) -> PlatformIntegration:
    """Change the given fields: credentials merge into the stored ones, settings are replaced."""
    row = await get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    definition = await get_definition(session=session, provider=row.provider)
    before = snapshot(row)
    changes = data.model_dump(exclude_unset=True)
    environment = changes.get("environment") or row.environment
    if changes.get("credentials") is not None:
        seal(
            row,
            checked_credentials(
                definition, merged_credentials(row, changes["credentials"], keyring)
            ),
            keyring,
        )
    if "settings" in changes or "environment" in changes:
        row.settings = checked_settings(
            definition, changes.get("settings", row.settings) or {}, environment
        )
    for field in ("name", "environment", "status"):
        if changes.get(field) is not None:
            setattr(row, field, changes[field])
    if "description" in changes:
        row.description = changes["description"]
    row.updated_by = principal.id
    await _check_identity(session, row)
    await session.flush()
    audit_change(session, principal, audit.AuditAction.UPDATE, row, before)
    return row


async def _clients_using(session: AsyncSession, platform_integration_id: str) -> int:
    count = await session.scalar(
        select(func.count()).where(
            ClientIntegration.platform_integration_id == platform_integration_id,
            ClientIntegration.deleted_at.is_(None),
        )
    )
    return int(count or 0)


async def delete_platform_integration(
    *, session: AsyncSession, principal: Principal, integration_id: str
) -> PlatformIntegration:
    """Soft delete; the credentials are erased. Refused while clients use it in platform mode."""
    row = await get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    in_use = await _clients_using(session, row.id)
    if in_use:
        raise Conflict(
            f"{in_use} client integration(s) use this platform integration; remove them first.",
            code="integration_in_use",
        )
    before = snapshot(row)
    row.status = IntegrationStatus.INACTIVE
    row.is_shared_with_clients = False
    row.deleted_at = clock.now()
    row.credentials_ciphertext, row.credentials_mask = None, {}
    row.updated_by = principal.id
    await session.flush()
    audit_change(session, principal, audit.AuditAction.DELETE, row, before)
    return row


async def set_sharing(
    *,
    session: AsyncSession,
    principal: Principal,
    integration_id: str,
    data: schemas.SharingUpdate,
) -> PlatformIntegration:
    """Offer (or stop offering) a platform integration to clients, at a price."""
    row = await get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    definition = await get_definition(session=session, provider=row.provider)
    _offer(definition, data.is_shared_with_clients)
    if not data.is_shared_with_clients:
        in_use = await _clients_using(session, row.id)
        if in_use:
            raise Conflict(
                f"{in_use} client integration(s) use this platform integration in platform "
                "mode; they must move off it before sharing ends.",
                code="integration_in_use",
                param="is_shared_with_clients",
            )
    before = snapshot(row)
    row.is_shared_with_clients = data.is_shared_with_clients
    if data.client_pricing is not None:
        row.client_pricing = data.client_pricing.stored()
    elif data.is_shared_with_clients and row.client_pricing is None:
        row.client_pricing = schemas.ClientPricing().stored()
    row.updated_by = principal.id
    await session.flush()
    audit_change(
        session, principal, audit.AuditAction.UPDATE, row, before, event="integration.sharing"
    )
    return row


async def platform_credentials(
    session: AsyncSession, keyring: Keyring, platform_integration_id: str
) -> dict[str, str]:
    """The credentials of a live platform integration in clear, for the payment path only
    (platform-mode merchant accounts). Not scoped: callers have already scoped the account."""
    row = await session.scalar(
        select(PlatformIntegration).where(
            PlatformIntegration.id == platform_integration_id,
            PlatformIntegration.deleted_at.is_(None),
        )
    )
    if row is None:
        raise NotFound(f"No platform integration {platform_integration_id!r}.")
    return unseal(row, keyring)


async def platform_test_target(
    *, session: AsyncSession, principal: Principal, keyring: Keyring, integration_id: str
) -> Target:
    """What a connection test of this platform integration sends, and where."""
    row = await get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    return target_of(row, keyring)


async def record_platform_test(
    *, session: AsyncSession, principal: Principal, integration_id: str, result: ProbeResult
) -> PlatformIntegration:
    row = await get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    before = snapshot(row)
    record_test_result(row, result)
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
