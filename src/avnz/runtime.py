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
from avnz.routing.decisions import service as decisions
from avnz.routing.strategies.turns import LocalCounter
from avnz.rules.cache import RuleCache
from avnz.rules.simulation import PaymentHistory
from avnz.security import redis_link
from avnz.security.keyring import Keyring
from avnz.security.ratelimit import Limit, LoginBackoff, RateLimiter, limit
from avnz.security.redis_link import RedisLink


@dataclass(frozen=True, slots=True)
class Limits:
    ip: Limit
    user: Limit
    payments: Limit
    payment_reads: Limit
    auth: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            ip=limit("ip", settings.rate_limit_ip),
            user=limit("user", settings.rate_limit_user),
            payments=limit("payments", settings.rate_limit_payments),
            payment_reads=limit("payment_reads", settings.rate_limit_payment_reads),
            auth=limit("auth", settings.rate_limit_auth),
        )


class SharedCounter:
    """Round-robin positions shared by every process through one Redis INCR per transaction,
    in process while Redis is degraded (the rotation restarts; nothing else is lost)."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._local = LocalCounter()

    async def next(self, pool_id: str) -> int:
        async def shared() -> int:
            return int(await self._link.client.incr(f"avnz:rr:{pool_id}")) - 1

        return await self._link.call(shared, lambda: self._local.next(pool_id))


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
    login_backoff: LoginBackoff
    keyring: Keyring
    api_keys: TtlCache[str, Principal]
    oidc_configs: TtlCache[str, list[tuple[str, OidcSettings]]]
    # The payments domain's history for the rule simulator, wired by the app (`avnz.app`): the
    # runtime, which every domain's routes import, imports no domain's service.
    payment_history: PaymentHistory | None = None
    rule_cache: RuleCache = field(default_factory=RuleCache)
    write_turns: WriteTurns = field(default_factory=WriteTurns.unqueued)
    redis: RedisLink | None = None

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
        engine = create_engine(
            settings.resolved_database_url,
            connect_timeout=settings.database_connect_timeout_seconds,
            statement_timeout=settings.database_statement_timeout_seconds,
            pool_timeout=settings.database_pool_timeout_seconds,
        )
        client = http or httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
            ),
            limits=httpx.Limits(max_connections=settings.http_max_connections),
        )
        link = redis_link.build(settings)
        if link is not None:
            # The pools' turn counters (round robin) shared by every process (else in process).
            decisions.use_turn_counter(SharedCounter(link))
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            keyset=Keyset.load_or_create(settings.keys_dir),
            http=client,
            jwks=JwksCache(http=client),
            limiter=RateLimiter(link),
            limits=Limits.from_settings(settings),
            login_backoff=LoginBackoff(
                link,
                free=settings.login_free_attempts,
                base_seconds=settings.login_backoff_base_seconds,
                cap_seconds=settings.login_backoff_max_seconds,
            ),
            keyring=Keyring.from_settings(settings),
            api_keys=TtlCache(settings.api_key_cache_seconds),
            oidc_configs=TtlCache(60.0),
            write_turns=WriteTurns.for_url(settings.resolved_database_url),
            redis=link,
        )

    async def close(self) -> None:
        await self.http.aclose()
        if self.redis is not None:
            await self.redis.close()
        await self.engine.dispose()
