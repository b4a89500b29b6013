"""Login, refresh, logout, invite acceptance, the JWKS, and company API keys."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from avnz.auth import api_keys, schemas
from avnz.auth import service as auth_service
from avnz.auth.permissions import Permission as P
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.errors import InvalidRequest, Unauthenticated
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.deps import CurrentPrincipal, RuntimeDep, Session, auth_rate_limit, require

router = APIRouter(route_class=ApiRoute, tags=["auth"])
public_router = APIRouter(route_class=ApiRoute, tags=["auth"])
RateLimitedAuth = [Depends(auth_rate_limit)]


def _tokens(pair: auth_service.TokenPair) -> schemas.TokenOut:
    return schemas.TokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@public_router.post("/auth/login", response_model=schemas.TokenOut, dependencies=RateLimitedAuth)
async def login(data: schemas.LoginIn, session: Session, runtime: RuntimeDep) -> Any:
    """Public. Exchange email and password for an access token and a refresh token."""
    async with runtime.login_backoff.attempt(data.email):
        try:
            pair = await auth_service.login(
                session=session,
                keyset=runtime.keyset,
                settings=runtime.settings,
                email=data.email,
                password=data.password,
            )
        except Unauthenticated:
            await session.commit()  # the failed attempt's audit row must stick
            raise
    return _tokens(pair)


@public_router.post("/auth/refresh", response_model=schemas.TokenOut, dependencies=RateLimitedAuth)
async def refresh(data: schemas.RefreshIn, session: Session, runtime: RuntimeDep) -> Any:
    """Public. Rotate a refresh token; a reused one ends its session."""
    outcome = await auth_service.refresh(
        session=session,
        keyset=runtime.keyset,
        settings=runtime.settings,
        refresh_token=data.refresh_token,
    )
    if isinstance(outcome, auth_service.RefreshReused):
        await session.commit()  # the revocation must stick even though the request fails
        raise Unauthenticated(
            "This refresh token was already used; the session has been ended.",
            code="refresh_token_reused",
        )
    return _tokens(outcome)


@public_router.post(
    "/auth/accept-invite", status_code=status.HTTP_200_OK, dependencies=RateLimitedAuth
)
async def accept_invite(data: schemas.AcceptInviteIn, session: Session) -> dict[str, str]:
    """Public. Set a password with an invite token; then log in."""
    user = await auth_service.accept_invite(
        session=session, token=data.token, password=data.password, name=data.name
    )
    return {"user_id": user.id, "email": user.email, "status": user.status.value}


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, session: Session) -> None:
    """End this login: its refresh tokens and access tokens stop working."""
    if principal.session_id is None:
        raise InvalidRequest("Only a login session can log out.", code="no_session")
    await auth_service.revoke_session(
        session=session, session_id=principal.session_id, reason="logout"
    )


@router.get("/auth/me", response_model=schemas.MeOut)
async def me(principal: CurrentPrincipal) -> Any:
    return schemas.MeOut(
        id=principal.id,
        kind=principal.kind,
        email=principal.email,
        role=principal.role,
        organization_id=principal.organization_id,
        client_id=principal.client_id,
        company_id=principal.company_id,
        permissions=sorted(principal.permissions),
    )


KeysRead = Annotated[Principal, Depends(require(P.SETTINGS_READ))]
KeysWrite = Annotated[Principal, Depends(require(P.SETTINGS_WRITE))]


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ApiKeyCreated,
    tags=["api keys"],
)
async def create_api_key(data: schemas.ApiKeyCreate, session: Session, principal: KeysWrite) -> Any:
    key, secret = await api_keys.create(
        session=session,
        principal=principal,
        company_id=data.company_id,
        name=data.name,
        mode=data.mode,
        permissions=data.permissions,
    )
    return schemas.ApiKeyCreated(
        **schemas.ApiKeyOut.model_validate(key).model_dump(), secret=secret
    )


@router.get("/api-keys", response_model=PageOut[schemas.ApiKeyOut], tags=["api keys"])
async def list_api_keys(
    session: Session, principal: KeysRead, paging: Paging, company_id: str | None = None
) -> Any:
    page = await api_keys.list_keys(
        session=session, principal=principal, page=paging, company_id=company_id
    )
    return page_out(page, schemas.ApiKeyOut)


@router.get("/api-keys/{key_id}", response_model=schemas.ApiKeyOut, tags=["api keys"])
async def get_api_key(key_id: str, session: Session, principal: KeysRead) -> Any:
    return await api_keys.get(session=session, principal=principal, key_id=key_id)


@router.delete("/api-keys/{key_id}", response_model=schemas.ApiKeyOut, tags=["api keys"])
async def revoke_api_key(
    key_id: str, session: Session, principal: KeysWrite, runtime: RuntimeDep
) -> Any:
    return await api_keys.revoke(
        session=session, principal=principal, key_id=key_id, cache=runtime.api_keys
    )
