"""FastAPI dependencies shared by every router: the runtime, the unit of work, the caller,
and `Idempotency` for work that handles its own `Idempotency-Key` (the payment path)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz import idempotency
from avnz.auth import service as auth_service
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.errors import InvalidRequest, PermissionDenied, Unauthenticated
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


MODE_HEADER = "Avnz-Mode"
_MODES = {"test": False, "live": True}


def in_mode(principal: Principal, asked: str | None) -> Principal:
    """The principal in the mode the request's `Avnz-Mode` asks for (`test` or `live`): a user
    works in either (test unless asked), an API key only in its own (sk_test_ / sk_live_);
    anything else is a 400 naming the header."""
    if asked is None:
        return principal
    livemode = _MODES.get(asked.strip().lower())
    if livemode is None:
        raise InvalidRequest(
            f"{MODE_HEADER} must be `test` or `live`.", code="invalid_mode", param=MODE_HEADER
        )
    if principal.kind == "user":
        return replace(principal, livemode=livemode)
    if livemode != principal.livemode:
        raise InvalidRequest(
            f"This is a {'live' if principal.livemode else 'test'} API key; it works only in "
            f"{'live' if principal.livemode else 'test'} mode. Use a "
            f"{'sk_live_' if livemode else 'sk_test_'} key for {asked.strip().lower()} mode.",
            code="livemode_mismatch",
            param=MODE_HEADER,
        )
    return principal


async def current_principal(request: Request, runtime: RuntimeDep, session: Session) -> Principal:
    principal = await principal_from_token(request, runtime, session, bearer_token(request))
    return in_mode(principal, request.headers.get(MODE_HEADER))


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
    """The client's address (behind trusted proxies, as `RequestMiddleware` resolved it)."""
    return request.client.host if request.client else "unknown"


async def auth_rate_limit(request: Request, runtime: RuntimeDep) -> None:
    """10/min per IP on login, refresh and invite acceptance: slows password guessing."""
    await runtime.limiter.check(runtime.limits.auth, client_ip(request))


async def payments_rate_limit(
    request: Request, principal: CurrentPrincipal, runtime: RuntimeDep
) -> None:
    """Per caller: the seed's 30/min on creating and moving payments (every POST), a limit of
    its own on reading them, so a dashboard that lists payments never blocks a checkout."""
    limit = runtime.limits.payment_reads if request.method == "GET" else runtime.limits.payments
    await runtime.limiter.check(limit, principal.id)


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
    scope = principal.key_scope
    fingerprint = ""
    if key is not None:
        idempotency.validate_key(key)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        fingerprint = idempotency.fingerprint(
            runtime.keyring,
            scope=scope,
            method=request.method,
            path=path,
            body=await request.body(),
        )
    return Idempotent(
        sessions=runtime.sessions,
        request_session=session,
        scope=scope,
        key=key,
        fingerprint=fingerprint,
    )


Idempotency = Annotated[Idempotent, Depends(idempotent)]
