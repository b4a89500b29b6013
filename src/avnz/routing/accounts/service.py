"""Merchant accounts: create, read, change and close them inside the caller's scope; test their
credentials against the gateway; keep accounts in step with client payment integrations.

Credentials are validated against the provider's JSON Schema (the connector's
`credentials_schema`), encrypted before they reach the session, and leave this module only
masked or as a ConnectorConfig for a gateway call. An account outside the caller's scope is
reported as missing (404).
"""

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, cast

import jsonschema
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.masking import MASK, mask_secret
from avnz.core.pagination import Page, PageParams, paginate
from avnz.gateways import registry
from avnz.gateways.base import ConnectorConfig, Environment
from avnz.integrations import service as integrations_service
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import (
    AccountEnvironment,
    AccountStatus,
    MerchantAccount,
    Period,
    credentials_aad,
)
from avnz.routing.accounts.schemas import (
    AccountLimits,
    HealthMetrics,
    HealthOut,
    MerchantAccountCreate,
    MerchantAccountDetail,
    MerchantAccountOut,
    MerchantAccountUpdate,
    UsageBucketOut,
    UsageOut,
)
from avnz.routing.pools.models import AccountPool, PoolMembership
from avnz.security.keyring import DecryptionError, Keyring
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import target_company

_MANAGED_BY_INTEGRATION = ("credentials", "environment", "base_url")
_NOT_NULL = (
    "name",
    "tags",
    "credentials",
    "environment",
    "status",
    "limits",
    "fees",
    "restrictions",
)
_PLAIN_FIELDS = (
    "name",
    "description",
    "color",
    "icon",
    "tags",
    "merchant_id",
    "descriptor",
    "descriptor_phone",
)

# --- scope -----------------------------------------------------------------------------------


def visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=MerchantAccount.organization_id,
        client_id=MerchantAccount.client_id,
        company_id=MerchantAccount.company_id,
    )


async def get_account(
    *, session: AsyncSession, principal: Principal, account_id: str
) -> MerchantAccount:
    account = await session.scalar(
        select(MerchantAccount).where(MerchantAccount.id == account_id, visible(principal))
    )
    if account is None:
        raise NotFound(f"No merchant account {account_id!r}.", param="id")
    return account


def open_account(account: MerchantAccount) -> None:
    """Refuse to act on a closed account (409)."""
    if account.status is AccountStatus.CLOSED:
        raise Conflict("This merchant account is closed.", code="account_closed")


# --- credentials -----------------------------------------------------------------------------


def _schema_error(provider: str, error: jsonschema.ValidationError, prefix: str) -> InvalidRequest:
    """Name the field and the rule it broke, never the value (it is a secret)."""
    path = [str(part) for part in error.absolute_path]
    rule, detail = str(error.validator), cast(Any, error.validator_value)
    instance: Any = error.instance if isinstance(error.instance, dict) else {}
    schema: Any = error.schema if isinstance(error.schema, Mapping) else {}
    if rule == "required":
        missing = next((str(name) for name in detail if name not in instance), "")
        path, message = [*path, missing], f"is required for {provider}"
    elif rule == "additionalProperties":
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        path, message = [*path, *extra[:1]], f"is not a {provider} credential"
    else:
        message = {
            "minLength": f"must be at least {detail} characters long",
            "maxLength": f"must be at most {detail} characters long",
            "pattern": "does not have the expected format",
            "type": f"must be of type {detail}",
            "enum": "is not one of the allowed values",
        }.get(rule, "is not valid")
    param = ".".join([prefix, *path])
    return InvalidRequest(f"{param} {message}.", code="invalid_credentials", param=param)


def validate_credentials(
    provider: str, credentials: Mapping[str, str], *, prefix: str = "credentials"
) -> dict[str, str]:
    """Check credentials against the provider's JSON Schema; raises naming the bad field."""
    schema = registry.gateway(provider).connector.credentials_schema
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dict(credentials)), key=lambda e: list(e.absolute_path))
    if errors:
        raise _schema_error(provider, errors[0], prefix)
    return {str(name): str(value) for name, value in credentials.items()}


