"""Which merchant account takes a payment.

`plan_route` is what the payment path calls: the pool (the one named, else the company's
default), its strategy's pick among the eligible accounts, then the other eligible accounts in
failover order. Without a pool, the company's accounts in the order they were added
(`company_default`). It reserves nothing: the caller reserves capacity on the account it tries.

Routing's own record of what happened at each account (`record_attempts`): one row per
(payment, attempt), handed over by the payments domain once a payment is settled; routing never
reads the payments tables. Recording is idempotent: a (payment, attempt) already recorded is left
as it is, so a publication retried after a crash never counts an attempt twice.
"""

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.core.cards import Brand
from avnz.core.errors import AppError, NotFound
from avnz.core.ids import new_id
from avnz.routing import config as routing_config
from avnz.routing import strategies
from avnz.routing.accounts.fees import transaction_fee
from avnz.routing.accounts.models import AccountEnvironment, AccountStatus, MerchantAccount, Period
from avnz.routing.accounts.schemas import AccountFees, AccountLimits, AccountRestrictions
from avnz.routing.config import Members, PoolConfig, RoutingConfig
from avnz.routing.decisions import snapshot
from avnz.routing.decisions.circuit_breaker import Circuits
from avnz.routing.decisions.models import RoutingAttempt
from avnz.routing.pools.models import AccountPool
from avnz.routing.strategies import Candidate, Facts, Strategy, StrategyConfig, StrategyContext
from avnz.routing.strategies.turns import Counter, LocalCounter

STRATEGY = "company_default"
PINNED = "pinned"
HOME_COUNTRY = "US"


class NoEligibleAccount(AppError):
    status_code: ClassVar[int] = 422
    default_code: ClassVar[str] = "no_eligible_account"


class UnknownStrategy(AppError):
    status_code: ClassVar[int] = 422
    default_code: ClassVar[str] = "unknown_strategy"


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """What account selection may look at; never the card number."""

    company_id: str
    amount: int  # minor units of `currency`
    currency: str
    card_brand: str | None = None
    card_country: str | None = None
    product_category: str | None = None
    account_id: str | None = None  # the caller named the account: only it is considered
    pool_id: str | None = None  # the pool to route through; default: the company's default pool
    strategy: str | None = None  # a routing rule's override of the pool's strategy
    home_country: str = HOME_COUNTRY  # the company's country: other card countries pay more
    # Live payments go to production accounts only, test payments to sandbox ones; None (a
    # pool simulation) considers both.
    livemode: bool | None = None


def ineligibility(account: MerchantAccount, context: RoutingContext) -> str | None:
    """Why `account` cannot take this payment at all, or None. Caps are checked by reserving."""
    if account.status is not AccountStatus.ACTIVE:
        return f"the account is {account.status.value}"
    if context.livemode is not None and context.livemode != (
        account.environment is AccountEnvironment.PRODUCTION
    ):
        return (
            "the account is a sandbox account; live payments go to production accounts only"
            if context.livemode
            else "the account is a production account; test payments go to sandbox accounts only"
        )
    if account.currency != context.currency:
        return f"the account settles in {account.currency}"
    limits = AccountLimits.model_validate(account.limits)
    if limits.min_transaction_amount is not None and context.amount < limits.min_transaction_amount:
        return "the amount is below the account's minimum"
    if limits.max_transaction_amount is not None and context.amount > limits.max_transaction_amount:
        return "the amount is above the account's maximum"
    return _restricted(AccountRestrictions.model_validate(account.restrictions), context)


def _restricted(rules: AccountRestrictions, context: RoutingContext) -> str | None:
    country, brand, category = context.card_country, context.card_brand, context.product_category
    if country and (
        country in rules.blocked_countries
        or (rules.allowed_countries and country not in rules.allowed_countries)
    ):
        return f"the account does not take cards from {country}"
    if brand and (
        brand in rules.blocked_card_brands
        or (rules.allowed_card_brands and brand not in rules.allowed_card_brands)
    ):
        return f"the account does not take {brand} cards"
    allowed = rules.allowed_product_categories
    if category and allowed and category not in allowed:
        return f"the account does not sell {category}"
    return None


