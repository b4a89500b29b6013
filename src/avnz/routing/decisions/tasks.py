"""The worker's routing jobs: the periodic account health check."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.gateways.base import Timeouts
from avnz.jobs.service import Handler
from avnz.routing.accounts import health

if TYPE_CHECKING:
    from avnz.runtime import Runtime

CHECK_EVERY = timedelta(minutes=5)
RECURRING = ["routing.health_check"]


def handlers(runtime: "Runtime", *, money: health.MoneyWindows) -> dict[str, Handler]:
    """The handlers; `money` reads what the accounts' payments moved (the payments domain's)."""

    async def health_check(_session: AsyncSession, _payload: dict[str, Any]) -> datetime:
        # Gateway calls go out with no transaction open; the job's session stays unused.
        settings = runtime.settings
        await health.check_accounts(
            runtime.sessions,
            runtime.keyring,
            runtime.http,
            timeouts=Timeouts(
                connect=settings.gateway_connect_timeout_seconds,
                read=settings.gateway_read_timeout_seconds,
            ),
            suspend_below=settings.health_suspend_below,
            money=money,
        )
        return clock.now() + CHECK_EVERY

    return {"routing.health_check": health_check}