def encrypt_credentials(
    keyring: Keyring, account: MerchantAccount, credentials: Mapping[str, str]
) -> None:
    """Seal `credentials` into the account, bound to its id and company (set both first)."""
    plaintext = json.dumps(dict(credentials), separators=(",", ":"), sort_keys=True).encode()
    account.credentials_ciphertext = keyring.encrypt(
        plaintext, aad=credentials_aad({"id": account.id, "company_id": account.company_id})
    )


def decrypt_credentials(keyring: Keyring, account: MerchantAccount) -> dict[str, str] | None:
    """The account's own credentials in clear (None for platform mode). Gateway calls only."""
    if account.credentials_ciphertext is None:
        return None
    raw = keyring.decrypt(
        account.credentials_ciphertext,
        aad=credentials_aad({"id": account.id, "company_id": account.company_id}),
    )
    credentials: dict[str, str] = json.loads(raw)
    return credentials


def masked_credentials(keyring: Keyring, account: MerchantAccount) -> dict[str, str] | None:
    credentials = decrypt_credentials(keyring, account)
    if credentials is None:
        return None
    return {name: mask_secret(value) for name, value in credentials.items()}


async def connector_config(
    session: AsyncSession, keyring: Keyring, account: MerchantAccount
) -> ConnectorConfig:
    """What the account's connector needs: its own credentials, or for a platform-mode account
    those of the organization's platform integration."""
    credentials = decrypt_credentials(keyring, account)
    if credentials is None:
        if account.platform_integration_id is None:
            raise Conflict(
                "This merchant account has no credentials.", code="account_without_credentials"
            )
        credentials = dict(
            await integrations_service.platform_credentials(
                session, keyring, account.platform_integration_id
            )
        )
    return ConnectorConfig(
        credentials=credentials,
        environment=Environment(account.environment.value),
        base_url=account.base_url,
    )


async def company_for(session: AsyncSession, principal: Principal, company_id: str) -> Company:
    try:
        return await tenancy.get_company(
            session=session, principal=principal, company_id=company_id
        )
    except NotFound:
        raise NotFound(f"No company {company_id!r}.", param="company_id") from None


def check_base_url(environment: AccountEnvironment, base_url: str | None) -> None:
    # /test sends the credentials to this URL: a production account only talks to its gateway.
    if base_url is not None and environment is not AccountEnvironment.SANDBOX:
        raise InvalidRequest(
            "base_url can be set on sandbox accounts only.",
            code="base_url_not_allowed",
            param="base_url",
        )


# --- audit -----------------------------------------------------------------------------------


def audit_snapshot(account: MerchantAccount) -> dict[str, Any]:
    """The account as the audit log keeps it: credentials masked."""
    values = audit.snapshot(account)
    values.pop("credentials_ciphertext", None)
    values["credentials"] = MASK if account.credentials_ciphertext else None
    return values


