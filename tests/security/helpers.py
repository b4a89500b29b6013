"""Small helpers for HTTP-level tests: an in-process client per app and the error shape."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

API = "/api/v1"
ERROR_FIELDS = {"type", "code", "message", "param", "request_id"}
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-api-version": "v1",
}


@asynccontextmanager
async def asgi_client(app: Any, *, ip: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """A client that talks to `app` in-process, appearing to come from `ip`."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_error(
    response: httpx.Response, status: int, code: str, *, param: str | None = None
) -> dict[str, Any]:
    """Check the one error shape every failure uses and return its `error` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == ERROR_FIELDS
    assert error["code"] == code
    assert error["param"] == param
    assert isinstance(error["message"], str) and error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def csp_directives(response: httpx.Response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as directive -> sources."""
    directives: dict[str, list[str]] = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(response: httpx.Response) -> None:
    """The headers RequestMiddleware puts on every response, whatever produced it."""
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = csp_directives(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-request-id"]
