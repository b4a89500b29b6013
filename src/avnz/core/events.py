"""Domain events in memory: the event record, the catalogue of names, the in-process bus.

Pure: no table, no session. `avnz.outbox` writes an event in the caller's transaction and hands
it to `bus` after the commit, so subscribers are called only for committed changes, in the
process that made the change; a subscriber's failure is logged and never undoes or delays the
change.

Names are lower-case dotted, as the seed writes them (`payment.succeeded`, `churn.risk.high`).
A name must be declared: each domain lists its events in its own `events.py` (gathered by
`avnz.domains.load()`), so webhook endpoints can subscribe to them by name.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# Event names with what each means (shown to merchants choosing webhook events).
_catalogue: dict[str, str] = {}


def declare(events: Mapping[str, str]) -> None:
    """Add a domain's events to the catalogue; a name keeps the one meaning it was declared with."""
    for name, meaning in events.items():
        if _catalogue.setdefault(name, meaning) != meaning:
            raise ValueError(f"event {name!r} is declared twice with different meanings")


def catalogue() -> Mapping[str, str]:
    """Every declared event name with its meaning (read-only)."""
    return MappingProxyType(_catalogue)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    name: str
    organization_id: str
    client_id: str | None
    company_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    livemode: bool = False  # about a live object (test otherwise)


Subscriber = Callable[[Event], Awaitable[None] | None]


def matches(pattern: str, name: str) -> bool:
    """`*` matches every event, `payment.*` every payment event, anything else itself."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def known_pattern(pattern: str) -> bool:
    """True for `*`, a declared name, or `<prefix>.*` covering at least one of them."""
    if pattern == "*" or pattern in _catalogue:
        return True
    return pattern.endswith(".*") and any(matches(pattern, name) for name in _catalogue)


class Bus:
    """In-process publish/subscribe. Async subscribers run as tasks; errors are logged."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Subscriber]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, pattern: str, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` for every committed event matching `pattern`; returns the undo."""
        entry = (pattern, subscriber)
        self._subscribers.append(entry)
        return lambda: self._subscribers.remove(entry)

    def publish(self, event: Event) -> None:
        for pattern, subscriber in list(self._subscribers):
            if matches(pattern, event.name):
                self._call(subscriber, event)

    def _call(self, subscriber: Subscriber, event: Event) -> None:
        try:
            result = subscriber(event)
        except Exception:
            log.exception("event_subscriber_failed", event_name=event.name, event_id=event.id)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await(result, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _await(self, result: Awaitable[None], event: Event) -> None:
        try:
            await result
        except Exception:
            log.exception("event_subscriber_failed", event_name=event.name, event_id=event.id)


bus = Bus()
