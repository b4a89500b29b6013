"""Each pool's turn counter: the position a strategy that `needs_position` reads (ROUND_ROBIN).

In process by default (exact within the process); with Redis configured, the runtime shares
them through one INCR per payment (`avnz.runtime.SharedCounter`), so several processes share
one sequence. Selection advances it only for a
strategy that asks, so the others pay nothing for it.
"""

import itertools
from collections.abc import Iterator
from typing import Protocol


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
