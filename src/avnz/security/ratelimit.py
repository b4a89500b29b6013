"""Rate limits through the `limits` library: in memory by default, Redis when configured."""

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from avnz.core.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    item: RateLimitItem


class RateLimiter:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)

    @classmethod
    def from_url(cls, redis_url: str | None) -> "RateLimiter":
        if redis_url:
            return cls(RedisStorage(redis_url.replace("redis://", "async+redis://", 1)))
        return cls(MemoryStorage())

    async def check(self, limit: Limit, identity: str) -> None:
        """Count one hit against `identity`; raise RateLimited (429 + Retry-After) when over."""
        if await self._strategy.hit(limit.item, limit.name, identity):
            return
        stats = await self._strategy.get_window_stats(limit.item, limit.name, identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"Too many requests; limit is {limit.item}. Retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def limit(name: str, spec: str) -> Limit:
    return Limit(name=name, item=parse(spec))
