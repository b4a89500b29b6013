"""Per-request facts (request id, client ip, user agent) for logs and audit rows."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    ip_address: str | None
    user_agent: str | None


_current: ContextVar[RequestContext | None] = ContextVar("avnz_request_context", default=None)


def current() -> RequestContext | None:
    return _current.get()


def bind(context: RequestContext) -> object:
    return _current.set(context)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
