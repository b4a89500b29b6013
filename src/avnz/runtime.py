"""Everything a running process shares: settings, database, keys, HTTP client, limiters."""

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from avnz.auth.oidc import JwksCache, OidcSettings
from avnz.auth.scope import Principal
from avnz.auth.service import Authenticator
from avnz.auth.tokens import Keyset
from avnz.config import Settings
from avnz.core.cache import TtlCache
from avnz.db.engine import WriteTurns, create_engine, session_factory
from avnz.integrations import identity
from avnz.routing import selection
from avnz.routing.strategies.turns import RedisCounter
from avnz.rules.cache import RuleCache
from avnz.rules.simulation import PaymentHistory
from avnz.security.keyring import Keyring
from avnz.security.ratelimit import Limit, RateLimiter, limit


@dataclass(frozen=True, slots=True)
class Limits:
    ip: Limit
    user: Limit
    payments: Limit
    auth: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            ip=limit("ip", settings.rate_limit_ip),
            user=limit("user", settings.rate_limit_user),
            payments=limit("payments", settings.rate_limit_payments),
            auth=limit("auth", settings.rate_limit_auth),
        )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keyset: Keyset
    http: httpx.AsyncClient
    jwks: JwksCache
    limiter: RateLimiter
    limits: Limits
    keyring: Keyring
    api_keys: TtlCache[str, Principal]
    oidc_configs: TtlCache[str, list[tuple[str, OidcSettings]]]
    # The payments domain's history for the rule simulator, wired by the app (`avnz.app`): the
    # runtime, which every domain's routes import, imports no domain's service.
    payment_history: PaymentHistory | None = None
    rule_cache: RuleCache = field(default_factory=RuleCache)
    write_turns: WriteTurns = field(default_factory=WriteTurns.unqueued)

    @property
    def authenticator(self) -> Authenticator:
        return Authenticator(
            keyset=self.keyset,
            settings=self.settings,
            jwks=self.jwks,
            api_key_cache=self.api_keys,
            oidc_cache=self.oidc_configs,
            load_oidc_configs=identity.oidc_configs,
        )

    @classmethod
    def build(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> "Runtime":
        engine = create_engine(settings.resolved_database_url)
        client = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))
        if settings.redis_url:
            # The pools' turn counters (round robin) shared by every process (else in process).
            selection.use_turn_counter(RedisCounter(settings.redis_url))
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            keyset=Keyset.load_or_create(settings.keys_dir),
            http=client,
            jwks=JwksCache(http=client),
            limiter=RateLimiter.from_url(settings.redis_url),
            limits=Limits.from_settings(settings),
            keyring=Keyring.from_settings(settings),
            api_keys=TtlCache(settings.api_key_cache_seconds),
            oidc_configs=TtlCache(60.0),
            write_turns=WriteTurns.for_url(settings.resolved_database_url),
        )

    async def close(self) -> None:
        await self.http.aclose()
        await self.engine.dispose()
