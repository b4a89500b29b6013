"""Security headers on every response, the request id, and CORS."""

import re

import pytest

from avnz.tenancy.models import Role
from tests.security.helpers import API, asgi_client, assert_error, assert_security_headers

DASHBOARD = "https://dashboard.example.com"


@pytest.mark.parametrize(
    ("method", "path", "authenticated", "status"),
    [
        ("GET", f"{API}/auth/me", True, 200),
        ("GET", "/health/live", False, 200),
        ("GET", "/health/ready", False, 200),
        ("GET", f"{API}/no-such-route", False, 404),
        ("GET", f"{API}/auth/me", False, 401),
        ("DELETE", "/health/live", False, 405),
    ],
)
async def test_security_headers_on_every_kind_of_response(
    client, world, method, path, authenticated, status
):
    headers = world.headers(Role.CLIENT_ADMIN) if authenticated else {}
    response = await client.request(method, path, headers=headers)
    assert response.status_code == status
    assert_security_headers(response)


async def test_security_headers_on_rate_limited_response(make_app):
    async with asgi_client(make_app(rate_limit_ip="1/minute")) as client:
        await client.get(f"{API}/auth/me")
        response = await client.get(f"{API}/auth/me")
    assert response.status_code == 429
    assert_security_headers(response)


async def test_request_id_is_generated_when_absent(client):
    ids = [(await client.get("/health/live")).headers["x-request-id"] for _ in range(2)]
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", value) for value in ids)
    assert ids[0] != ids[1]


async def test_valid_request_id_is_echoed_in_header_and_error_body(client):
    sent = "client-trace.42:abc_DEF"
    response = await client.get(f"{API}/no-such-route", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent
    assert assert_error(response, 404, "route_not_found")["request_id"] == sent


@pytest.mark.parametrize("sent", ["x" * 300, "has spaces in it", "semi;colon", "<script>"])
async def test_invalid_request_id_is_replaced(client, sent):
    response = await client.get(f"{API}/auth/me", headers={"X-Request-ID": sent})
    replaced = response.headers["x-request-id"]
    assert replaced != sent
    assert replaced.startswith("req_")
    assert assert_error(response, 401, "missing_credentials")["request_id"] == replaced


async def test_request_id_in_middleware_errors_matches_header(make_app):
    async with asgi_client(make_app(rate_limit_ip="1/minute")) as client:
        await client.get(f"{API}/auth/me")
        response = await client.get(f"{API}/auth/me", headers={"X-Request-ID": "trace-429"})
    assert assert_error(response, 429, "rate_limited")["request_id"] == "trace-429"


async def test_cors_preflight_allows_the_dashboard_origin(client):
    response = await client.options(
        f"{API}/departments",
        headers={
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert "POST" in response.headers["access-control-allow-methods"]
    assert_security_headers(response)


async def test_cors_refuses_other_origins(client):
    response = await client.options(
        f"{API}/departments",
        headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    simple = await client.get("/health/live", headers={"Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_simple_request_from_dashboard_gets_allow_origin(client):
    response = await client.get("/health/live", headers={"Origin": DASHBOARD})
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