def _summary(skipped: dict[str, str], pool_id: str | None = None) -> str:
    if not skipped:
        if pool_id is not None:
            return f"Pool {pool_id} has no active account; add one first."
        return "This company has no active merchant account; add one first."
    reasons = "; ".join(f"{account}: {why}" for account, why in skipped.items())
    where = f"pool {pool_id}" if pool_id is not None else "this company"
    return f"No merchant account of {where} can take this payment ({reasons})."


# --- plans over pools ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedAccount:
    account: MerchantAccount
    probability: float | None  # the strategy's chance of picking it; None after the first


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """The accounts to try, in order: the strategy's pick, then the rest by failover order."""

    pool_id: str | None
    strategy: str
    accounts: tuple[PlannedAccount, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # account id -> why not
    evaluation_ms: float = 0.0
    failover_config: dict[str, Any] = field(default_factory=dict)
    failover_enabled: bool = True
    # Accounts with failures on record, whose circuit a success must close; None when the plan
    # did not read the circuits (a pinned account), so that every success closes its circuit.
    failing: frozenset[str] | None = None

    def closes_circuit(self, account_id: str) -> bool:
        """Would a success on `account_id` change its circuit breaker?"""
        return self.failing is None or account_id in self.failing

    @property
    def probability(self) -> float | None:
        return self.accounts[0].probability if self.accounts else None

    def record(self) -> dict[str, Any]:
        """The routing decision as the payment keeps it."""
        return {
            "strategy": self.strategy,
            "pool_id": self.pool_id,
            "account_id": self.accounts[0].account.id if self.accounts else None,
            "probability": self.probability,
            "order": [planned.account.id for planned in self.accounts],
            "skipped": self.skipped,
            "evaluation_ms": self.evaluation_ms,
        }


_counter: Counter = LocalCounter()
_rng = random.Random()  # noqa: S311 - spreads load; nothing secret depends on it


def use_turn_counter(counter: Counter) -> None:
    """Share the pools' turn counters through `counter` (`avnz.runtime.SharedCounter` when Redis is
    configured), for the strategies that need a position."""
    global _counter
    _counter = counter


def strategy_config(strategy: Strategy, configuration: dict[str, Any]) -> StrategyConfig:
    """The pool's `configuration` as its strategy's settings (raises pydantic's ValidationError)."""
    return strategy.config.model_validate(configuration)


def _fee(fees: AccountFees, context: RoutingContext) -> int:
    """This transaction's fee on the account (its fee table: base, international, per brand)."""
    brand: Brand | None
    try:
        brand = Brand(context.card_brand) if context.card_brand else None
    except ValueError:
        brand = None
    international = context.card_country is not None and context.card_country != (
        context.home_country
    )
    return transaction_fee(fees, context.amount, card_brand=brand, international=international)


def build_candidates(
    members: Members,
    context: RoutingContext,
    used: dict[str, dict[Period, tuple[int, int]]],
    stats: dict[str, snapshot.AccountStats],
    strategy: Strategy,
    config: StrategyConfig,
    skipped: dict[str, str],
    *,
    drop_full: bool = True,
) -> list[Candidate]:
    """A Candidate per member whose caps still fit this transaction, as `strategy` refines it;
    the others land in `skipped` with the cap that is full (kept when not `drop_full`)."""
    key = snapshot.context_key(context.card_brand, context.card_country, context.amount)
    candidates = []
    ahead: list[str] = []
    for order, (membership, account) in enumerate(members):
        limits = AccountLimits.model_validate(account.limits)
        account_used = used.get(account.id, {})
        daily = snapshot.headroom(
            limits, Period.DAY, account_used.get(Period.DAY, (0, 0)), context.amount
        )
        monthly = snapshot.headroom(
            limits, Period.MONTH, account_used.get(Period.MONTH, (0, 0)), context.amount
        )
        full = next(
            (
                name
                for name, share in (("daily", daily), ("monthly", monthly))
                if share is not None and share < 0
            ),
            None,
        )
        if full is not None and drop_full:
            skipped[account.id] = f"the account's {full} cap is reached"
            continue
        if _ahead_of_pace(config, daily):
            ahead.append(account.id)
        fees = AccountFees.model_validate(account.fees)
        account_stats = stats.get(account.id) or snapshot.AccountStats()
        approved, decided = account_stats.approved, account_stats.decided
        candidate = Candidate(
            account_id=account.id,
            weight=membership.weight,
            priority=membership.priority,
            order=order,
            fee=_fee(fees, context),
            daily_headroom=daily,
            monthly_headroom=monthly,
            in_flight=account_stats.in_flight,
            latency_ewma_ms=account_stats.latency_ewma_ms,
            approved=approved,
            decided=decided,
            alpha=1.0 + approved,
            beta=1.0 + decided - approved,
        )
        in_context = account_stats.by_context.get(key, (0, 0))
        facts = Facts(fees, context.amount, *in_context)
        candidates.append(strategy.refine(candidate, facts, config))
    return _paced(candidates, ahead, skipped)


def _ahead_of_pace(config: StrategyConfig, daily_headroom: float | None) -> bool:
    """Has the account used more of its daily cap than the share of the (UTC) day gone by?"""
    if not config.pace_daily_caps or daily_headroom is None:
        return False
    now = clock.now()
    elapsed = (now.hour * 3600 + now.minute * 60 + now.second) / 86_400
    return 1 - daily_headroom > elapsed + config.pace_slack


def _paced(
    candidates: list[Candidate], ahead: list[str], skipped: dict[str, str]
) -> list[Candidate]:
    """Accounts ahead of their pace wait while another can take the payment; pacing alone
    never refuses a payment."""
    on_pace = [c for c in candidates if c.account_id not in ahead]
    if not on_pace:
        return candidates
    for account_id in ahead:
        skipped[account_id] = "the account is ahead of its daily cap's pace"
    return on_pace


def _eligible(
    accounts: Sequence[MerchantAccount],
    context: RoutingContext,
    circuits: Circuits,
    skipped: dict[str, str],
) -> list[MerchantAccount]:
    """The accounts routing may use now; the others land in `skipped` with the reason."""
    eligible = []
    for account in accounts:
        reason = ineligibility(account, context)
        if reason is None and account.id in circuits.excluded:
            reason = "the account is temporarily excluded after failures"
        if reason is None:
            eligible.append(account)
        else:
            skipped[account.id] = reason
    return eligible


async def plan_route(
    session: AsyncSession,
    context: RoutingContext,
    config: RoutingConfig | None = None,
    *,
    rng: random.Random | None = None,
) -> RoutePlan:
    """The accounts to try for this payment, best first; 422 with every account's reason when
    none is eligible. `config`: the company's routing configuration if the caller keeps it
    (read here otherwise). Reads only the live state of the accounts (one query): nothing is
    reserved or written."""
    started = time.perf_counter()
    config = config or await routing_config.load(session, context.company_id)
    if context.account_id is not None:
        return _pinned(config, context, started)
    if context.pool_id is not None and config.pool(context.pool_id) is None:
        raise NotFound(
            f"No active account pool {context.pool_id!r} in this company.", param="pool_id"
        )
    pool_config = config.pool(context.pool_id)
    if pool_config is None:
        state = await snapshot.live(session, [a.id for a in config.accounts], clock.now())
        return _company_default(config.accounts, context, state.circuits, started)
    return await _from_pool(session, pool_config, context, started, rng)


async def _from_pool(
    session: AsyncSession,
    pool_config: PoolConfig,
    context: RoutingContext,
    started: float,
    rng: random.Random | None,
) -> RoutePlan:
    pool, skipped = pool_config.pool, dict[str, str]()
    now = clock.now()
    state = await snapshot.live(session, [a.id for _, a in pool_config.members], now)
    accounts = [account for _, account in pool_config.members]
    usable = {a.id for a in _eligible(accounts, context, state.circuits, skipped)}
    members = [(m, account) for m, account in pool_config.members if account.id in usable]
    strategy = strategy_of(context.strategy or pool.strategy, pool.id)
    config = _strategy_config(strategy, pool)
    ids = [account.id for _, account in members]
    stats = await snapshot.recent_stats(session, pool.id, ids, config, now)
    candidates = build_candidates(members, context, state.used, stats, strategy, config, skipped)
    if not candidates:
        raise NoEligibleAccount(_summary(skipped, pool.id))
    position = await _counter.next(pool.id) if strategy.needs_position else 0
    strategy_context = StrategyContext(
        pool_id=pool.id,
        amount=context.amount,
        context_key=snapshot.context_key(context.card_brand, context.card_country, context.amount),
        config=config,
        position=position,
    )
    pick = strategy.choose(candidates, strategy_context, rng or _rng)
    by_id = {account.id: account for _, account in members}
    rest = [c for c in candidates if c is not pick.candidate]
    return RoutePlan(
        pool_id=pool.id,
        strategy=strategy.name,
        accounts=(
            PlannedAccount(by_id[pick.candidate.account_id], pick.probability),
            *(PlannedAccount(by_id[c.account_id], None) for c in rest),
        ),
        skipped=skipped,
        evaluation_ms=_since(started),
        failover_config=dict(pool.failover_config),
        failover_enabled=pool.failover_enabled,
        failing=state.circuits.failing,
    )


def strategy_of(name: str, pool_id: str) -> Strategy:
    """The registered strategy `name`; 422 when it is not registered (any more)."""
    try:
        return strategies.strategy(name)
    except strategies.UnknownStrategyError as exc:
        raise UnknownStrategy(f"Pool {pool_id} routes with strategy {exc}.") from None


def _strategy_config(strategy: Strategy, pool: AccountPool) -> StrategyConfig:
    """The pool's configuration for `strategy`; a rule's override of another strategy than the
    pool's own gets that strategy's defaults (the pool's settings are for its own)."""
    if strategy.name == pool.strategy:
        return strategy_config(strategy, pool.configuration)
    return strategy.config()


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _company_default(
    accounts: Sequence[MerchantAccount],
    context: RoutingContext,
    circuits: Circuits,
    started: float,
) -> RoutePlan:
    """No pool: the company's accounts in the order they were added."""
    skipped: dict[str, str] = {}
    eligible = _eligible(accounts, context, circuits, skipped)
    if not eligible:
        raise NoEligibleAccount(_summary(skipped))
    return RoutePlan(
        pool_id=None,
        strategy=STRATEGY,
        accounts=tuple(
            PlannedAccount(account, 1.0 if index == 0 else None)
            for index, account in enumerate(eligible)
        ),
        skipped=skipped,
        evaluation_ms=_since(started),
        failing=circuits.failing,
    )


def _pinned(config: RoutingConfig, context: RoutingContext, started: float) -> RoutePlan:
    """The caller named the account: it alone, if it is active and eligible (no exclusion
    check: an explicit choice is the caller's to make)."""
    account = config.account(context.account_id or "")
    if account is None:
        raise NotFound(
            f"No active merchant account {context.account_id!r} in this company.",
            param="merchant_account_id",
        )
    reason = ineligibility(account, context)
    if reason is not None:
        raise NoEligibleAccount(_summary({account.id: reason}))
    return RoutePlan(
        pool_id=None,
        strategy=PINNED,
        accounts=(PlannedAccount(account, 1.0),),
        evaluation_ms=_since(started),
    )


def prefer(plan: RoutePlan, account_id: str | None) -> RoutePlan:
    """The plan with `account_id` tried first when it is in it (a rebill staying on the account
    that served the subscription's first payment); unchanged otherwise."""
    first = next((p for p in plan.accounts if p.account.id == account_id), None)
    if first is None or plan.accounts[0] is first:
        return plan
    rest = tuple(p for p in plan.accounts if p is not first)
    return replace(
        plan,
        strategy=f"{plan.strategy}+rebill",
        accounts=(PlannedAccount(first.account, 1.0), *rest),
    )


# --- routing's record of attempts ------------------------------------------------------------

ATTEMPTS: Table = cast(Table, RoutingAttempt.__table__)

# INSERT … ON CONFLICT DO NOTHING, in each supported database's dialect.
_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


@dataclass(frozen=True, slots=True)
class AttemptFacts:
    """One attempt of a payment at an account, as routing keeps it."""

    payment_id: str
    organization_id: str
    client_id: str
    company_id: str
    pool_id: str | None
    account_id: str
    attempt: int  # 1 for the first account
    outcome: str
    decline_reason: str | None
    latency_ms: float
    step: str  # what failover did next: try_next, stop or inquire
    amount: int
    currency: str
    card_brand: str | None
    card_country: str | None
    created_at: datetime


async def record_attempts(session: AsyncSession, facts: Sequence[AttemptFacts]) -> None:
    """Keep these attempts (in `session`'s transaction); one already kept is not kept again."""
    if not facts:
        return
    insert = _INSERTS[session.get_bind().dialect.name](ATTEMPTS)
    rows = [{"id": new_id("ratt"), **asdict(fact)} for fact in facts]
    await session.execute(
        insert.on_conflict_do_nothing(index_elements=["payment_id", "attempt"]), rows
    )
