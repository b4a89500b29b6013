"""Redis optional at run time, in process against a real Redis: the link turns degraded when
Redis goes away and back when it returns (one log line per transition), and the per-account
login backoff doubles its wait the same way in Redis and in memory."""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from io import StringIO

import pytest
from redis.asyncio import Redis

from avnz.core.errors import RateLimited, Unauthenticated
from avnz.routing.decisions import service as decisions
from avnz.routing.strategies.turns import LocalCounter
from avnz.runtime import SharedCounter
from avnz.security.ratelimit import LoginBackoff
from avnz.security.redis_link import RedisLink
from tests.reliability.support import proxy_to
from tests.security.helpers import asgi_client

# Its own database number: the older Redis tests flush 15.
REDIS_URL = os.environ.get("AVNZ_TEST_REDIS_FALLBACK_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
async def redis_link() -> AsyncIterator[RedisLink]:
    link = RedisLink(REDIS_URL, connect_timeout=1, timeout=1, max_connections=5, retry_seconds=0.2)
    await link.client.flushdb()
    try:
        yield link
    finally:
        await link.client.flushdb()
        await link.close()


async def test_redis_that_goes_away_and_comes_back_is_used_again(make_app, captured_logs: StringIO):
    with proxy_to("127.0.0.1", 6379) as proxy:
        app = make_app(
            redis_url=f"redis://{proxy.address}/14",
            redis_timeout_seconds=0.3,
            redis_retry_seconds=0.2,
            rate_limit_ip="5/minute",
        )
        link = app.state.runtime.redis
        async with asgi_client(app) as client:
            assert (await client.get("/health/ready")).json()["status"] == "ok"
            assert (await client.get("/api/v1/auth/me")).status_code == 401
            assert await link.client.keys("LIMITS*"), "the IP limit was not counted in Redis"
            proxy.stop()  # refuses new connections, resets the open ones
            started = time.monotonic()
            assert (await client.get("/api/v1/auth/me")).status_code == 401  # answered anyway
            assert time.monotonic() - started < 1.5
            ready = (await client.get("/health/ready")).json()
            assert ready["status"] == "degraded" and ready["checks"]["database"] == "ok"
            proxy.start()
            deadline = time.monotonic() + 5
            while (await client.get("/health/ready")).json()["status"] != "ok":
                assert time.monotonic() < deadline, "Redis came back but is not used again"
                await asyncio.sleep(0.1)
            assert link.degraded is None
            await link.client.flushdb()
        decisions.use_turn_counter(LocalCounter())  # not this app's link, now closed
    logged = captured_logs.getvalue()
    assert logged.count("redis_unavailable") == 1 and logged.count("redis_available") == 1


@pytest.mark.parametrize("where", ["redis", "memory"])
async def test_each_failed_login_past_the_free_ones_doubles_the_wait(redis_link, where):
    backoff = LoginBackoff(
        redis_link if where == "redis" else None, free=2, base_seconds=10, cap_seconds=35
    )
    key = "avnz:login:test"

    async def fail() -> None:
        await backoff._failed(key)

    await fail()
    assert await backoff._locked_for(key) is None  # one failure is free
    waits = []
    for _ in range(4):
        await fail()
        waits.append(await backoff._locked_for(key))
    assert waits == [10, 20, 35, 35]  # base, doubled, then the cap
    await backoff._succeeded(key)
    assert await backoff._locked_for(key) is None


async def test_a_locked_account_is_refused_before_its_password_is_checked(redis_link):
    backoff = LoginBackoff(redis_link, free=1, base_seconds=30, cap_seconds=60)
    with pytest.raises(Unauthenticated):
        async with backoff.attempt("Someone@Example.com"):
            raise Unauthenticated("Email or password is incorrect.")
    checked = False
    with pytest.raises(RateLimited) as refused:
        async with backoff.attempt("someone@example.com "):  # the same account, as typed
            checked = True
    assert not checked and 25 <= int(refused.value.headers["Retry-After"]) <= 30
    reader = Redis.from_url(REDIS_URL)
    stored = await reader.keys("avnz:login:*")
    await reader.aclose()
    assert len(stored) == 1 and b"someone" not in stored[0]  # hashed, not the email


async def test_processes_share_one_turn_sequence_through_redis(redis_link: RedisLink) -> None:
    """Two processes' counters on one Redis: one sequence per pool, one INCR per turn."""
    first, second = SharedCounter(redis_link), SharedCounter(redis_link)
    turns = [await counter.next("pool_a") for counter in (first, second, first, second)]
    assert turns == [0, 1, 2, 3]
    assert await second.next("pool_b") == 0
    assert int(await redis_link.client.get("avnz:rr:pool_a")) == 4
