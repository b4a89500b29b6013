"""Account health: the periodic check of every active account, and the cheap per-attempt
update the payment path makes.

`check_accounts` (the worker job `routing.health_check`, every 5 minutes):

1. one short transaction reads the active accounts and builds their connector configs;
2. every account's gateway is asked `verify()` with no transaction open;
3. one short transaction computes the last 24 hours of each account's attempts (routing's own
   records) in ONE aggregate query, with the money they moved from the payments domain
   (`MoneyWindows`, given by whoever runs the check), locks the accounts (in id order) and
   writes `health_metrics`: success_rate, average_response_time_ms, error, refund and
   chargeback rates, last_test, last_health_check and health_score (`routing.decisions.scoring`). A
   successful verify closes the account's circuit (`circuit_breaker.clear`); a failed one counts as
   an account failure.

An active account whose score falls below the threshold is suspended, its status_reason naming
the score and the threshold. An unreachable gateway does not suspend (that is the circuit
breaker's job, and it recovers on its own); refused credentials do (score 0).

The payment path never writes the account row (one hot row per account would serialize every
payment on it): recent approval and latency come from routing's attempt records, here and in
the strategies' snapshot.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.core import clock
from avnz.core.errors import AppError
from avnz.core.masking import mask_text
from avnz.gateways import registry
from avnz.gateways.base import (
    ConnectorConfig,
    Outcome,
    Timeouts,
)
from avnz.routing.accounts import service as accounts
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.accounts.schemas import HealthMetrics, LastTest
from avnz.routing.decisions import circuit_breaker, scoring
from avnz.routing.decisions.failover import ACCOUNT_LEVEL_REASONS, FailoverConfig
from avnz.routing.decisions.models import RoutingAttempt
from avnz.security.keyring import DecryptionError, Keyring

log = structlog.get_logger(__name__)

WINDOW = timedelta(hours=24)
VERIFY_CONCURRENCY = 8
ERROR_OUTCOMES = (
    Outcome.ERROR_BEFORE_SEND,
    Outcome.TIMEOUT_AFTER_SEND,
    Outcome.GATEWAY_ERROR,
    Outcome.CONFIG_ERROR,
)


@dataclass(frozen=True, slots=True)
class MoneyWindow:
    """What an account's payments of the window moved, as the payments domain reports it."""

    captured: int = 0  # minor units
    refunded: int = 0
    chargebacks: int = 0


# (session, account ids, since) -> account id -> its money window. The payments domain owns
# the figures; the caller of the check passes its reader in (routing never imports payments).
MoneyWindows = Callable[[AsyncSession, Sequence[str], datetime], Awaitable[dict[str, MoneyWindow]]]


@dataclass(frozen=True, slots=True)
class Window:
    """An account's answered attempts in the health check's window, and the money they moved."""

    attempts: int = 0
    approved: int = 0
    errors: int = 0
    average_latency_ms: float | None = None
    captured: int = 0  # minor units
    refunded: int = 0
    chargebacks: int = 0

    def apply(self, metrics: HealthMetrics) -> None:
        """Write the window's rates into `metrics` (None where there is nothing to divide)."""
        n = self.attempts
        metrics.sample_size = n
        metrics.success_rate = round(self.approved / n, 4) if n else None
        metrics.error_rate = round(self.errors / n, 4) if n else None
        metrics.average_response_time_ms = (
            round(self.average_latency_ms, 2) if self.average_latency_ms is not None else None
        )
        metrics.refund_rate = round(self.refunded / self.captured, 4) if self.captured else None
        metrics.chargeback_rate = (
            round(self.chargebacks / self.approved, 4) if self.approved else None
        )


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    refused: bool  # the gateway refused the credentials (or there are none to send)
    message: str
    latency_ms: float


@dataclass(frozen=True, slots=True)
class CheckResult:
    account_id: str
    verified: bool
    health_score: int
    suspended: bool
    excluded: bool


# --- the window ------------------------------------------------------------------------------


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def windows(
    session: AsyncSession, account_ids: Sequence[str], money: MoneyWindows
) -> dict[str, Window]:
    """Each account's answered attempts of the last 24 hours, in one aggregate query, with the
    money its payments moved (`money`)."""
    if not account_ids:
        return {}
    since = clock.now() - WINDOW
    is_error = or_(
        RoutingAttempt.outcome.in_([o.value for o in ERROR_OUTCOMES]),
        and_(
            RoutingAttempt.outcome == Outcome.SOFT_DECLINE.value,
            RoutingAttempt.decline_reason.in_([r.value for r in ACCOUNT_LEVEL_REASONS]),
        ),
    )
    stmt = (
        select(
            RoutingAttempt.account_id,
            func.count(),
            _count(RoutingAttempt.outcome == Outcome.APPROVED.value),
            _count(is_error),
            func.avg(RoutingAttempt.latency_ms),
        )
        .where(RoutingAttempt.account_id.in_(list(account_ids)), RoutingAttempt.created_at >= since)
        .group_by(RoutingAttempt.account_id)
    )
    moved = await money(session, account_ids, since)
    found: dict[str, Window] = {}
    for account_id, attempts, approved, errors, latency in (await session.execute(stmt)).all():
        account_money = moved.get(account_id) or MoneyWindow()
        found[account_id] = Window(
            attempts=int(attempts),
            approved=int(approved),
            errors=int(errors),
            average_latency_ms=float(latency) if latency is not None else None,
            captured=account_money.captured,
            refunded=account_money.refunded,
            chargebacks=account_money.chargebacks,
        )
    return found


