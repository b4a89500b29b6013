"""Rate limits through the `limits` library: in memory by default, Redis when configured.

With Redis configured, every check goes through the process's `RedisLink`: one round trip to
Redis while it answers, the in-process window the moment it does not (slow or down), so a
limit never makes a request wait longer than the link's timeout. The in-process windows count
this process only: during an outage each process grants the whole limit.
"""

import hashlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from avnz.core.errors import RateLimited, Unauthenticated
from avnz.security.redis_link import RedisLink

T = TypeVar("T")
# Past this many accounts with failures in memory, those not locked are forgotten (a flood of
# made-up emails must not grow the process without bound).
_LOCAL_ACCOUNTS = 100_000


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    item: RateLimitItem


class RateLimiter:
    def __init__(self, link: RedisLink | None = None) -> None:
        self.link = link
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared = (
            MovingWindowRateLimiter(
                RedisStorage(
                    "async+redis://",  # the connection comes from the link's pool
                    implementation="redispy",
                    connection_pool=link.pool,  # type: ignore[arg-type]
                )
            )
            if link is not None
            else None
        )

    async def check(self, limit: Limit, identity: str) -> None:
        """Count one hit against `identity`; raise RateLimited (429 + Retry-After) when over."""
        if self.link is None or self._shared is None:
            wait = await _hit(self._local, limit, identity)
        else:
            shared = self._shared
            wait = await self.link.call(
                lambda: _hit(shared, limit, identity), lambda: _hit(self._local, limit, identity)
            )
        if wait is not None:
            raise RateLimited(
                f"Too many requests; limit is {limit.item}. Retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )


async def _hit(strategy: MovingWindowRateLimiter, limit: Limit, identity: str) -> int | None:
    """None when the hit is counted; else how many seconds until the window lets one in."""
    if await strategy.hit(limit.item, limit.name, identity):
        return None
    stats = await strategy.get_window_stats(limit.item, limit.name, identity)
    return max(1, math.ceil(stats.reset_time - time.time()))


def limit(name: str, spec: str) -> Limit:
    return Limit(name=name, item=parse(spec))


# --- failed sign-ins per account ----------------------------------------------------------------

# One Redis round trip per failure: count it, and from the `free`-th on lock the account's
# sign-in for base * 2^(failures - free) seconds (capped); the count is forgotten `memory`
# seconds after the last failure.
_FAIL = """
local n = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free, base = tonumber(ARGV[1]), tonumber(ARGV[2])
local cap, now = tonumber(ARGV[3]), tonumber(ARGV[4])
if n >= free then
  redis.call('HSET', KEYS[1], 'until', tostring(now + math.min(cap, base * 2 ^ (n - free))))
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return n
"""


@dataclass
class _Account:
    failures: int = 0
    until: float = 0.0
    last: float = 0.0


class LoginBackoff:
    """A per-account limit on password sign-ins, beside the per-IP one: after `free` failures in
    a row, each further failure doubles the wait before the next attempt (from `base` seconds up
    to `cap`); a success clears it. Keyed by the email as typed (hashed), whether or not such a
    user exists, so the answer tells nothing about which accounts exist. While locked, the
    password is not even checked."""

    def __init__(
        self,
        link: RedisLink | None,
        *,
        free: int,
        base_seconds: float,
        cap_seconds: float,
        memory_seconds: int = 86_400,
    ) -> None:
        self.link = link
        self.free, self.base, self.cap, self.memory = (
            free,
            base_seconds,
            cap_seconds,
            memory_seconds,
        )
        self._local: dict[str, _Account] = {}
        self._fail = link.client.register_script(_FAIL) if link is not None else None

    @asynccontextmanager
    async def attempt(self, email: str) -> AsyncIterator[None]:
        """Refuse (429) while the account is locked; count the block's Unauthenticated as a
        failure, its success as the end of the series."""
        key = "avnz:login:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()
        wait = await self._locked_for(key)
        if wait is not None:
            raise RateLimited(
                f"Too many failed sign-ins for this account. Retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        try:
            yield
        except Unauthenticated:
            await self._failed(key)
            raise
        await self._succeeded(key)

    async def _locked_for(self, key: str) -> int | None:
        async def shared() -> float:
            assert self.link is not None
            value = await self.link.client.hget(key, "until")
            return float(value) if value is not None else 0.0

        async def local() -> float:
            account = self._local.get(key)
            return account.until if account is not None else 0.0

        until = await self._either(shared, local)
        remaining = until - time.time()
        return max(1, math.ceil(remaining)) if remaining > 0 else None

    async def _failed(self, key: str) -> None:
        now = time.time()

        async def shared() -> None:
            assert self._fail is not None
            await self._fail(keys=[key], args=[self.free, self.base, self.cap, now, self.memory])

        async def local() -> None:
            account = self._account(key)
            account.failures += 1
            account.last = now
            if account.failures >= self.free:
                wait = min(self.cap, self.base * 2 ** (account.failures - self.free))
                account.until = now + wait

        await self._either(shared, local)

    async def _succeeded(self, key: str) -> None:
        async def shared() -> None:
            assert self.link is not None
            await self.link.client.delete(key)

        async def local() -> None:
            self._local.pop(key, None)

        await self._either(shared, local)

    async def _either(
        self, shared: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        if self.link is None:
            return await local()
        return await self.link.call(shared, local)

    def _account(self, key: str) -> _Account:
        now = time.time()
        account = self._local.get(key)
        if account is None or now - account.last > self.memory:
            if len(self._local) >= _LOCAL_ACCOUNTS:
                self._local = {k: a for k, a in self._local.items() if a.until > now}
            account = self._local[key] = _Account()
        return account
