"""Integration definitions, the organization's platform integrations and each client's own.

Credentials are checked against the provider's JSON Schema, sealed with the keyring (bound to the
row and its tenant) and only ever shown masked. A client payment integration keeps the merchant
account of its brand in step (created, synced, deactivated with it); a platform-mode one records
what the platform bills the client for it.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
import jsonschema
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.permissions import Level
from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from avnz.core.ids import new_id
from avnz.core.masking import mask_secret, mask_text
from avnz.core.money import currency_exponent
from avnz.core.pagination import Page, PageParams, paginate
from avnz.gateways.base import Environment
from avnz.integrations import identity, schemas, testing
from avnz.integrations.definitions import DEFINITIONS
from avnz.integrations.models import (
    ClientIntegration,
    ClientIntegrationUsage,
    DefinitionStatus,
    IntegrationCategory,
    IntegrationDefinition,
    IntegrationMode,
    IntegrationProvider,
    IntegrationStatus,
    PlatformIntegration,
    credentials_aad,
)
from avnz.integrations.testing import ProbeResult, Target
from avnz.routing import service as routing_service
from avnz.routing.schemas import IntegrationLink
from avnz.security.keyring import DecryptionError, Keyring
from avnz.tenancy import service as tenancy

Integration = PlatformIntegration | ClientIntegration

# --- guards ----------------------------------------------------------------------------------


def require_organization_level(principal: Principal) -> None:
    if principal.level is not Level.ORGANIZATION:
        raise PermissionDenied("Platform integrations are managed by the organization's admins.")


def require_client_level(principal: Principal) -> None:
    if principal.level > Level.CLIENT:
        raise PermissionDenied("Integrations are managed at client level or above.")


# --- JSON Schema validation ------------------------------------------------------------------


def _schema_problem(error: SchemaError, root: str) -> tuple[str, str]:
    """(param, message) for a schema violation, naming the field and never quoting its value."""
    path = [root, *(str(part) for part in error.absolute_path)]
    keyword, schema = error.validator, error.schema
    expected: Any = error.validator_value
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        missing = next((name for name in expected if name not in instance), "?")
        return ".".join([*path, str(missing)]), "is required"
    if (
        keyword == "additionalProperties"
        and isinstance(instance, dict)
        and isinstance(schema, dict)
    ):
        known = sorted(schema.get("properties", {}))
        extra = next((name for name in sorted(instance) if name not in known), "?")
        return ".".join([*path, str(extra)]), f"is not a known field (known: {', '.join(known)})"
    templates = {
        "type": "must be of type {}",
        "minLength": "must be at least {} characters long",
        "maxLength": "must be at most {} characters long",
        "pattern": "does not have the expected format",
        "minimum": "must be at least {}",
        "maximum": "must be at most {}",
        "minItems": "must hold at least {} item(s)",
        "maxItems": "must hold at most {} item(s)",
        "uniqueItems": "must not repeat an item",
    }
    if keyword == "enum":
        message = f"must be one of: {', '.join(str(option) for option in expected)}"
    else:
        message = templates.get(str(keyword), "is not valid").format(expected)
    if keyword == "pattern" and isinstance(schema, dict) and schema.get("description"):
        message = f"{message} ({schema['description']})"
    return ".".join(path), message


def check_schema(schema: Mapping[str, Any], value: Mapping[str, Any], *, root: str) -> None:
    """Raise a 400 naming the first field of `value` that `schema` refuses."""
    validator = jsonschema.Draft202012Validator(schema)
    error = best_match(validator.iter_errors(dict(value)))
    if error is not None:
        param, message = _schema_problem(error, root)
        raise InvalidRequest(
            mask_text(f"{param} {message}."), code=f"invalid_{root.split('.')[0]}", param=param
        )


def _credentials(definition: IntegrationDefinition, value: Mapping[str, Any]) -> dict[str, str]:
    check_schema(definition.credential_schema, value, root="credentials")
    return {str(k): str(v) for k, v in value.items()}


def _settings(
    definition: IntegrationDefinition, value: Mapping[str, Any], environment: Environment
) -> dict[str, Any]:
    check_schema(definition.settings_schema, value, root="settings")
    settings = dict(value)
    if (
        definition.category is IntegrationCategory.PAYMENT_GATEWAY
        and settings.get("base_url")
        and environment is not Environment.SANDBOX
    ):
        # A test sends the credentials there: a production gateway only talks to the gateway.
        raise InvalidRequest(
            "settings.base_url can be set on sandbox payment integrations only.",
            code="base_url_not_allowed",
            param="settings.base_url",
        )
    if definition.category is IntegrationCategory.AUTHENTICATION:
        try:
            identity.oidc_settings(definition.provider, settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in ("settings", *first["loc"]))
            raise InvalidRequest(
                mask_text(f"{param}: {first['msg']}"), code="invalid_settings", param=param
            ) from None
    return settings


# --- credentials at rest ---------------------------------------------------------------------


def _mask(credentials: Mapping[str, str]) -> dict[str, str]:
    return {name: mask_secret(value) for name, value in credentials.items() if value}


def _seal(row: Integration, credentials: Mapping[str, str], keyring: Keyring) -> None:
    """Encrypt `credentials` into the row (its id and tenant must be set): bound to both."""
    if not credentials:
        row.credentials_ciphertext, row.credentials_mask = None, {}
        return
    plaintext = json.dumps(dict(credentials), separators=(",", ":"), sort_keys=True).encode()
    row.credentials_ciphertext = keyring.encrypt(plaintext, aad=credentials_aad(row))
    row.credentials_mask = _mask(credentials)


def _unseal(row: Integration, keyring: Keyring) -> dict[str, str]:
    if row.credentials_ciphertext is None:
        return {}
    try:
        plaintext = keyring.decrypt(row.credentials_ciphertext, aad=credentials_aad(row))
    except DecryptionError:
        # The key that sealed them was retired before `avnz keys rotate` reached this row.
        raise Conflict(
            "The stored credentials cannot be decrypted; enter them again.",
            code="credentials_unreadable",
            param="credentials",
        ) from None
    loaded: dict[str, str] = json.loads(plaintext)
    return loaded


def _merged(row: Integration, changes: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """The stored credentials with `changes` applied: a null removes a field. Unreadable ones
    (their key retired) count as none, so entering them all again repairs the row."""
    try:
        stored = _unseal(row, keyring)
    except Conflict:
        stored = {}
    merged: dict[str, Any] = {**stored, **changes}
    return {k: v for k, v in merged.items() if v is not None}


# --- audit -----------------------------------------------------------------------------------


def _snapshot(row: Integration) -> dict[str, Any]:
    values = audit.snapshot(row)
    values.pop("credentials_ciphertext", None)  # the mask stays: it is what the API shows
    return values


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    row: Integration,
    before: dict[str, Any] | None = None,
    event: str | None = None,
    **details: Any,
) -> None:
    if isinstance(row, PlatformIntegration):
        resource, tenant = "platform_integration", audit.Tenant(row.organization_id)
    else:
        resource = "client_integration"
        tenant = audit.Tenant(row.organization_id, row.client_id, row.company_id)
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=resource,
        resource_id=row.id,
        tenant=tenant,
        before=before,
        after=_snapshot(row),
        metadata={"event": event, **details} if event else None,
    )


# --- definitions -----------------------------------------------------------------------------


async def list_definitions(
    *,
    session: AsyncSession,
    category: IntegrationCategory | None = None,
    provider: IntegrationProvider | None = None,
    client_allowed: bool | None = None,
) -> list[IntegrationDefinition]:
    stmt = select(IntegrationDefinition).order_by(
        IntegrationDefinition.category, IntegrationDefinition.provider
    )
    if category:
        stmt = stmt.where(IntegrationDefinition.category == category)
    if provider:
        stmt = stmt.where(IntegrationDefinition.provider == provider)
    if client_allowed is not None:
        stmt = stmt.where(IntegrationDefinition.is_client_allowed.is_(client_allowed))
    return list((await session.scalars(stmt)).all())


async def get_definition(
    *, session: AsyncSession, provider: IntegrationProvider
) -> IntegrationDefinition:
    row = await session.get(IntegrationDefinition, provider)
    if row is None:
        raise NotFound(f"No integration definition for {provider.value}.", param="provider")
    return row


async def _definition_for_new(
    session: AsyncSession, provider: IntegrationProvider
) -> IntegrationDefinition:
    definition = await get_definition(session=session, provider=provider)
    if definition.status is DefinitionStatus.DEPRECATED:
        raise InvalidRequest(
            f"{definition.name} is deprecated; no new integrations can use it.",
            code="provider_deprecated",
            param="provider",
        )
    return definition


# --- platform integrations -------------------------------------------------------------------


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
    provider: IntegrationProvider | None = None,
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
    definition = await _definition_for_new(session, data.provider)
    credentials = _credentials(definition, data.credentials)
    settings = _settings(definition, data.settings, data.environment)
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
    _seal(row, credentials, keyring)
    await _check_identity(session, row)
    session.add(row)
    await session.flush()
    _audit(session, principal, audit.AuditAction.CREATE, row)
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
    before = _snapshot(row)
    changes = data.model_dump(exclude_unset=True)
    environment = changes.get("environment") or row.environment
    if changes.get("credentials") is not None:
        _seal(row, _credentials(definition, _merged(row, changes["credentials"], keyring)), keyring)
    if "settings" in changes or "environment" in changes:
        row.settings = _settings(
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
    _audit(session, principal, audit.AuditAction.UPDATE, row, before)
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
    before = _snapshot(row)
    row.status = IntegrationStatus.INACTIVE
    row.is_shared_with_clients = False
    row.deleted_at = clock.now()
    row.credentials_ciphertext, row.credentials_mask = None, {}
    row.updated_by = principal.id
    await session.flush()
    _audit(session, principal, audit.AuditAction.DELETE, row, before)
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
    before = _snapshot(row)
    row.is_shared_with_clients = data.is_shared_with_clients
    if data.client_pricing is not None:
        row.client_pricing = data.client_pricing.stored()
    elif data.is_shared_with_clients and row.client_pricing is None:
        row.client_pricing = schemas.ClientPricing().stored()
    row.updated_by = principal.id
    await session.flush()
    _audit(session, principal, audit.AuditAction.UPDATE, row, before, event="integration.sharing")
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
    return _unseal(row, keyring)


# --- connection tests ------------------------------------------------------------------------


def _target(row: Integration, keyring: Keyring) -> Target:
    return Target(DEFINITIONS[row.provider], _unseal(row, keyring), row.settings, row.environment)


async def platform_test_target(
    *, session: AsyncSession, principal: Principal, keyring: Keyring, integration_id: str
) -> Target:
    """What a connection test of this platform integration sends, and where."""
    row = await get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    return _target(row, keyring)


def _record(row: Integration, result: ProbeResult) -> None:
    row.last_tested_at = clock.now()
    row.last_test_result = {**result.as_json(), "tested_at": row.last_tested_at.isoformat()}


async def record_platform_test(
    *, session: AsyncSession, principal: Principal, integration_id: str, result: ProbeResult
) -> PlatformIntegration:
    row = await get_platform_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    before = _snapshot(row)
    _record(row, result)
    await session.flush()
    _audit(
        session,
        principal,
        audit.AuditAction.UPDATE,
        row,
        before,
        event="integration.tested",
        success=result.success,
    )
    return row


async def probe_platform_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    http: httpx.AsyncClient,
    integration_id: str,
) -> tuple[PlatformIntegration, ProbeResult]:
    """Connect to the provider for real and record the result on the integration."""
    target = await platform_test_target(
        session=session, principal=principal, keyring=keyring, integration_id=integration_id
    )
    result = await _probe(session, http, target)
    row = await record_platform_test(
        session=session, principal=principal, integration_id=integration_id, result=result
    )
    return row, result


async def _probe(
    session: AsyncSession, http: httpx.AsyncClient, target: testing.Target
) -> ProbeResult:
    # End the read before the network call: no transaction (on SQLite, the write lock) is held
    # while a provider takes its time to answer.
    await session.commit()
    return await testing.check_connection(target, http)


# --- client integrations ---------------------------------------------------------------------


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
    provider: IntegrationProvider | None = None,
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
    """Add a client's integration in `own` or `platform` mode; a payment gateway's brand gets
    its merchant account in the same transaction."""
    require_client_level(principal)
    client_id = data.client_id or principal.client_id
    if client_id is None:
        raise InvalidRequest("client_id is required.", code="missing_param", param="client_id")
    try:
        client = await tenancy.get_client(session=session, principal=principal, client_id=client_id)
    except NotFound:
        raise NotFound(f"No client {client_id!r}.", param="client_id") from None
    definition = await _definition_for_new(session, data.provider)
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
        credentials = _credentials(definition, data.credentials)
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
        if platform.provider is not definition.provider or not definition.is_platform_offered:
            raise InvalidRequest(
                f"That platform integration is {platform.provider.value}, not "
                f"{definition.provider.value}.",
                param="platform_integration_id",
            )
        _no_platform_endpoint(data.settings)
        row.platform_integration_id = platform.id
        row.environment = platform.environment
    row.settings = _settings(definition, data.settings, row.environment)
    _seal(row, credentials, keyring)
    session.add(row)
    await session.flush()
    if data.is_default or not await _has_default(session, row):
        await _make_default(session, row)
    _audit(session, principal, audit.AuditAction.CREATE, row)
    await _sync_account(session, keyring, principal, definition, row)
    return row


async def update_client_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    integration_id: str,
    data: schemas.ClientIntegrationUpdate,
) -> ClientIntegration:
    """Change the given fields and keep a gateway's merchant account in step (an inactive
    integration deactivates it)."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    definition = await get_definition(session=session, provider=row.provider)
    before = _snapshot(row)
    changes = data.model_dump(exclude_unset=True)
    platform_mode = row.mode is IntegrationMode.PLATFORM
    for field in ("credentials", "environment"):
        if platform_mode and changes.get(field) is not None:
            raise InvalidRequest(
                f"A platform-mode integration takes its {field} from the platform.", param=field
            )
    if changes.get("credentials") is not None:
        credentials = _credentials(definition, _merged(row, changes["credentials"], keyring))
        _seal(row, credentials, keyring)
        row.is_verified = False
    if changes.get("environment") is not None:
        row.environment = changes["environment"]
        row.is_verified = False
    if "settings" in changes or "environment" in changes:
        settings = (changes.get("settings") if "settings" in changes else row.settings) or {}
        if platform_mode:
            _no_platform_endpoint(settings)
        row.settings = _settings(definition, settings, row.environment)
    for field in ("name", "priority", "status"):
        if changes.get(field) is not None:
            setattr(row, field, changes[field])
    if "description" in changes:
        row.description = changes["description"]
    row.updated_by = principal.id
    await session.flush()
    _audit(session, principal, audit.AuditAction.UPDATE, row, before)
    if row.status is IntegrationStatus.INACTIVE:
        await _deactivate_account(session, principal, row)
    else:
        await _sync_account(session, keyring, principal, definition, row)
    return row


