"""Rate limits: per IP (memory and Redis), per user, on auth endpoints and on payments."""

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, Request
from redis.asyncio import Redis

from avnz.deps import payments_rate_limit
from avnz.tenancy.models import Role
from tests.factories import PASSWORD
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
    # The machine's Redis (the README's setup runs one); never skipped: a missing Redis fails.
    url = os.environ.get("AVNZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
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


# --- proxies, accounts, reads ------------------------------------------------------------------


async def _wrong_logins(client: httpx.AsyncClient, email: str, times: int, **kwargs) -> list[int]:
    wrong = {"email": email, "password": "wrong-guess"}
    return [
        (await client.post(f"{API}/auth/login", json=wrong, **kwargs)).status_code
        for _ in range(times)
    ]


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(make_app, world):
    """No trusted proxies (the default): rotating X-Forwarded-For does not make new clients."""
    app = make_app(rate_limit_auth="3/minute")
    email = world.a.users[Role.CLIENT_ADMIN].email
    async with asgi_client(app) as client:
        answers = [
            (
                await client.post(
                    f"{API}/auth/login",
                    json={"email": email, "password": "wrong-guess"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                )
            ).status_code
            for n in range(4)
        ]
    assert answers == [401, 401, 401, 429]


async def test_behind_a_trusted_proxy_the_client_is_the_right_most_hop_it_did_not_write(
    make_app,
):
    app = make_app(rate_limit_ip="2/minute", trusted_proxies=["10.0.0.0/8"])

    @app.get(f"{API}/_test/ip")
    async def ip(request: Request) -> dict[str, str | None]:
        return {"ip": request.client.host if request.client else None}

    async with asgi_client(app, ip="10.1.2.3") as proxied, asgi_client(app) as direct:
        forged = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 10.9.9.9"}
        seen = await proxied.get(f"{API}/_test/ip", headers=forged)
        assert seen.json() == {"ip": "203.0.113.9"}  # the left-most was the client's to write
        same = {"X-Forwarded-For": "203.0.113.9"}
        assert (await proxied.get(f"{API}/_test/ip", headers=same)).status_code == 200
        assert_rate_limited(
            await proxied.get(f"{API}/_test/ip", headers={"X-Forwarded-For": "203.0.113.9"})
        )
        other = await proxied.get(f"{API}/_test/ip", headers={"X-Forwarded-For": "203.0.113.10"})
        assert other.json() == {"ip": "203.0.113.10"}
        # A peer that is not a trusted proxy speaks for itself, whatever it sends.
        spoofed = await direct.get(f"{API}/_test/ip", headers={"X-Forwarded-For": "203.0.113.11"})
        assert spoofed.json() == {"ip": "127.0.0.1"}


async def test_failed_logins_lock_the_account_with_backoff_from_any_address(make_app, world):
    app = make_app(login_free_attempts=3, login_backoff_base_seconds=60)
    user = world.a.users[Role.CLIENT_ADMIN]
    async with (
        asgi_client(app, ip="198.51.100.1") as one,
        asgi_client(app, ip="198.51.100.2") as two,
    ):
        assert await _wrong_logins(one, user.email, 2) == [401, 401]
        assert await _wrong_logins(two, user.email, 1) == [401]  # the third: the lock starts
        right = {"email": user.email, "password": PASSWORD}
        locked = await one.post(f"{API}/auth/login", json=right)
        assert_rate_limited(locked)  # even the right password waits: guessing gains nothing
        assert 55 <= int(locked.headers["retry-after"]) <= 60
        # Another account, from the same address, is not affected.
        other = world.a.users[Role.CLIENT_USER]
        ok = await one.post(f"{API}/auth/login", json={"email": other.email, "password": PASSWORD})
        assert ok.status_code == 200
        # An address that never existed as an account locks the same way: nothing to enumerate.
        assert await _wrong_logins(two, "nobody@example.com", 4) == [401, 401, 401, 429]


async def test_payment_reads_and_payment_creation_have_separate_limits(make_app, world):
    app = make_app(rate_limit_payments="2/minute", rate_limit_payment_reads="5/minute")
    admin = world.headers(Role.COMPANY_ADMIN)
    body = {"amount": 1999, "currency": "USD", "token": "tok_missing"}
    async with asgi_client(app) as client:
        for _ in range(2):
            created = await client.post(f"{API}/payments", json=body, headers=admin)
            assert created.status_code != 429, created.text
        assert_rate_limited(await client.post(f"{API}/payments", json=body, headers=admin))
        # Creation is spent; reading is not.
        assert [
            (await client.get(f"{API}/payments", headers=admin)).status_code for _ in range(5)
        ] == [200] * 5
        assert_rate_limited(await client.get(f"{API}/payments", headers=admin))
