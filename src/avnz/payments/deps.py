"""Dependencies of the payment routes: `Idempotency`, the handle a POST runs its work through."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.deps import CurrentPrincipal, RuntimeDep, Session
from avnz.payments import idempotency
from avnz.payments.idempotency import ClaimingWork, StoredResponse


@dataclass(frozen=True, slots=True)
class Idempotent:
    """One request's idempotency: who sent it, its key (if any) and its fingerprint."""

    sessions: async_sessionmaker[AsyncSession]
    request_session: AsyncSession
    scope: str
    key: str | None
    fingerprint: str

    async def run(self, execute: Callable[[], Awaitable[StoredResponse]]) -> JSONResponse:
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

    async def run_claiming(self, work: ClaimingWork, *, lazy: bool = True) -> JSONResponse:
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
