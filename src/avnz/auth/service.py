"""Local login, rotating refresh tokens, logout, invites, and turning a bearer token into a
Principal (our own JWTs, an external IdP's JWTs, or API keys)."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
import structlog
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth import api_keys
from avnz.auth.models import ApiKey, AuthSession, Invite, RefreshToken
from avnz.auth.oidc import JwksCache, OidcSettings, verify_external_token
from avnz.auth.scope import Principal
from avnz.auth.tokens import Keyset
from avnz.config import Settings
from avnz.core import clock, context
from avnz.core.cache import TtlCache
from avnz.core.errors import InvalidRequest, Unauthenticated
from avnz.core.ids import new_id
from avnz.security.passwords import hash_password, new_token, token_digest, verify_password
from avnz.tenancy.models import User, UserStatus

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _principal(user: User, session_id: str | None = None) -> Principal:
    return Principal.for_user(
        user_id=user.id,
        role=user.role,
        organization_id=user.organization_id,
        client_id=user.client_id,
        company_id=user.company_id,
        email=user.email,
        session_id=session_id,
    )


async def _issue_pair(
    session: AsyncSession, *, user: User, auth_session_id: str, keyset: Keyset, settings: Settings
) -> TokenPair:
    refresh = new_token()
    session.add(
        RefreshToken(
            id=new_id("rtk"),
            session_id=auth_session_id,
            token_hash=token_digest(refresh),
            expires_at=clock.now() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    access = keyset.issue_access_token(
        issuer=settings.token_issuer,
        subject=user.id,
        session_id=auth_session_id,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        claims={"role": user.role.value, "org": user.organization_id},
    )
    return TokenPair(access, refresh, settings.access_token_ttl_seconds)


async def login(
    *, session: AsyncSession, keyset: Keyset, settings: Settings, email: str, password: str
) -> TokenPair:
    """Start a session for an active user with the right password; same answer for any miss.
    A miss on a known account adds a LOGIN_FAILED audit row to `session` (never the password):
    the caller commits it even though the login fails."""
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or user.status is not UserStatus.ACTIVE:
        _record_failed_login(session, user, reason="wrong_password" if not valid else "inactive")
        raise Unauthenticated("Email or password is incorrect.", code="invalid_credentials")
    return await start_session(session=session, keyset=keyset, settings=settings, user=user)


def _record_failed_login(session: AsyncSession, user: User | None, *, reason: str) -> None:
    """The audit row of a failed login on a known account; an unknown email belongs to no
    organization's audit log, so it is only logged (without the email)."""
    if user is None:
        log.warning("auth.login_failed", reason="unknown_email")
        return
    entry = audit.record(
        session,
        actor=None,
        action=audit.AuditAction.LOGIN_FAILED,
        resource="user",
        resource_id=user.id,
        tenant=audit.Tenant(user.organization_id, user.client_id, user.company_id),
        metadata={"reason": reason, "method": "password"},
    )
    entry.actor_type, entry.user_id, entry.user_email = "anonymous", user.id, user.email


async def start_session(
    *, session: AsyncSession, keyset: Keyset, settings: Settings, user: User
) -> TokenPair:
    """A new login session for a user who has proven who they are (password or identity
    provider); the caller has checked that the user is active."""
    request = context.current()
    auth_session = AuthSession(
        id=new_id("ses"),
        user_id=user.id,
        ip_address=request.ip_address if request else None,
        user_agent=request.user_agent if request else None,
    )
    session.add(auth_session)
    user.last_login_at = clock.now()
    await session.flush()
    return await _issue_pair(
        session, user=user, auth_session_id=auth_session.id, keyset=keyset, settings=settings
    )


async def user_for_identity(
    *, session: AsyncSession, organization_id: str, subject: str, verified_email: str | None
) -> User | None:
    """The active user an identity provider vouched for: linked by `sub` (auth0_id), or else by
    an email address the provider says it verified; None when nobody matches."""
    user = await session.scalar(
        select(User).where(User.auth0_id == subject, User.organization_id == organization_id)
    )
    if user is None and verified_email:
        user = await session.scalar(
            select(User).where(
                User.email == verified_email.strip().lower(),
                User.organization_id == organization_id,
            )
        )
    return user if user is not None and user.status is UserStatus.ACTIVE else None


@dataclass(frozen=True, slots=True)
class RefreshReused:
    """A refresh token came back after it was rotated: the session is now revoked."""


async def refresh(
    *, session: AsyncSession, keyset: Keyset, settings: Settings, refresh_token: str
) -> TokenPair | RefreshReused:
    """Rotate a refresh token. Presenting a used one revokes its whole session (theft signal)."""
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token))
    )
    if stored is None or stored.expires_at <= clock.now():
        raise Unauthenticated(
            "The refresh token is invalid or expired.", code="invalid_refresh_token"
        )
    auth_session = await session.get(AuthSession, stored.session_id)
    if auth_session is None or auth_session.revoked_at is not None:
        raise Unauthenticated("The session has ended; log in again.", code="session_revoked")
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=clock.now())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_session(session=session, session_id=auth_session.id, reason="refresh_reuse")
        return RefreshReused()
    user = await session.get(User, auth_session.user_id)
    if user is None or user.status is not UserStatus.ACTIVE:
        raise Unauthenticated("The user is no longer active.", code="user_inactive")
    return await _issue_pair(
        session, user=user, auth_session_id=auth_session.id, keyset=keyset, settings=settings
    )


