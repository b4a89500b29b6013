"""Rate limits: per IP (memory and Redis), per user, on auth endpoints and on payments."""

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends
from redis.asyncio import Redis

from avnz.deps import payments_rate_limit
from avnz.tenancy.models import Role
from tests.security.helpers import API, asgi_client, assert_error

LIMITED_PATH = f"{API}/auth/me"  # any API route counts; unauthenticated calls are 401s


async def hit(
    client: httpx.AsyncClient, times: int, path: str = LIMITED_PATH, **kwargs
) -> list[int]:
    return [(await client.get(path, **kwargs)).status_code for _ in range(times)]


def assert_rate_limited(response: httpx.Response) -> None:
    error = assert_error(response, 429, "rate_limited")
    assert error["type"] == "rate_limit_error"
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_ip_limit_answers_429_with_retry_after_and_error_shape(make_app):
    app = make_app(rate_limit_ip="5/minute")
    async with asgi_client(app) as client, asgi_client(app, ip="10.9.8.7") as other_ip:
        assert await hit(client, 5) == [401] * 5
        assert_rate_limited(await client.get(LIMITED_PATH))
        assert await hit(other_ip, 1) == [401]


async def test_health_endpoints_are_not_limited(make_app):
    app = make_app(rate_limit_ip="2/minute")
    async with asgi_client(app) as client:
        await hit(client, 3)
        assert (await client.get(LIMITED_PATH)).status_code == 429
        for path in ("/health", "/health/live", "/health/ready", "/.well-known/jwks.json"):
            assert await hit(client, 3, path) == [200] * 3


async def test_user_limit_counts_per_authenticated_user(make_app, world):
    app = make_app(rate_limit_user="3/minute")
    admin, other = world.headers(Role.CLIENT_ADMIN), world.headers(Role.CLIENT_USER)
    async with asgi_client(app) as client:
        assert await hit(client, 3, headers=admin) == [200] * 3
        assert_rate_limited(await client.get(LIMITED_PATH, headers=admin))
        # Same IP, another user: the limit is the user's, not the address's.
        assert await hit(client, 1, headers=other) == [200]


async def test_login_is_limited_per_ip(make_app, world):
    app = make_app(rate_limit_auth="3/minute")
    credentials = {"email": world.a.users[Role.CLIENT_ADMIN].email, "password": "wrong-guess-1"}
    async with asgi_client(app) as client:
        for _ in range(3):
            response = await client.post(f"{API}/auth/login", json=credentials)
            assert_error(response, 401, "invalid_credentials")
        assert_rate_limited(await client.post(f"{API}/auth/login", json=credentials))
        # The auth limit guards the auth endpoints only.
        me = await client.get(LIMITED_PATH, headers=world.headers(Role.CLIENT_ADMIN))
        assert me.status_code == 200


async def test_payments_limit_counts_per_caller(make_app, world):
    app = make_app(rate_limit_payments="2/minute")

    @app.post(f"{API}/_test/payments", dependencies=[Depends(payments_rate_limit)])
    async def pay() -> dict[str, str]:
        return {"status": "accepted"}

    path = f"{API}/_test/payments"
    admin, other = world.headers(Role.CLIENT_ADMIN), world.headers(Role.COMPANY_ADMIN)
    async with asgi_client(app) as client:
        for _ in range(2):
            assert (await client.post(path, headers=admin)).json() == {"status": "accepted"}
        assert_rate_limited(await client.post(path, headers=admin))
        assert (await client.post(path, headers=other)).status_code == 200
        assert (await client.get(LIMITED_PATH, headers=admin)).status_code == 200
        assert_error(await client.post(path), 401, "missing_credentials")


# --- Redis storage ----------------------------------------------------------------------------


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    url = os.environ.get("AVNZ_TEST_REDIS_URL")
    if not url:
        pytest.skip("AVNZ_TEST_REDIS_URL is not set (CI uses redis://127.0.0.1:6379/15)")
    redis = Redis.from_url(url)
    await redis.flushdb()
    try:
        yield url
    finally:
        await redis.flushdb()
        await redis.aclose()


async def test_redis_ip_limit_answers_429(make_app, redis_url):
    app = make_app(redis_url=redis_url, rate_limit_ip="5/minute")
    async with asgi_client(app) as client:
        assert await hit(client, 5) == [401] * 5
        assert_rate_limited(await client.get(LIMITED_PATH))
        ready = await client.get("/health/ready")
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_app_instances_sharing_redis_share_the_count(make_app, redis_url):
    first = make_app(redis_url=redis_url, rate_limit_ip="5/minute")
    second = make_app(redis_url=redis_url, rate_limit_ip="5/minute")
    assert first.state.runtime is not second.state.runtime
    async with asgi_client(first) as one, asgi_client(second) as two:
        assert await hit(one, 3) == [401] * 3
        assert await hit(two, 2) == [401] * 2
        assert_rate_limited(await two.get(LIMITED_PATH))
        assert_rate_limited(await one.get(LIMITED_PATH))
