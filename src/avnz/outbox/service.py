"""Emit a domain event: an outbox row in the caller's transaction, the bus after the commit.

`emit` adds the event to the caller's session, so it commits or vanishes with the change it
describes; a worker job (`webhooks.fan_out`) later turns each committed event into deliveries
to the merchant's webhook endpoints, and the in-process bus (`avnz.core.events.bus`) hears of it
once the caller commits.
"""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.events import Event, bus, catalogue
from avnz.core.ids import new_id
from avnz.db.engine import after_commit
from avnz.outbox.models import OutboxEvent


def emit(
    session: AsyncSession,
    name: str,
    *,
    organization_id: str,
    client_id: str | None,
    company_id: str | None,
    payload: dict[str, Any],
    fan_out: bool = True,
    livemode: bool = False,
) -> Event:
    """Add event `name` to the outbox in `session`'s transaction; the bus hears of it after
    the commit. `payload` must be JSON-ready (dump Pydantic models with mode="json").
    `fan_out=False`: no endpoint gets it by subscription (the caller makes its own deliveries,
    as a test event for one endpoint does). `livemode`: the mode of what the event is about
    (a live payment's events reach only live endpoints); test unless said."""
    if name not in catalogue():
        raise ValueError(f"unknown event {name!r}: declare it in its domain's events.py")
    row = OutboxEvent(
        id=new_id("evt"),
        name=name,
        organization_id=organization_id,
        client_id=client_id,
        company_id=company_id,
        livemode=livemode,
        payload=payload,
        created_at=clock.now(),
        dispatched_at=None if fan_out else clock.now(),
    )
    session.add(row)
    event = _to_event(row)
    after_commit(session, lambda: bus.publish(event))
    return event


def _to_event(row: OutboxEvent) -> Event:
    """The in-memory event of an outbox row."""
    return Event(
        id=row.id,
        name=row.name,
        organization_id=row.organization_id,
        client_id=row.client_id,
        company_id=row.company_id,
        payload=row.payload,
        created_at=row.created_at,
        livemode=row.livemode,
    )


_UNAUDITED = (
    select(OutboxEvent)
    .where(OutboxEvent.audited_at.is_(None))
    .order_by(OutboxEvent.created_at, OutboxEvent.id)
    .with_for_update(skip_locked=True)
)


async def take_for_audit(session: AsyncSession, limit: int) -> list[Event]:
    """Up to `limit` events the audit log has not taken yet, oldest first, marked taken in
    `session`'s transaction: each event is taken once, whatever commits with it (PostgreSQL:
    `FOR UPDATE SKIP LOCKED` lets several workers take batches side by side)."""
    rows = (await session.scalars(_UNAUDITED.limit(limit))).all()
    if rows:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([row.id for row in rows]))
            .values(audited_at=clock.now())
        )
    return [_to_event(row) for row in rows]
