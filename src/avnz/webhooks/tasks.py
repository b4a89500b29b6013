"""The worker's webhook jobs: fan events out to endpoints, send due deliveries, forget old ones."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.jobs.service import Handler
from avnz.webhooks import delivery

if TYPE_CHECKING:
    from avnz.runtime import Runtime

POLL = timedelta(seconds=1)
PURGE_EVERY = timedelta(hours=6)
RECURRING = ["webhooks.fan_out", "webhooks.deliver", "webhooks.purge"]


async def fan_out(session: AsyncSession, _payload: dict[str, Any]) -> datetime:
    handled = await delivery.fan_out(session)
    return clock.now() if handled >= delivery.FAN_OUT_BATCH else clock.now() + POLL


async def purge(session: AsyncSession, _payload: dict[str, Any]) -> datetime:
    await delivery.purge_old(session)
    return clock.now() + PURGE_EVERY


def handlers(runtime: "Runtime") -> dict[str, Handler]:
    async def deliver(_session: AsyncSession, _payload: dict[str, Any]) -> datetime:
        # The job's session stays unused (no transaction is begun): deliveries are sent with
        # no transaction open, between short ones of their own.
        sent = await delivery.deliver_due(runtime.sessions, runtime.keyring, runtime.http)
        return clock.now() if sent >= delivery.DELIVERY_BATCH else clock.now() + POLL

    return {"webhooks.fan_out": fan_out, "webhooks.deliver": deliver, "webhooks.purge": purge}
