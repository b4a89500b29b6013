"""The outermost layer of every request: the client's address, request id, per-IP limit, body
size, security headers, and one access-log line. Pure ASGI (no BaseHTTPMiddleware) to keep the
hot path cheap.

The client's address is the peer's, unless the peer is a trusted proxy (`AVNZ_TRUSTED_PROXIES`,
none by default): then it is the right-most address of X-Forwarded-For that is not itself a
trusted proxy, since everything left of it was written by whoever sent the request. The scope's
`client` is rewritten, so every limit, log and audit row downstream sees the same address.
"""

import ipaddress
import re
import secrets
import time
import uuid
from typing import Any

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avnz.config import IpNetwork
from avnz.core import context
from avnz.core.errors import AppError, PayloadTooLarge, error_body, unexpected_error_response
from avnz.security.ratelimit import Limit, RateLimiter

API_VERSION = "v1"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The sandboxes stand in for remote gateways: our own per-IP limit must not throttle them.
_UNLIMITED_PREFIXES = ("/health", "/.well-known/", "/sandbox/")
# Scripts run from our own files or with this response's nonce (the one inline script, the theme
# set before first paint); no 'unsafe-inline', no 'unsafe-eval' (Alpine is its CSP build).
# Styles keep 'unsafe-inline' for style attributes (meter widths, chart bars): a nonce in
# style-src would make browsers ignore it, and styles cannot run code.
CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; object-src 'none'; "
    "base-uri 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
    "x-api-version": API_VERSION,
}

access_log = structlog.get_logger("avnz.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
    return f"req_{uuid.uuid4().hex}"


def _trusted(address: str, networks: tuple[IpNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    peer: str,
    forwarded_for: str | None,
    networks: tuple[IpNetwork, ...],
) -> str:
    """The client's address: the peer's, or, behind trusted proxies, the right-most
    X-Forwarded-For entry that is not one of them (the left-most if they all are)."""
    if not networks or forwarded_for is None or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop if _is_ip(hop) else peer
    return hops[0] if hops else peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        ip_limit: Limit,
        max_body_bytes: int,
        trusted_proxies: tuple[IpNetwork, ...] = (),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.ip_limit = ip_limit
        self.max_body_bytes = max_body_bytes
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        if self.trusted_proxies and client:
            ip = client_address(ip, _header(scope, b"x-forwarded-for"), self.trusted_proxies)
            scope["client"] = (ip, client[1])
            proto = _header(scope, b"x-forwarded-proto")
            if proto in ("http", "https") and _trusted(client[0], self.trusted_proxies):
                scope["scheme"] = proto
        nonce = secrets.token_urlsafe(18)
        state = scope.setdefault("state", {})
        state["request_id"], state["csp_nonce"] = request_id, nonce
        csp = CSP_TEMPLATE.format(nonce=nonce)
        token = context.bind(context.RequestContext(request_id, ip, _header(scope, b"user-agent")))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status_holder = {"status": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers.setdefault("content-security-policy", csp)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            rejection = await self._admission(scope, ip)
            if rejection is not None:
                await self._reject(rejection, request_id, scope, receive, send_with_headers)
            else:
                await self.app(scope, self._limited_receive(receive), send_with_headers)
        except Exception as exc:
            if status_holder["started"]:
                raise  # too late for an answer; the server drops the connection
            # Starlette's last-resort handler sits outside this middleware: its 500 would carry
            # neither the request id nor the security headers, so the 500 is answered here.
            response = unexpected_error_response(Request(scope), exc)
            await response(scope, receive, send_with_headers)
        finally:
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status_holder["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                ip=ip,
            )
            structlog.contextvars.unbind_contextvars("request_id")
            context.unbind(token)

    async def _admission(self, scope: Scope, ip: str) -> AppError | None:
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            return PayloadTooLarge(f"The request body is larger than {self.max_body_bytes} bytes.")
        if scope["path"].startswith(_UNLIMITED_PREFIXES) or scope["method"] == "OPTIONS":
            return None
        try:
            await self.limiter.check(self.ip_limit, ip)
        except AppError as exc:
            return exc
        return None

    async def _reject(
        self, error: AppError, request_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        body = error_body(
            type_=error.type,
            code=error.code,
            message=error.message,
            param=error.param,
            request_id=request_id,
        )
        response = JSONResponse(body, status_code=error.status_code, headers=error.headers)
        await response(scope, receive, send)

    def _limited_receive(self, receive: Receive) -> Receive:
        """Count body bytes as they stream in; a body without Content-Length cannot sneak past."""
        seen = 0
        limit = self.max_body_bytes

        async def wrapped() -> Message:
            nonlocal seen
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException, because FastAPI turns any other error raised while it
                    # reads the body into a 400; the handler gives it the payload_too_large shape.
                    raise HTTPException(413, f"The request body is larger than {limit} bytes.")
            return message

        return wrapped
