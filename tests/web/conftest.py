"""Fixtures for dashboard page tests over ASGI: clients signed in as a world user by role."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from avnz.tenancy.models import Role
from avnz.web.auth import ACCESS_COOKIE
from tests.factories import World

SignIn = Callable[..., Awaitable[httpx.AsyncClient]]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a rendered page put in its forms."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


@pytest.fixture
async def signed_in(app: object, world: World) -> AsyncIterator[SignIn]:
    """`await signed_in(Role.COMPANY_USER)`: a client whose session cookie holds that world
    user's access token (as the login page would set it), one client per call."""
    clients: list[httpx.AsyncClient] = []

    async def sign_in(role: Role = Role.COMPANY_ADMIN, agency: str = "a") -> httpx.AsyncClient:
        token = world.headers(role, agency)["Authorization"].removeprefix("Bearer ")
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        client.cookies.set(ACCESS_COOKIE, token)
        clients.append(client)
        return client

    yield sign_in
    for client in clients:
        await client.aclose()
