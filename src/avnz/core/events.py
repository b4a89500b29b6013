"""Domain events: an outbox row written in the caller's transaction, and an in-process bus.

`emit` adds the event to the caller's session, so it commits or vanishes with the change it
describes; a worker job (`webhooks.fan_out`) later turns each committed event into deliveries
to the merchant's webhook endpoints. Subscribers of the in-process bus are called only after the
commit (never for a rolled-back change), in the process that made the change; a subscriber's
failure is logged and never undoes or delays the change.

Names are lower-case dotted, as the seed writes them (`payment.succeeded`, `churn.risk.high`).
A name must be in EVENT_TYPES: a domain adds its events there when it starts emitting them, so
webhook endpoints can subscribe to them by name.
"""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import JSON, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock
from avnz.core.ids import new_id
from avnz.db.base import Base, id_column
from avnz.db.engine import after_commit

log = structlog.get_logger(__name__)

# The events avnz emits, with what they mean (shown to merchants choosing webhook events).
EVENT_TYPES: dict[str, str] = {
    "payment.authorized": "A payment was authorized; the funds are held until capture.",
    "payment.succeeded": "A sale was approved and captured.",
    "payment.failed": "A payment was declined or could not be processed.",
    "payment.captured": "An authorized payment was captured (fully or in part).",
    "payment.voided": "An authorized payment was voided before capture.",
    "payment.refunded": "A captured payment was refunded (fully or in part).",
    "payment.blocked": "A routing rule refused a payment before it reached a gateway.",
    "payment.review_required": "A routing rule flagged a payment for review.",
    "webhook.test": "A test event sent from the API or the dashboard.",
    "routing.rule.notification": "A routing rule that matched a payment sends a notification.",
}


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100), index=True)
    # No foreign keys: an event is a record of the past and outlives what it names.
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    client_id: Mapped[str | None] = mapped_column(String(40))
    company_id: Mapped[str | None] = mapped_column(String(40), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Set once the event was turned into webhook deliveries; NULL rows are the work queue.
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    name: str
    organization_id: str
    client_id: str | None
    company_id: str | None
    payload: dict[str, Any]
    created_at: datetime


Subscriber = Callable[[Event], Awaitable[None] | None]


def matches(pattern: str, name: str) -> bool:
    """`*` matches every event, `payment.*` every payment event, anything else itself."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def known_pattern(pattern: str) -> bool:
    """True for `*`, a name in EVENT_TYPES, or `<prefix>.*` covering at least one of them."""
    if pattern == "*" or pattern in EVENT_TYPES:
        return True
    return pattern.endswith(".*") and any(matches(pattern, name) for name in EVENT_TYPES)


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


def emit(
    session: AsyncSession,
    name: str,
    *,
    organization_id: str,
    client_id: str | None,
    company_id: str | None,
    payload: dict[str, Any],
    fan_out: bool = True,
) -> Event:
    """Add event `name` to the outbox in `session`'s transaction; the bus hears of it after
    the commit. `payload` must be JSON-ready (dump Pydantic models with mode="json").
    `fan_out=False`: no endpoint gets it by subscription (the caller makes its own deliveries,
    as a test event for one endpoint does)."""
    if name not in EVENT_TYPES:
        raise ValueError(f"unknown event {name!r}: add it to avnz.core.events.EVENT_TYPES")
    row = OutboxEvent(
        id=new_id("evt"),
        name=name,
        organization_id=organization_id,
        client_id=client_id,
        company_id=company_id,
        payload=payload,
        created_at=clock.now(),
        dispatched_at=None if fan_out else clock.now(),
    )
    session.add(row)
    event = to_event(row)
    after_commit(session, lambda: bus.publish(event))
    return event


def to_event(row: OutboxEvent) -> Event:
    return Event(
        id=row.id,
        name=row.name,
        organization_id=row.organization_id,
        client_id=row.client_id,
        company_id=row.company_id,
        payload=row.payload,
        created_at=row.created_at,
    )
