"""The conventions every API route keeps, held by one route class (`ApiRoute`) that each API
router is built with, so no route has to remember them:

- An unknown query parameter is a 400 that names it (`parameter_unknown`), as Stripe answers: a
  misspelt filter (`created[gte]`) must not silently filter nothing. Unknown body fields are
  refused by the request models themselves (`extra="forbid"`, see `core.errors`).
- `Idempotency-Key` is honoured on every authenticated POST: the first answer (its status and
  body, 4xx included) is stored for 24 h and replayed to a retry with the same key and body
  (`avnz.idempotency`). Routes whose work takes the key itself (the payment path, through
  `deps.Idempotency`) are left to it; public routes (login, refresh) have no caller to scope a
  key to and ignore it.

What a route accepts is read from its dependency tree once, when the route is built; a request
pays a set lookup per query parameter it sends, nothing when it sends none.
"""

import json
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from avnz import idempotency
from avnz.auth import service as auth_service
from avnz.core.errors import AppError, InvalidRequest, RateLimited, app_error_response
from avnz.deps import MODE_HEADER, bearer_token, current_principal, get_runtime, idempotent, in_mode
from avnz.idempotency import StoredResponse
from avnz.runtime import Runtime

# Where FastAPI keeps the exit stack of a request's function-scoped dependencies.
_FUNCTION_STACK = "fastapi_function_astack"
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _tree(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _tree(child)


def unknown_parameters(sent: Iterator[str], known: frozenset[str]) -> list[str]:
    """The names in `sent` a route does not declare, each once, in the order sent."""
    return list(dict.fromkeys(name for name in sent if name not in known))


def refuse_unknown(names: list[str], *, where: str = "query") -> None:
    """Raise the 400 for parameters a route does not declare (nothing when there are none)."""
    if not names:
        return
    plural = "s" if len(names) > 1 else ""
    raise InvalidRequest(
        f"Received unknown {where} parameter{plural}: {', '.join(names)}. "
        "See the API reference for the parameters this operation accepts.",
        code="parameter_unknown",
        param=names[0],
    )


class ApiRoute(APIRoute):
    """An API route that refuses unknown query parameters and honours `Idempotency-Key`."""

    @property
    def idempotency(self) -> str | None:
        """Who honours `Idempotency-Key` on this route: `route` (this class), `work` (the
        route's work, through `deps.Idempotency`), `public` (no caller: ignored), or None
        (not a POST)."""
        if "POST" not in (self.methods or ()):
            return None
        calls = {node.call for node in _tree(self.dependant)}
        if idempotent in calls:
            return "work"
        return "route" if current_principal in calls else "public"

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        nodes = list(_tree(self.dependant))
        known = frozenset(str(field.alias) for node in nodes for field in node.query_params)
        if self.idempotency == "route":
            handler = _keeping_idempotency(handler)
        return _refusing_unknown(handler, known)


def _refusing_unknown(handler: Handler, known: frozenset[str]) -> Handler:
    async def refusing(request: Request) -> Response:
        if request.scope["query_string"]:
            refuse_unknown(unknown_parameters(iter(request.query_params.keys()), known))
        return await handler(request)

    return refusing


def _keeping_idempotency(handler: Handler) -> Handler:
    async def keeping(request: Request) -> Response:
        key = request.headers.get(idempotency.HEADER)
        if key is None:
            return await handler(request)
        idempotency.validate_key(key)
        runtime = await get_runtime(request)
        scope = await _caller(request, runtime)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        fingerprint = idempotency.fingerprint(
            runtime.keyring,
            scope=scope,
            method=request.method,
            path=path,
            body=await request.body(),
        )
        sent: list[Response] = []

        async def execute() -> StoredResponse:
            try:
                response = await _closing_unit_of_work(handler, request)
            except AppError as exc:
                if exc.status_code >= 500 or isinstance(exc, RateLimited):
                    raise  # not an answer: a retry must run the work again
                response = app_error_response(request, exc)
            sent.append(response)
            return StoredResponse(response.status_code, _json_body(response))

        replay = await idempotency.run_idempotent(
            runtime.sessions, scope=scope, key=key, fingerprint=fingerprint, execute=execute
        )
        # The first answer goes out as the route made it (its own headers); a replay as stored.
        return sent[0] if sent and not replay.replayed else replay.to_response()

    return keeping


async def _closing_unit_of_work(handler: Handler, request: Request) -> Response:
    """Run the route with its function-scoped dependencies (the request's unit of work) closed
    when it returns, as FastAPI closes them for a route it runs itself, not after this wrapper:
    the work must be committed before its answer is stored."""
    scope = request.scope
    outer = scope.get(_FUNCTION_STACK)
    try:
        async with AsyncExitStack() as stack:
            scope[_FUNCTION_STACK] = stack
            return await handler(request)
    finally:
        scope[_FUNCTION_STACK] = outer


async def _caller(request: Request, runtime: Runtime) -> str:
    """Whose key it is: the caller behind the bearer token in the request's mode (the route
    authenticates again, from the API key cache or one read); the read is over before the key
    is claimed."""
    async with runtime.sessions() as session:
        principal = await auth_service.authenticate(
            session=session, auth=runtime.authenticator, token=bearer_token(request)
        )
    return in_mode(principal, request.headers.get(MODE_HEADER)).key_scope


def _json_body(response: Response) -> Any:
    body = bytes(response.body)
    return json.loads(body) if body else None
