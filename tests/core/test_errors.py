"""Every failure, from a missing route to a missing database, answers in the one error shape."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from avnz.app import create_app
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.conftest import make_settings
from tests.security.helpers import API, asgi_client, assert_error, assert_security_headers

# A PostgreSQL URL where nothing listens: connecting fails at once with "connection refused".
UNREACHABLE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/avnz"


@pytest.mark.parametrize(
    ("method", "path", "status", "type_", "code"),
    [
        ("GET", f"{API}/no-such-route", 404, "not_found_error", "route_not_found"),
        ("GET", "/nowhere", 404, "not_found_error", "route_not_found"),
        ("DELETE", "/health/live", 405, "invalid_request_error", "method_not_allowed"),
        ("PUT", f"{API}/auth/login", 405, "invalid_request_error", "method_not_allowed"),
        ("GET", f"{API}/auth/me", 401, "authentication_error", "missing_credentials"),
    ],
)
async def test_routing_and_auth_errors_have_the_error_shape(
    client, method, path, status, type_, code
):
    response = await client.request(method, path)
    assert assert_error(response, status, code)["type"] == type_


async def test_method_not_allowed_lists_the_allowed_methods(client):
    response = await client.delete("/health/live")
    assert "GET" in response.headers["allow"]


async def test_missing_credentials_ask_for_a_bearer_token(client):
    response = await client.get(f"{API}/auth/me")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_permission_and_missing_resource_errors(client, world):
    denied = await client.get(f"{API}/organizations", headers=world.headers(Role.CLIENT_USER))
    assert assert_error(denied, 403, "permission_denied")["type"] == "permission_error"
    missing = await client.get(
        f"{API}/departments/dep_missing", headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert assert_error(missing, 404, "resource_missing", param="id")["type"] == "not_found_error"


async def test_unexpected_error_is_a_500_that_reveals_nothing(runtime):
    app = create_app(runtime=runtime)

    @app.get("/_test/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail 4111111111111111")

    async with asgi_client(app) as client:
        response = await client.get("/_test/boom", headers={"X-Request-ID": "trace-500"})
    error = assert_error(response, 500, "internal_error")
    assert error["type"] == "api_error"
    assert error["request_id"] == "trace-500"
    assert "secret detail" not in response.text
    assert "4111111111111111" not in response.text
    assert_security_headers(response)


# --- database unavailable ---------------------------------------------------------------------


@pytest.fixture
async def offline_runtime(tmp_path) -> AsyncIterator[Runtime]:
    """A runtime whose database cannot be reached. Built by hand: create_app only checks the
    database in its lifespan, which ASGITransport does not run."""
    runtime = Runtime.build(make_settings(tmp_path, database_url=UNREACHABLE_DATABASE))
    try:
        yield runtime
    finally:
        await runtime.close()


def access_token(runtime: Runtime) -> str:
    return runtime.keyset.issue_access_token(
        issuer=runtime.settings.token_issuer,
        subject="usr_01jd0000000000000000000000",
        session_id="ses_01jd0000000000000000000000",
        ttl=timedelta(minutes=5),
        claims={"role": Role.CLIENT_ADMIN.value, "org": "org_01jd0000000000000000000000"},
    )


async def test_readiness_is_503_without_database(offline_runtime):
    async with asgi_client(create_app(runtime=offline_runtime)) as client:
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["checks"]["database"].startswith("error:")
    assert live.status_code == 200  # the process itself is fine


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{API}/auth/me", None),
        ("GET", f"{API}/departments", None),
        ("POST", f"{API}/auth/login", {"email": "a@example.com", "password": "whatever-1"}),
    ],
)
async def test_api_call_is_503_database_unavailable(offline_runtime, method, path, body):
    headers = {"Authorization": f"Bearer {access_token(offline_runtime)}"}
    async with asgi_client(create_app(runtime=offline_runtime)) as client:
        response = await client.request(method, path, json=body, headers=headers)
    error = assert_error(response, 503, "database_unavailable")
    assert error["type"] == "api_error"
    assert response.headers["retry-after"] == "5"