async def delete_client_integration(
    *, session: AsyncSession, principal: Principal, integration_id: str
) -> ClientIntegration:
    """Soft delete: the credentials are erased and a gateway's merchant account deactivated."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    before = _snapshot(row)
    row.status = IntegrationStatus.INACTIVE
    row.is_default = False
    row.deleted_at = clock.now()
    row.credentials_ciphertext, row.credentials_mask = None, {}
    row.updated_by = principal.id
    await session.flush()
    _audit(session, principal, audit.AuditAction.DELETE, row, before)
    await _deactivate_account(session, principal, row)
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
    before = _snapshot(row)
    await _make_default(session, row)
    row.updated_by = principal.id
    _audit(session, principal, audit.AuditAction.UPDATE, row, before, event="integration.default")
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
        return _target(platform, keyring)
    return _target(row, keyring)


async def client_provider_target(
    session: AsyncSession, keyring: Keyring, *, client_id: str, provider: IntegrationProvider
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
    before = _snapshot(row)
    _record(row, result)
    row.is_verified = result.success
    await session.flush()
    _audit(
        session,
        principal,
        audit.AuditAction.UPDATE,
        row,
        before,
        event="integration.tested",
        success=result.success,
    )
    return row


async def probe_client_integration(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    http: httpx.AsyncClient,
    integration_id: str,
) -> tuple[ClientIntegration, ProbeResult]:
    """Connect to the provider for real (no transaction held meanwhile, see `_probe`) and
    record the result on the integration."""
    target = await client_test_target(
        session=session, principal=principal, keyring=keyring, integration_id=integration_id
    )
    result = await _probe(session, http, target)
    row = await record_client_test(
        session=session, principal=principal, integration_id=integration_id, result=result
    )
    return row, result


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
        (d, [o for o in offers if o.provider is d.provider and d.is_platform_offered])
        for d in definitions
    ]


# --- merchant account hooks ------------------------------------------------------------------


async def _sync_account(
    session: AsyncSession,
    keyring: Keyring,
    principal: Principal,
    definition: IntegrationDefinition,
    row: ClientIntegration,
) -> None:
    """A payment integration's brand gets (or keeps) a merchant account that mirrors it."""
    gateway = DEFINITIONS[definition.provider].gateway
    if gateway is None or row.company_id is None:
        return
    own = row.mode is IntegrationMode.OWN
    base_url = row.settings.get("base_url")
    if not own and row.platform_integration_id:
        platform = await session.get(PlatformIntegration, row.platform_integration_id)
        base_url = platform.settings.get("base_url") if platform else None
    link = IntegrationLink(
        client_integration_id=row.id,
        company_id=row.company_id,
        provider=gateway,
        name=row.name,
        environment=row.environment.value,
        credentials=_unseal(row, keyring) if own else None,
        platform_integration_id=row.platform_integration_id,
        base_url=base_url,
    )
    await routing_service.sync_from_integration(session, keyring, link, principal)


