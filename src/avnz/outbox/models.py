"""The outbox table: one row per emitted event, the work queue of the webhook fan-out."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock
from avnz.db.base import Base, id_column, livemode_column


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100), index=True)
    # No foreign keys: an event is a record of the past and outlives what it names.
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    client_id: Mapped[str | None] = mapped_column(String(40))
    company_id: Mapped[str | None] = mapped_column(String(40), index=True)
    livemode: Mapped[bool] = livemode_column()
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Set once the event was turned into webhook deliveries; NULL rows are the work queue.
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)
    # Set once the audit log has taken what it records of the event (`take_for_audit`).
    audited_at: Mapped[datetime | None] = mapped_column(index=True)
