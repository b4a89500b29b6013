"""Small helpers shared by the auth tests: calling the API and reading the database."""

from typing import Any

import httpx
from sqlalchemy import Select

from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import PASSWORD, World

API = "/api/v1"
ME = f"{API}/auth/me"
ERROR_FIELDS = {"type", "code", "message", "param", "request_id"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(ME, headers=bearer(token))


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password})


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh_token})


async def tokens(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    """Log in and return the token body, failing loudly if login did not work."""
    response = await login(client, email)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is our error shape with this status and code; returns the error object."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == ERROR_FIELDS
    assert error["code"] == code
    assert error["request_id"]
    return error


def email_of(world: World, role: Role, agency: str = "a") -> str:
    if role is Role.ORGANIZATION_ADMIN:
        return world.org_admin.email
    return (world.a if agency == "a" else world.b).users[role].email


async def db_scalar(runtime: Runtime, stmt: Select[Any]) -> Any:
    """One value read in a short session of its own (a long one would hold SQLite's lock)."""
    async with runtime.sessions() as session:
        return await session.scalar(stmt)


async def db_all(runtime: Runtime, stmt: Select[Any]) -> list[Any]:
    async with runtime.sessions() as session:
        return list((await session.execute(stmt)).all())
