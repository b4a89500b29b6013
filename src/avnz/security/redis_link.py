"""The process's one link to Redis, and whether Redis is usable right now.

Redis is optional at run time: every caller passes the in-process fallback along with the Redis
operation. While Redis answers, an operation costs its own round trip and nothing more (no ping
before it). When it fails or does not answer within `timeout` (a closed port, a listener that
never answers, a full pool), the link turns degraded: that call and every call after it use the
fallback at once, and a background probe pings Redis every `retry_seconds` until it answers
again. One warning is logged per transition; `/health/ready` reports the reason.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from avnz.config import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")

# What "Redis cannot serve this call" looks like: its own errors, a socket error, our timeout.
UNAVAILABLE = (RedisError, OSError, TimeoutError)


class RedisLink:
    """A bounded pool with connect and read timeouts, and the up/degraded state of Redis."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float,
        timeout: float,
        max_connections: int,
        retry_seconds: float,
    ) -> None:
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,  # how long a call waits for a free connection
            socket_connect_timeout=connect_timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # our fallback is the retry; never wait twice
        )
        self.client: Redis = Redis(connection_pool=self.pool)
        self.degraded: str | None = None  # the reason, while Redis is not used
        self._probe_at = 0.0
        self._probe: asyncio.Task[None] | None = None

    async def call(
        self, shared: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        """`shared()` through Redis within the timeout; `local()` while Redis is degraded or
        when this call finds it so. Never waits longer than the timeout."""
        if self.degraded is not None:
            self._maybe_probe()
            return await local()
        try:
            async with asyncio.timeout(self.timeout):
                return await shared()
        except UNAVAILABLE as exc:
            self._down(exc)
            return await local()

    async def check(self) -> str | None:
        """Ping Redis now (within the timeout) unless it was found down moments ago; returns the
        reason it is degraded, or None when it answers."""
        if self.degraded is None or time.monotonic() >= self._probe_at:
            await self._ping()
        return self.degraded

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        await self.pool.disconnect()

    def _maybe_probe(self) -> None:
        if time.monotonic() < self._probe_at or (self._probe and not self._probe.done()):
            return
        self._probe = asyncio.get_running_loop().create_task(self._ping(), name="redis-probe")

    async def _ping(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.client.ping()
        except UNAVAILABLE as exc:
            self._down(exc)
            return
        if self.degraded is not None:
            log.warning("redis_available", previously=self.degraded)
            self.degraded = None

    def _down(self, exc: BaseException) -> None:
        self._probe_at = time.monotonic() + self.retry_seconds
        if self.degraded is None:
            self.degraded = _reason(exc, self.timeout)
            log.warning("redis_unavailable", reason=self.degraded, fallback="in-process")


def _reason(exc: BaseException, timeout: float) -> str:
    """What went wrong, without the URL (it may carry a password)."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer within {timeout:g} s"
    text = str(exc).split("\n")[0][:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def build(settings: Settings) -> RedisLink | None:
    """The link for `settings.redis_url`, or None when Redis is not configured."""
    if not settings.redis_url:
        return None
    return RedisLink(
        settings.redis_url,
        connect_timeout=settings.redis_connect_timeout_seconds,
        timeout=settings.redis_timeout_seconds,
        max_connections=settings.redis_max_connections,
        retry_seconds=settings.redis_retry_seconds,
    )
