"""The worker's audit job: record the payment path's events in the audit log."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit.payment_events import BATCH, audit_payment_events
from avnz.core import clock

POLL = timedelta(seconds=1)


async def payment_events(session: AsyncSession, _payload: dict[str, Any]) -> datetime:
    """One batch now, the next at once while there is more."""
    taken = await audit_payment_events(session)
    return clock.now() if taken >= BATCH else clock.now() + POLL


HANDLERS = {"audit.payment_events": payment_events}
RECURRING = ["audit.payment_events"]