async def revoke_session(*, session: AsyncSession, session_id: str, reason: str) -> None:
    """End a login: its refresh tokens stop working and so do access tokens carrying its id."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


async def end_sessions(
    *, session: AsyncSession, user_ids: Select[str] | Sequence[str], reason: str
) -> None:
    """Revoke every live session of these users: their access tokens stop working at once."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id.in_(user_ids), AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


async def revoke_api_keys(
    *, session: AsyncSession, owner: Literal["client", "company"], owner_id: str
) -> None:
    """Revoke every live API key of a client or of a company (which is being deleted)."""
    column = ApiKey.client_id if owner == "client" else ApiKey.company_id
    await session.execute(
        update(ApiKey)
        .where(column == owner_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


async def create_invite(
    *, session: AsyncSession, user_id: str, created_by: str, ttl_seconds: int
) -> tuple[str, datetime]:
    """A one-time token that lets the invited user set a password; only its digest is stored."""
    token = new_token()
    expires_at = clock.now() + timedelta(seconds=ttl_seconds)
    session.add(
        Invite(
            id=new_id("inv"),
            user_id=user_id,
            token_hash=token_digest(token),
            created_by=created_by,
            expires_at=expires_at,
        )
    )
    return token, expires_at


async def accept_invite(
    *, session: AsyncSession, token: str, password: str, name: str | None
) -> User:
    """Set the invited user's password and activate them; the token works once."""
    invite = await session.scalar(select(Invite).where(Invite.token_hash == token_digest(token)))
    if invite is None or invite.accepted_at is not None or invite.expires_at <= clock.now():
        raise InvalidRequest("The invite is invalid, used or expired.", code="invalid_invite")
    claimed = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.accepted_at.is_(None))
        .values(accepted_at=clock.now())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidRequest("The invite is invalid, used or expired.", code="invalid_invite")
    user = await session.get(User, invite.user_id)
    if user is None or user.status is not UserStatus.INVITED:
        raise InvalidRequest("The invite is invalid, used or expired.", code="invalid_invite")
    before = audit.snapshot(user)
    user.password_hash = hash_password(password)
    user.status = UserStatus.ACTIVE
    if name:
        user.name = name
    user.updated_by = user.id
    audit.record(
        session,
        actor=_principal(user),
        action=audit.AuditAction.UPDATE,
        resource="user",
        resource_id=user.id,
        tenant=audit.Tenant(user.organization_id, user.client_id, user.company_id),
        before=before,
        after=audit.snapshot(user),
        metadata={"event": "invite.accepted"},
    )
    return user


# (organization id, OIDC settings) of every trusted identity provider. They live in each
# organization's identity integration (Auth0, Okta or Cognito), which auth does not import: the
# runtime hands in the integrations domain's reader.
OidcConfigs = list[tuple[str, OidcSettings]]
OidcConfigLoader = Callable[[AsyncSession], Awaitable[OidcConfigs]]


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Everything needed to check a bearer token, bundled for the request dependency."""

    keyset: Keyset
    settings: Settings
    jwks: JwksCache
    api_key_cache: TtlCache[str, Principal]
    oidc_cache: TtlCache[str, OidcConfigs]
    load_oidc_configs: OidcConfigLoader


async def authenticate(*, session: AsyncSession, auth: Authenticator, token: str) -> Principal:
    if token.startswith(api_keys.KEY_PREFIXES):
        return await api_keys.authenticate(session=session, cache=auth.api_key_cache, raw_key=token)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthenticated("The access token is malformed.", code="invalid_token") from None
    issuer = str(unverified.get("iss", ""))
    if issuer == auth.settings.token_issuer:
        claims = auth.keyset.verify_access_token(token, issuer=auth.settings.token_issuer)
        return await _local_principal(session, claims)
    return await _external_principal(session, auth, token, header, issuer)


async def _local_principal(session: AsyncSession, claims: dict[str, Any]) -> Principal:
    row = (
        await session.execute(
            select(User, AuthSession.revoked_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(User.id == claims["sub"], AuthSession.id == claims.get("sid"))
        )
    ).first()
    if row is None or row[1] is not None:
        raise Unauthenticated("The session has ended; log in again.", code="session_revoked")
    user: User = row[0]
    if user.status is not UserStatus.ACTIVE:
        raise Unauthenticated("The user is not active.", code="user_inactive")
    return _principal(user, session_id=str(claims.get("sid")))


async def _oidc_configs(session: AsyncSession, auth: Authenticator) -> OidcConfigs:
    cached = auth.oidc_cache.get("all")
    if cached is not None:
        return cached
    configs = await auth.load_oidc_configs(session)
    auth.oidc_cache.put("all", configs)
    return configs


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


async def _external_principal(
    session: AsyncSession, auth: Authenticator, token: str, header: dict[str, Any], issuer: str
) -> Principal:
    configs = await _oidc_configs(session, auth)
    match = next(((org, c) for org, c in configs if _same_issuer(c.issuer_str, issuer)), None)
    if match is None:
        raise Unauthenticated("The token's issuer is not trusted.", code="invalid_issuer")
    organization_id, config = match
    claims = await verify_external_token(token, header=header, config=config, jwks=auth.jwks)
    user = await session.scalar(
        select(User).where(User.auth0_id == claims["sub"], User.organization_id == organization_id)
    )
    if user is None or user.status is not UserStatus.ACTIVE:
        raise Unauthenticated(
            "No active avnz user is linked to this identity.", code="unknown_user"
        )
    return _principal(user)
