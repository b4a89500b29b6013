"""Company API keys for server-to-server calls: shown once, stored as a digest, revocable."""

import secrets
import string
from datetime import timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.models import ApiKey
from avnz.auth.permissions import Level, Permission
from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.cache import TtlCache
from avnz.core.errors import InvalidRequest, NotFound, PermissionDenied, Unauthenticated
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.db.engine import after_commit
from avnz.security.passwords import token_digest
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import get_visible

KEY_PREFIXES = ("sk_test_", "sk_live_")
_ALPHABET = string.ascii_letters + string.digits
# last_used_at is written at most this often per key, so authenticating stays read-only.
_TOUCH_INTERVAL = timedelta(minutes=1)


def _generate(mode: str) -> str:
    return f"sk_{mode}_" + "".join(secrets.choice(_ALPHABET) for _ in range(40))


async def _company(session: AsyncSession, principal: Principal, company_id: str | None) -> Company:
    if company_id is None:
        raise InvalidRequest("company_id is required.", code="missing_param", param="company_id")
    return await get_visible(session, principal, Company, company_id, param="company_id")


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=ApiKey.organization_id,
        client_id=ApiKey.client_id,
        company_id=ApiKey.company_id,
    )


async def create(
    *,
    session: AsyncSession,
    principal: Principal,
    company_id: str | None,
    name: str,
    mode: str,
    permissions: list[Permission],
) -> tuple[ApiKey, str]:
    """A new key limited to a subset of the creator's permissions; the raw key is returned once."""
    company = await _company(session, principal, company_id or principal.company_id)
    extra = set(permissions) - principal.permissions
    if extra:
        raise PermissionDenied(
            f"A key cannot have permissions its creator lacks: {sorted(extra)}.",
            param="permissions",
        )
    raw = _generate(mode)
    key = ApiKey(
        id=new_id("key"),
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name=name,
        mode=mode,
        display_prefix=raw[:12],
        last4=raw[-4:],
        key_hash=token_digest(raw),
        permissions=sorted(p.value for p in set(permissions)),
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(key)
    await session.flush()
    audit.record(
        session,
        actor=principal,
        action=audit.AuditAction.CREATE,
        resource="api_key",
        resource_id=key.id,
        tenant=audit.Tenant(key.organization_id, key.client_id, key.company_id),
        after=audit.snapshot(key),
    )
    return key, raw


async def list_keys(
    *, session: AsyncSession, principal: Principal, page: PageParams, company_id: str | None
) -> Page[ApiKey]:
    stmt = select(ApiKey).where(_visible(principal))
    if company_id:
        stmt = stmt.where(ApiKey.company_id == company_id)
    return await paginate(session, stmt, ApiKey.id, page)


async def get(*, session: AsyncSession, principal: Principal, key_id: str) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, _visible(principal)))
    if key is None:
        raise NotFound(f"No API key {key_id!r}.", param="id")
    return key


async def revoke(
    *, session: AsyncSession, principal: Principal, key_id: str, cache: TtlCache[str, Principal]
) -> ApiKey:
    key = await get(session=session, principal=principal, key_id=key_id)
    if key.revoked_at is None:
        before = audit.snapshot(key)
        key.revoked_at = clock.now()
        key.updated_by = principal.id
        after_commit(session, lambda: cache.discard(key.key_hash))
        audit.record(
            session,
            actor=principal,
            action=audit.AuditAction.DELETE,
            resource="api_key",
            resource_id=key.id,
            tenant=audit.Tenant(key.organization_id, key.client_id, key.company_id),
            before=before,
            after=audit.snapshot(key),
        )
    return key


async def authenticate(
    *, session: AsyncSession, cache: TtlCache[str, Principal], raw_key: str
) -> Principal:
    """The Principal of a live key. Lookups are cached; a revoked key stops within the TTL."""
    digest = token_digest(raw_key)
    cached = cache.get(digest)
    if cached is not None:
        return cached
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("The API key is invalid or revoked.", code="invalid_api_key")
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at >= _TOUCH_INTERVAL:
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    principal = Principal(
        id=key.id,
        kind="api_key",
        level=Level.COMPANY,
        organization_id=key.organization_id,
        client_id=key.client_id,
        company_id=key.company_id,
        permissions=frozenset(Permission(p) for p in key.permissions),
        extra={"mode": key.mode},
        livemode=key.mode == "live",
    )
    cache.put(digest, principal)
    return principal