async def _deactivate_account(
    session: AsyncSession, principal: Principal, row: ClientIntegration
) -> None:
    if row.category is IntegrationCategory.PAYMENT_GATEWAY:
        await routing_service.deactivate_for_integration(session, row.id, principal)


# --- platform usage --------------------------------------------------------------------------


def current_month() -> str:
    return clock.now().strftime("%Y-%m")


async def _pricing_of(
    session: AsyncSession, row: ClientIntegration
) -> schemas.ClientPricing | None:
    if row.mode is not IntegrationMode.PLATFORM or row.platform_integration_id is None:
        return None
    stored = await session.scalar(
        select(PlatformIntegration.client_pricing).where(
            PlatformIntegration.id == row.platform_integration_id
        )
    )
    return schemas.ClientPricing.model_validate(stored or {})


def _insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect!r}")


async def record_platform_usage(
    session: AsyncSession, client_integration_id: str, amount_minor: int, currency: str
) -> int:
    """Count one transaction of a platform-mode integration for this month and return the
    platform's fee on it. Two statements that never lose a concurrent update: insert the month's
    row if missing, then add to it in SQL."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 0:
        raise ValueError("amount_minor must be a non-negative int")
    currency = currency.upper()
    currency_exponent(currency)  # raises ValueError for an unknown code
    row = await session.get(ClientIntegration, client_integration_id)
    if row is None or row.mode is not IntegrationMode.PLATFORM:
        raise NotFound(f"No platform-mode integration {client_integration_id!r}.")
    pricing = await _pricing_of(session, row) or schemas.ClientPricing()
    fee = pricing.fee(amount_minor)
    month = current_month()
    table = ClientIntegrationUsage.__table__
    await session.execute(
        _insert_ignoring_duplicates(session, table).values(
            client_integration_id=row.id,
            month=month,
            currency=currency,
            transaction_count=0,
            volume_minor=0,
            fee_minor=0,
        )
    )
    await session.execute(
        update(ClientIntegrationUsage)
        .where(
            ClientIntegrationUsage.client_integration_id == row.id,
            ClientIntegrationUsage.month == month,
            ClientIntegrationUsage.currency == currency,
        )
        .values(
            transaction_count=ClientIntegrationUsage.transaction_count + 1,
            volume_minor=ClientIntegrationUsage.volume_minor + amount_minor,
            fee_minor=ClientIntegrationUsage.fee_minor + fee,
        )
        .execution_options(synchronize_session=False)
    )
    return fee


async def usage_lines(
    session: AsyncSession, integration_ids: Sequence[str], month: str
) -> dict[str, list[schemas.UsageLine]]:
    """Each integration's counters for `month`, one line per currency."""
    lines: dict[str, list[schemas.UsageLine]] = {i: [] for i in integration_ids}
    if not integration_ids:
        return lines
    rows = await session.scalars(
        select(ClientIntegrationUsage)
        .where(
            ClientIntegrationUsage.client_integration_id.in_(integration_ids),
            ClientIntegrationUsage.month == month,
        )
        .order_by(ClientIntegrationUsage.currency)
    )
    for usage in rows:
        lines[usage.client_integration_id].append(
            schemas.UsageLine(
                currency=usage.currency,
                transaction_count=usage.transaction_count,
                volume_minor=usage.volume_minor,
                fee_minor=usage.fee_minor,
            )
        )
    return lines


