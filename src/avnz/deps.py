"""FastAPI dependencies shared by every router: the runtime, the unit of work, the caller,
and `Idempotency` for work that handles its own `Idempotency-Key` (the payment path)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz import idempotency
from avnz.auth import service as auth_service
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.errors import PermissionDenied, Unauthenticated
from avnz.db.engine import run_after_commit
from avnz.idempotency import ClaimingWork, StoredResponse
from avnz.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async, as every dependency here: FastAPI runs a plain `def` dependency in its thread pool,
    # a thread hop per request for what is an attribute read.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the route returns, before the response is sent,
    so a client never sees success for a change (or an audit row) that did not commit."""
    async with runtime.sessions() as session:
        try:
            yield session
            await session.commit()
            run_after_commit(session)
        except BaseException:
            await session.rollback()
            raise


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`, or a 401 that says how to send it."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "Send an access token or API key as `Authorization: Bearer <token>`.",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def principal_from_token(
    request: Request, runtime: Runtime, session: AsyncSession, token: str
) -> Principal:
    """The caller behind a token (API bearer or dashboard cookie), counted in the user limit."""
    principal = await auth_service.authenticate(
        session=session, auth=runtime.authenticator, token=token
    )
    await runtime.limiter.check(runtime.limits.user, principal.id)
    request.state.principal_id = principal.id
    return principal


async def current_principal(request: Request, runtime: RuntimeDep, session: Session) -> Principal:
    return await principal_from_token(request, runtime, session, bearer_token(request))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*permissions: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the caller through only with every named permission."""
    needed = frozenset(permissions)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        missing = needed - principal.permissions
        if missing:
            raise PermissionDenied(
                f"This action needs the permission(s): {', '.join(sorted(missing))}."
            )
        return principal

    return dependency


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def auth_rate_limit(request: Request, runtime: RuntimeDep) -> None:
    """10/min per IP on login, refresh and invite acceptance: slows password guessing."""
    await runtime.limiter.check(runtime.limits.auth, client_ip(request))


async def payments_rate_limit(principal: CurrentPrincipal, runtime: RuntimeDep) -> None:
    """The seed's 30/min on payment endpoints, per caller."""
    await runtime.limiter.check(runtime.limits.payments, principal.id)


@dataclass(frozen=True, slots=True)
class Idempotent:
    """One request's idempotency: who sent it, its key (if any) and its fingerprint."""

    sessions: async_sessionmaker[AsyncSession]
    request_session: AsyncSession
    scope: str
    key: str | None
    fingerprint: str

    async def run(self, execute: Callable[[], Awaitable[StoredResponse]]) -> Response:
        """Run `execute` once for this key and body and answer with its (stored) response.

        The request's own transaction (authentication read through it) is committed first:
        the work runs in its own sessions, and on SQLite an open transaction holds the one
        write lock they need."""
        await self.request_session.commit()
        replay = await idempotency.run_idempotent(
            self.sessions,
            scope=self.scope,
            key=self.key,
            fingerprint=self.fingerprint,
            execute=execute,
        )
        return replay.to_response()

    async def run_claiming(self, work: ClaimingWork, *, lazy: bool = True) -> Response:
        """`run` for work handed its claim (`idempotency.run_claiming`)."""
        await self.request_session.commit()
        replay = await idempotency.run_claiming(
            self.sessions,
            scope=self.scope,
            key=self.key,
            fingerprint=self.fingerprint,
            work=work,
            lazy=lazy,
        )
        return replay.to_response()


async def idempotent(
    request: Request,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    session: Session,
    key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            description=(
                "Any unique string (a UUID) of up to 255 characters. Sending the same key and "
                "body again within 24 h returns the first answer instead of repeating the "
                "work; the replay carries `Idempotent-Replayed: true`."
            ),
        ),
    ] = None,
) -> Idempotent:
    fingerprint = ""
    if key is not None:
        idempotency.validate_key(key)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        fingerprint = idempotency.fingerprint(
            runtime.keyring,
            scope=principal.id,
            method=request.method,
            path=path,
            body=await request.body(),
        )
    return Idempotent(
        sessions=runtime.sessions,
        request_session=session,
        scope=principal.id,
        key=key,
        fingerprint=fingerprint,
    )


Idempotency = Annotated[Idempotent, Depends(idempotent)]
