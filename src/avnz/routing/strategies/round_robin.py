"""ROUND_ROBIN: the eligible accounts in failover order, one after the other. The position is a
per-pool counter: in process by default, a Redis INCR when Redis is configured, so several
processes share one rotation."""

import itertools
import random
from collections.abc import Iterator, Sequence
from typing import ClassVar, Protocol

from avnz.routing.strategies.base import Candidate, Pick, Strategy, StrategyContext


class Counter(Protocol):
    async def next(self, pool_id: str) -> int:
        """The pool's next position: 0, 1, 2, … across every caller sharing the counter."""
        ...


class LocalCounter:
    """One process's counters; exact within the process."""

    def __init__(self) -> None:
        self._counters: dict[str, Iterator[int]] = {}

    async def next(self, pool_id: str) -> int:
        counter = self._counters.get(pool_id)
        if counter is None:
            counter = self._counters[pool_id] = itertools.count()
        return next(counter)


class RedisCounter:
    """One INCR per transaction on `avnz:rr:<pool>`: atomic across processes."""

    def __init__(self, redis_url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(redis_url)

    async def next(self, pool_id: str) -> int:
        value = await self._redis.incr(f"avnz:rr:{pool_id}")
        return int(value) - 1


class RoundRobin(Strategy):
    name: ClassVar[str] = "round_robin"
    label: ClassVar[str] = "Round robin"
    needs_position: ClassVar[bool] = True

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        ordered = sorted(candidates, key=lambda c: c.order)
        return Pick(ordered[context.position % len(ordered)], 1.0)


STRATEGY = RoundRobin()
