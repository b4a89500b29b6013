"""What the payment path needs from its process: sessions, the keyring, the shared HTTP
client, the timeouts every connector gets, and this process's caches (compiled rules, charge
configurations). One is built per request from the process's runtime (`PaymentRuntime.of`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.db.engine import WriteTurns
from avnz.gateways import registry
from avnz.gateways.base import (
    Connector,
    Timeouts,
)
from avnz.payments import configs
from avnz.payments.configs import ConfigCache
from avnz.routing.accounts import service as accounts
from avnz.routing.accounts.models import MerchantAccount
from avnz.rules.cache import RuleCache
from avnz.security.keyring import Keyring

if TYPE_CHECKING:
    from avnz.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PaymentRuntime:
    """What a gateway call needs from the process: sessions, the keyring, the shared client and
    the timeouts every connector gets."""

    sessions: async_sessionmaker[AsyncSession]
    keyring: Keyring
    http: httpx.AsyncClient
    timeouts: Timeouts = field(default_factory=Timeouts)
    rules: RuleCache = field(default_factory=RuleCache)
    write_turns: WriteTurns = field(default_factory=WriteTurns.unqueued)
    configs: ConfigCache = field(default_factory=ConfigCache)

    @classmethod
    def of(cls, runtime: "Runtime") -> "PaymentRuntime":
        settings = runtime.settings
        timeouts = Timeouts(
            connect=settings.gateway_connect_timeout_seconds,
            read=settings.gateway_read_timeout_seconds,
        )
        return cls(
            runtime.sessions,
            runtime.keyring,
            runtime.http,
            timeouts,
            runtime.rule_cache,
            runtime.write_turns,
            configs.cache_for(runtime.sessions),
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction of the payment path, in its turn (`WriteTurns`)."""
        async with self.write_turns.turn(), self.sessions.begin() as session:
            yield session

    async def connector(self, session: AsyncSession, account: MerchantAccount) -> Connector:
        config = await accounts.connector_config(session, self.keyring, account)
        config = replace(config, timeouts=self.timeouts)
        return registry.connector(account.provider_type, config, self.http)