async def usage(
    *, session: AsyncSession, principal: Principal, integration_id: str, month: str | None
) -> schemas.UsageOut:
    """Transactions, volume and the platform's fee of one integration in a month (default:
    this one). Own-mode integrations are not billed by the platform: no pricing, no lines."""
    row = await get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    month = month or current_month()
    lines = await usage_lines(session, [row.id], month)
    return schemas.UsageOut(
        client_integration_id=row.id,
        client_id=row.client_id,
        platform_integration_id=row.platform_integration_id,
        month=month,
        pricing=await _pricing_of(session, row),
        usage=lines[row.id],
    )


async def client_out(
    session: AsyncSession, rows: Iterable[ClientIntegration]
) -> list[schemas.ClientIntegrationOut]:
    """Response bodies, with this month's usage read in one query for the whole page."""
    rows = list(rows)
    lines = await usage_lines(session, [r.id for r in rows], current_month())
    return [
        schemas.ClientIntegrationOut.model_validate(
            {
                **{f: getattr(r, f) for f in _CLIENT_FIELDS},
                "credentials": r.credentials_mask if r.mode is IntegrationMode.OWN else None,
                "usage_this_month": lines[r.id],
            }
        )
        for r in rows
    ]


_CLIENT_FIELDS = tuple(
    name
    for name in schemas.ClientIntegrationOut.model_fields
    if name not in {"credentials", "usage_this_month", "object"}
)