# --- the check -------------------------------------------------------------------------------


async def _verify(
    provider: str, config: ConnectorConfig | str, http: httpx.AsyncClient
) -> Verified:
    if isinstance(config, str):  # no usable credentials: the reason
        return Verified(ok=False, refused=True, message=config, latency_ms=0.0)
    try:
        result = await registry.connector(provider, config, http).verify()
    except ValueError as exc:  # credentials that lack a field the connector needs
        return Verified(ok=False, refused=True, message=mask_text(str(exc))[:300], latency_ms=0.0)
    detail = mask_text(result.raw_message or "no details")[:250]
    return Verified(
        ok=result.approved,
        refused=result.outcome is Outcome.CONFIG_ERROR,
        message=f"{result.outcome.value}: {detail}",
        latency_ms=result.latency_ms,
    )


async def _configs(
    session: AsyncSession, keyring: Keyring, timeouts: Timeouts
) -> dict[str, tuple[str, ConnectorConfig | str]]:
    rows = await session.scalars(
        select(MerchantAccount)
        .where(MerchantAccount.status == AccountStatus.ACTIVE)
        .order_by(MerchantAccount.id)
    )
    configs: dict[str, tuple[str, ConnectorConfig | str]] = {}
    for account in rows.all():
        config: ConnectorConfig | str
        try:
            config = replace(
                await accounts.connector_config(session, keyring, account), timeouts=timeouts
            )
        except DecryptionError:
            config = "the stored credentials cannot be decrypted"
        except AppError as exc:  # e.g. no credentials and no platform integration
            config = exc.message
        configs[account.id] = (account.provider_type, config)
    return configs


async def check_accounts(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    http: httpx.AsyncClient,
    *,
    timeouts: Timeouts,
    suspend_below: int,
    money: MoneyWindows,
) -> list[CheckResult]:
    """Verify every active account with its gateway and refresh its health; suspends those
    below `suspend_below`. Short transactions only, none open during a gateway call."""
    async with sessions.begin() as session:
        configs = await _configs(session, keyring, timeouts)
    if not configs:
        return []
    gate = asyncio.Semaphore(VERIFY_CONCURRENCY)

    async def verify(provider: str, config: ConnectorConfig | str) -> Verified:
        async with gate:
            return await _verify(provider, config, http)

    ids = list(configs)
    verified = dict(
        zip(ids, await asyncio.gather(*(verify(*configs[i]) for i in ids)), strict=True)
    )
    async with sessions.begin() as session:
        found = await windows(session, ids, money)
        locked = await session.scalars(
            select(MerchantAccount)
            .where(MerchantAccount.id.in_(ids))
            .order_by(MerchantAccount.id)
            .with_for_update()
        )
        results = [
            await _record(
                session, account, verified[account.id], found.get(account.id), suspend_below
            )
            for account in locked.all()
        ]
    for result in results:
        log.info(
            "routing.health_check",
            account_id=result.account_id,
            verified=result.verified,
            health_score=result.health_score,
            suspended=result.suspended,
            excluded=result.excluded,
        )
    return results


async def _record(
    session: AsyncSession,
    account: MerchantAccount,
    verified: Verified,
    window: Window | None,
    suspend_below: int,
) -> CheckResult:
    now = clock.now()
    metrics = HealthMetrics.model_validate(account.health_metrics)
    (window or Window()).apply(metrics)
    metrics.last_health_check = now
    metrics.last_test = LastTest(
        success=verified.ok, message=verified.message, latency_ms=verified.latency_ms, tested_at=now
    )
    score = scoring.health_score(metrics)
    metrics.health_score = score
    account.health_metrics = metrics.model_dump(mode="json")
    if verified.ok:
        await circuit_breaker.clear(session, account.id)
        excluded = False
    else:
        excluded = await circuit_breaker.record_outcome(
            session, account.id, False, FailoverConfig()
        )
    # An unreachable gateway is the circuit breaker's business; refused credentials or bad
    # numbers from real payments are reasons to stop routing to the account.
    suspended = False
    reachable = verified.ok or verified.refused
    if account.status is AccountStatus.ACTIVE and score < suspend_below and reachable:
        suspended = True
        account.status = AccountStatus.SUSPENDED
        account.status_changed_at = now
        why = "; the gateway refused the credentials" if verified.refused else ""
        account.status_reason = (
            f"health check: health score {score} is below the threshold {suspend_below}{why}"
        )
    return CheckResult(account.id, verified.ok, score, suspended, excluded)