def audit_change(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    account: MerchantAccount,
    before: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """An audit entry for a change to the account (`before`: its `audit_snapshot`)."""
    audit.record(
        session,
        actor=principal,
        action=action,
        resource="merchant_account",
        resource_id=account.id,
        tenant=audit.Tenant(account.organization_id, account.client_id, account.company_id),
        before=before,
        after=audit_snapshot(account),
        metadata=metadata,
    )


# --- CRUD ------------------------------------------------------------------------------------


async def create_account(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    data: MerchantAccountCreate,
) -> MerchantAccount:
    """A new account with encrypted credentials, in a company the caller can see."""
    company = await target_company(session, principal, data.company_id)
    credentials = validate_credentials(
        data.provider_type, {k: v.get_secret_value() for k, v in data.credentials.items()}
    )
    base_url = str(data.base_url) if data.base_url else None
    check_base_url(data.environment, base_url)
    now = clock.now()
    account = MerchantAccount(
        id=new_id("ma"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name=data.name,
        description=data.description,
        color=data.color,
        icon=data.icon,
        tags=list(dict.fromkeys(data.tags)),
        provider_type=data.provider_type,
        merchant_id=data.merchant_id,
        descriptor=data.descriptor,
        descriptor_phone=data.descriptor_phone,
        environment=data.environment,
        base_url=base_url,
        currency=data.currency,
        status=AccountStatus(data.status),
        status_reason=data.status_reason,
        status_changed_at=now,
        limits=data.limits.model_dump(mode="json", exclude_none=True),
        fees=data.fees.model_dump(mode="json", exclude_none=True),
        restrictions=data.restrictions.model_dump(mode="json"),
        health_metrics={},
        is_from_integration=False,
        created_by=principal.id,
        updated_by=principal.id,
    )
    encrypt_credentials(keyring, account, credentials)
    session.add(account)
    await session.flush()
    audit_change(session, principal, audit.AuditAction.CREATE, account)
    return account


async def list_accounts(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    status: AccountStatus | None,
    provider_type: str | None,
    company_id: str | None,
    search: str | None,
) -> Page[MerchantAccount]:
    """Accounts in scope, newest first; closed ones only when `status=closed` is asked for."""
    stmt = select(MerchantAccount).where(visible(principal))
    if status is None:
        stmt = stmt.where(MerchantAccount.status != AccountStatus.CLOSED)
    else:
        stmt = stmt.where(MerchantAccount.status == status)
    if provider_type:
        stmt = stmt.where(MerchantAccount.provider_type == provider_type)
    if company_id:
        stmt = stmt.where(MerchantAccount.company_id == company_id)
    if search:
        pattern = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(MerchantAccount.name.ilike(f"%{pattern}%", escape="\\"))
    return await paginate(session, stmt, MerchantAccount.id, page)


def apply_status(
    account: MerchantAccount, status: AccountStatus, reason: str | None, *, reason_given: bool
) -> None:
    """A new status is stamped with the time and its reason (none unless given); the same status
    again keeps both, unless a reason is given."""
    changed = status is not account.status
    if changed:
        account.status = status
        account.status_changed_at = clock.now()
    if changed or reason_given:
        account.status_reason = reason


async def update_account(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    account_id: str,
    data: MerchantAccountUpdate,
) -> MerchantAccount:
    """Change the given fields; new credentials are validated and encrypted afresh, and a status
    change records its reason and time."""
    account = await get_account(session=session, principal=principal, account_id=account_id)
    open_account(account)
    changes = data.model_dump(exclude_unset=True)
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)
    if account.is_from_integration:
        for name in _MANAGED_BY_INTEGRATION:
            if name in changes:
                raise Conflict(
                    f"{name} of this account comes from its integration; change it there.",
                    code="managed_by_integration",
                    param=name,
                )
    before = audit_snapshot(account)
    if data.credentials is not None:
        credentials = validate_credentials(
            account.provider_type,
            {k: v.get_secret_value() for k, v in data.credentials.items()},
        )
        encrypt_credentials(keyring, account, credentials)
    if data.environment is not None:
        account.environment = data.environment
    if "base_url" in changes:
        account.base_url = str(data.base_url) if data.base_url else None
    check_base_url(account.environment, account.base_url)
    if "status" in changes or "status_reason" in changes:
        apply_status(
            account,
            AccountStatus(data.status or account.status),
            data.status_reason,
            reason_given="status_reason" in changes,
        )
    for name in ("limits", "fees", "restrictions"):
        document = getattr(data, name)
        if document is not None:
            setattr(account, name, document.model_dump(mode="json", exclude_none=True))
    for name in _PLAIN_FIELDS:
        if name in changes:
            value = changes[name]
            setattr(account, name, list(dict.fromkeys(value)) if name == "tags" else value)
    account.updated_by = principal.id
    await session.flush()
    audit_change(
        session,
        principal,
        audit.AuditAction.UPDATE,
        account,
        before,
        metadata={"credentials_changed": True} if data.credentials is not None else None,
    )
    return account


async def active_pool_ids(session: AsyncSession, account_id: str) -> list[str]:
    """Ids of the active pools in which the account has an active membership."""
    rows = await session.scalars(
        select(AccountPool.id)
        .join(PoolMembership, PoolMembership.pool_id == AccountPool.id)
        .where(
            PoolMembership.merchant_account_id == account_id,
            PoolMembership.is_active.is_(True),
            AccountPool.is_active.is_(True),
        )
        .order_by(AccountPool.id)
    )
    return list(rows.all())


async def delete_account(
    *, session: AsyncSession, principal: Principal, account_id: str
) -> MerchantAccount:
    """Soft delete (status closed), refused while an active pool uses the account. Closing a
    closed account changes nothing."""
    account = await get_account(session=session, principal=principal, account_id=account_id)
    if account.status is AccountStatus.CLOSED:
        return account
    pools = await active_pool_ids(session, account.id)
    if pools:
        raise Conflict(
            f"The account is in active pool(s) {', '.join(pools)}; remove it from them first.",
            code="account_in_pool",
        )
    before = audit_snapshot(account)
    apply_status(account, AccountStatus.CLOSED, "deleted", reason_given=True)
    account.updated_by = principal.id
    await session.flush()
    audit_change(session, principal, audit.AuditAction.DELETE, account, before)
    return account


# --- reads with usage and health -------------------------------------------------------------


def to_out(account: MerchantAccount) -> MerchantAccountOut:
    return MerchantAccountOut.model_validate(account)


def _bucket_out(item: usage.BucketUsage, limits: AccountLimits) -> UsageBucketOut:
    count_cap, volume_cap = limits.caps(item.bucket.period)
    return UsageBucketOut(
        period=item.bucket.period,
        period_start=item.bucket.period_start,
        period_end=item.bucket.period_end,
        transaction_count=item.transaction_count,
        volume_minor=item.volume_minor,
        transaction_limit=count_cap,
        volume_limit=volume_cap,
        transactions_remaining=(
            max(count_cap - item.transaction_count, 0) if count_cap is not None else None
        ),
        volume_remaining=max(volume_cap - item.volume_minor, 0) if volume_cap is not None else None,
    )


async def current_usage(session: AsyncSession, account: MerchantAccount) -> list[UsageBucketOut]:
    limits = AccountLimits.model_validate(account.limits)
    return [
        _bucket_out(item, limits) for item in await usage.current(session, account.id, clock.now())
    ]


async def account_detail(
    *, session: AsyncSession, keyring: Keyring, account: MerchantAccount
) -> MerchantAccountDetail:
    """The account with masked credentials and its usage in the current periods."""
    try:
        credentials = masked_credentials(keyring, account)
    except DecryptionError:
        credentials = {"error": "unreadable: the key that encrypted them is gone"}
    return MerchantAccountDetail(
        **dict(to_out(account)),
        credentials=credentials,
        usage=await current_usage(session, account),
    )


async def account_usage(
    *,
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    period: Period,
    limit: int,
) -> UsageOut:
    """The current buckets against their caps, and up to `limit` past buckets of `period`."""
    account = await get_account(session=session, principal=principal, account_id=account_id)
    now = clock.now()
    limits = AccountLimits.model_validate(account.limits)
    current = [_bucket_out(item, limits) for item in await usage.current(session, account.id, now)]
    this_period: date = usage.period_start(period, now.date())
    past, more = await usage.history(session, account.id, period, this_period, limit)
    return UsageOut(
        account_id=account.id,
        currency=account.currency,
        as_of=now,
        current=current,
        history=[_bucket_out(item, limits) for item in past],
        history_has_more=more,
    )


async def account_health(
    *, session: AsyncSession, principal: Principal, account_id: str
) -> HealthOut:
    account = await get_account(session=session, principal=principal, account_id=account_id)
    health = HealthMetrics.model_validate(account.health_metrics)
    return HealthOut(
        account_id=account.id,
        status=account.status,
        health_score=health.health_score,
        success_rate=health.success_rate,
        average_response_time_ms=health.average_response_time_ms,
        last_health_check=health.last_health_check,
        last_test=health.last_test,
    )
