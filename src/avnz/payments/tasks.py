"""The worker's payment jobs: settle payments left in doubt, publish settled payments to
routing and rules, forget old idempotency keys."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz import idempotency
from avnz.core import clock
from avnz.jobs.service import Handler
from avnz.payments import publishing, sweep
from avnz.payments.runtime import PaymentRuntime

if TYPE_CHECKING:
    from avnz.runtime import Runtime

SWEEP_EVERY = timedelta(seconds=30)
SWEEP_BATCH = 50
RECURRING = ["payments.purge_idempotency_keys", "payments.resolve_stale", "payments.publish"]


def handlers(runtime: "Runtime") -> dict[str, Handler]:
    async def resolve_stale(_session: AsyncSession, _payload: dict[str, Any]) -> datetime:
        # Inquiries go out with no transaction open; the job's session stays unused.
        seen = await sweep.resolve_stale(PaymentRuntime.of(runtime), limit=SWEEP_BATCH)
        return clock.now() if seen >= SWEEP_BATCH else clock.now() + SWEEP_EVERY

    return {
        "payments.purge_idempotency_keys": idempotency.purge_expired,
        "payments.resolve_stale": resolve_stale,
        "payments.publish": publishing.publish_job,
    }
