"""Account pools: create, read, change and deactivate them inside the caller's scope; manage
their memberships; report their traffic; simulate their strategy.

A pool and its accounts belong to one company. A pool outside the caller's scope is reported
as missing (404). DELETE deactivates (payments and routing decisions keep naming the pool);
memberships are removed for real.
"""

import random
from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.errors import Conflict, InvalidRequest, NotFound
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.gateways.base import Outcome
from avnz.routing.accounts import service as accounts
from avnz.routing.accounts.models import AccountStatus, MerchantAccount, Period
from avnz.routing.decisions import service as decisions
from avnz.routing.decisions import snapshot
from avnz.routing.decisions.models import IN_DOUBT, RoutingAttempt
from avnz.routing.pools.models import AccountPool, PoolMembership
from avnz.routing.pools.schemas import (
    AccountShare,
    CurrencyVolume,
    MembershipCreate,
    MembershipOut,
    MembershipUpdate,
    PoolCreate,
    PoolDetail,
    PoolOut,
    PoolStats,
    PoolUpdate,
    SimulatedAccount,
    SimulateOut,
    SimulateRequest,
)
from avnz.routing.strategies import StrategyContext
from avnz.tenancy.visibility import target_company

RESOURCE = "account_pool"

# --- scope and validation --------------------------------------------------------------------


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=AccountPool.organization_id,
        client_id=AccountPool.client_id,
        company_id=AccountPool.company_id,
    )


async def get_pool(*, session: AsyncSession, principal: Principal, pool_id: str) -> AccountPool:
    pool = await session.scalar(
        select(AccountPool).where(AccountPool.id == pool_id, _visible(principal))
    )
    if pool is None:
        raise NotFound(f"No account pool {pool_id!r}.", param="id")
    return pool


def _configuration(pool_id: str, strategy: str, configuration: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the strategy's settings model keeps it; 400 naming the bad field."""
    plugin = decisions.strategy_of(strategy, pool_id)
    try:
        settings = decisions.strategy_config(plugin, configuration)
    except ValidationError as exc:
        error = exc.errors()[0]
        param = ".".join(["configuration", *(str(part) for part in error["loc"])])
        raise InvalidRequest(
            f"{param}: {error['msg']} (strategy {strategy}).",
            code="invalid_configuration",
            param=param,
        ) from None
    return settings.model_dump(mode="json", exclude_unset=True)


async def _check_default(session: AsyncSession, company_id: str, pool_id: str | None) -> None:
    stmt = select(AccountPool.id).where(
        AccountPool.company_id == company_id, AccountPool.is_default.is_(True)
    )
    if pool_id is not None:
        stmt = stmt.where(AccountPool.id != pool_id)
    existing = await session.scalar(stmt)
    if existing is not None:
        raise Conflict(
            f"Pool {existing} is this company's default; unset it first.",
            code="default_pool_exists",
            param="is_default",
        )


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    pool: AccountPool,
    before: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=RESOURCE,
        resource_id=pool.id,
        tenant=audit.Tenant(pool.organization_id, pool.client_id, pool.company_id),
        before=before,
        after=audit.snapshot(pool),
        metadata=metadata,
    )


# --- pools -----------------------------------------------------------------------------------


async def create_pool(
    *, session: AsyncSession, principal: Principal, data: PoolCreate
) -> AccountPool:
    """A new pool in a company the caller can see; at most one default pool per company."""
    company = await target_company(session, principal, data.company_id)
    pool_id = new_id("pool")
    configuration = _configuration(pool_id, data.strategy, data.configuration)
    if data.is_default:
        await _check_default(session, company.id, None)
    pool = AccountPool(
        id=pool_id,
        organization_id=company.organization_id,
        client_id=company.client_id,
        company_id=company.id,
        name=data.name,
        description=data.description,
        strategy=data.strategy,
        is_active=data.is_active,
        is_default=data.is_default,
        configuration=configuration,
        failover_enabled=data.failover_enabled,
        failover_config=data.failover_config.model_dump(mode="json"),
        created_by=principal.id,
        updated_by=principal.id,
    )
    session.add(pool)
    await _flush(session)
    _audit(session, principal, audit.AuditAction.CREATE, pool)
    return pool


async def _flush(session: AsyncSession) -> None:
    """Flush; the unique indexes (one default pool, one membership per account) answer 409
    when a concurrent request won the race the checks above could not see."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "A concurrent change made this conflict (a second default pool or membership).",
            code="conflict",
        ) from None


async def list_pools(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    is_active: bool | None,
    strategy: str | None,
    company_id: str | None,
) -> Page[AccountPool]:
    """Pools in scope, newest first."""
    stmt = select(AccountPool).where(_visible(principal))
    if is_active is not None:
        stmt = stmt.where(AccountPool.is_active.is_(is_active))
    if strategy is not None:
        stmt = stmt.where(AccountPool.strategy == strategy)
    if company_id:
        stmt = stmt.where(AccountPool.company_id == company_id)
    return await paginate(session, stmt, AccountPool.id, page)


async def update_pool(
    *, session: AsyncSession, principal: Principal, pool_id: str, data: PoolUpdate
) -> AccountPool:
    """Change the given fields. A new strategy re-checks the configuration (the one sent, else
    the current one) against its settings."""
    pool = await get_pool(session=session, principal=principal, pool_id=pool_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "strategy", "is_active", "is_default", "configuration"):
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)
    for name in ("failover_enabled", "failover_config"):
        if name in changes and changes[name] is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)
    before = audit.snapshot(pool)
    strategy = data.strategy or pool.strategy
    if "strategy" in changes or "configuration" in changes:
        configuration = data.configuration if data.configuration is not None else pool.configuration
        pool.configuration = _configuration(pool.id, strategy, configuration)
        pool.strategy = strategy
    if data.is_default and not pool.is_default:
        await _check_default(session, pool.company_id, pool.id)
    for name in ("name", "description", "is_active", "is_default", "failover_enabled"):
        if name in changes:
            setattr(pool, name, changes[name])
    if data.failover_config is not None:
        pool.failover_config = data.failover_config.model_dump(mode="json")
    pool.updated_by = principal.id
    await _flush(session)
    _audit(session, principal, audit.AuditAction.UPDATE, pool, before)
    return pool


async def delete_pool(*, session: AsyncSession, principal: Principal, pool_id: str) -> AccountPool:
    """Deactivate the pool (and stop it being the default); payments keep naming it. Deleting
    an inactive pool changes nothing."""
    pool = await get_pool(session=session, principal=principal, pool_id=pool_id)
    if not pool.is_active and not pool.is_default:
        return pool
    before = audit.snapshot(pool)
    pool.is_active = False
    pool.is_default = False
    pool.updated_by = principal.id
    await session.flush()
    _audit(session, principal, audit.AuditAction.DELETE, pool, before)
    return pool


def to_out(pool: AccountPool) -> PoolOut:
    return PoolOut.model_validate(pool)


async def _memberships(
    session: AsyncSession, pool_id: str
) -> list[tuple[PoolMembership, MerchantAccount]]:
    """Every membership of the pool with its account, in failover order."""
    rows = await session.execute(
        select(PoolMembership, MerchantAccount)
        .join(MerchantAccount, MerchantAccount.id == PoolMembership.merchant_account_id)
        .where(PoolMembership.pool_id == pool_id)
        .order_by(PoolMembership.priority, PoolMembership.added_at, PoolMembership.id)
    )
    return [(membership, account) for membership, account in rows]


def _membership_out(membership: PoolMembership, account: MerchantAccount) -> MembershipOut:
    return MembershipOut(
        id=membership.id,
        pool_id=membership.pool_id,
        merchant_account_id=membership.merchant_account_id,
        account_name=account.name,
        account_status=account.status,
        weight=membership.weight,
        priority=membership.priority,
        is_active=membership.is_active,
        added_at=membership.added_at,
    )


async def pool_detail(*, session: AsyncSession, pool: AccountPool) -> PoolDetail:
    """The pool with its memberships in failover order."""
    members = await _memberships(session, pool.id)
    return PoolDetail(
        **dict(to_out(pool)),
        memberships=[_membership_out(membership, account) for membership, account in members],
    )


# --- memberships -----------------------------------------------------------------------------


async def add_account(
    *, session: AsyncSession, principal: Principal, pool_id: str, data: MembershipCreate
) -> AccountPool:
    """Put an account of the pool's company into the pool, once."""
    pool = await get_pool(session=session, principal=principal, pool_id=pool_id)
    try:
        account = await accounts.get_account(
            session=session, principal=principal, account_id=data.merchant_account_id
        )
    except NotFound:
        raise NotFound(
            f"No merchant account {data.merchant_account_id!r}.", param="merchant_account_id"
        ) from None
    if account.company_id != pool.company_id:
        raise InvalidRequest(
            "The account belongs to another company than the pool.",
            code="account_not_in_company",
            param="merchant_account_id",
        )
    if account.status is AccountStatus.CLOSED:
        raise Conflict("This merchant account is closed.", code="account_closed")
    existing = await session.scalar(
        select(PoolMembership.id).where(
            PoolMembership.pool_id == pool.id, PoolMembership.merchant_account_id == account.id
        )
    )
    if existing is not None:
        raise Conflict(
            f"Account {account.id} is already in this pool.",
            code="already_in_pool",
            param="merchant_account_id",
        )
    membership = PoolMembership(
        id=new_id("pmem"),
        pool_id=pool.id,
        merchant_account_id=account.id,
        weight=data.weight,
        priority=data.priority,
        is_active=data.is_active,
        added_at=clock.now(),
    )
    session.add(membership)
    await _flush(session)
    _audit_membership(session, principal, pool, "add_account", None, membership)
    return pool


def _audit_membership(
    session: AsyncSession,
    principal: Principal,
    pool: AccountPool,
    operation: str,
    before: dict[str, Any] | None,
    membership: PoolMembership | None,
    account_id: str | None = None,
) -> None:
    audit.record(
        session,
        actor=principal,
        action=audit.AuditAction.UPDATE,
        resource=RESOURCE,
        resource_id=pool.id,
        tenant=audit.Tenant(pool.organization_id, pool.client_id, pool.company_id),
        before=before,
        after=audit.snapshot(membership) if membership is not None else None,
        metadata={
            "operation": operation,
            "merchant_account_id": account_id or (membership and membership.merchant_account_id),
        },
    )


async def _membership(session: AsyncSession, pool: AccountPool, account_id: str) -> PoolMembership:
    membership = await session.scalar(
        select(PoolMembership).where(
            PoolMembership.pool_id == pool.id, PoolMembership.merchant_account_id == account_id
        )
    )
    if membership is None:
        raise NotFound(f"Account {account_id!r} is not in this pool.", param="account_id")
    return membership


async def update_account(
    *,
    session: AsyncSession,
    principal: Principal,
    pool_id: str,
    account_id: str,
    data: MembershipUpdate,
) -> AccountPool:
    """Change an account's weight, priority or active flag in the pool."""
    pool = await get_pool(session=session, principal=principal, pool_id=pool_id)
    membership = await _membership(session, pool, account_id)
    before = audit.snapshot(membership)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise InvalidRequest(f"{name} cannot be null.", param=name)
        setattr(membership, name, value)
    await session.flush()
    _audit_membership(session, principal, pool, "update_account", before, membership)
    return pool


async def remove_account(
    *, session: AsyncSession, principal: Principal, pool_id: str, account_id: str
) -> AccountPool:
    """Take the account out of the pool (the membership row goes; the account stays)."""
    pool = await get_pool(session=session, principal=principal, pool_id=pool_id)
    membership = await _membership(session, pool, account_id)
    before = audit.snapshot(membership)
    await session.delete(membership)
    await session.flush()
    _audit_membership(session, principal, pool, "remove_account", before, None, account_id)
    return pool


# --- stats -----------------------------------------------------------------------------------

# An attempt's outcome as pool stats count it; an answer in doubt is counted in no result.
_RESULT: dict[str, str] = {
    Outcome.APPROVED.value: "approved",
    Outcome.HARD_DECLINE.value: "declined",
    Outcome.SOFT_DECLINE.value: "declined",
    **{outcome: "in_doubt" for outcome in IN_DOUBT},
}


async def pool_stats(
    *,
    session: AsyncSession,
    principal: Principal,
    pool_id: str,
    created_from: datetime | None,
    created_to: datetime | None,
) -> PoolStats:
    """Attempts per account of the pool (every membership, active or not) in the date range,
    from routing's own records: counts by result (approved, declined by the issuer, failed at
    the account's end), success rate, approved volume per currency, share of the pool's
    attempts. One grouped query."""
    pool = await get_pool(session=session, principal=principal, pool_id=pool_id)
    members = await _memberships(session, pool.id)
    ids = [account.id for _, account in members]
    stmt = (
        select(
            RoutingAttempt.account_id,
            RoutingAttempt.outcome,
            RoutingAttempt.currency,
            func.count(),
            func.sum(RoutingAttempt.amount),
        )
        .where(RoutingAttempt.company_id == pool.company_id, RoutingAttempt.account_id.in_(ids))
        .group_by(RoutingAttempt.account_id, RoutingAttempt.outcome, RoutingAttempt.currency)
    )
    if created_from is not None:
        stmt = stmt.where(RoutingAttempt.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(RoutingAttempt.created_at < created_to)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    volumes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for account_id, outcome, currency, count, amount in await session.execute(stmt):
        counts[account_id][_RESULT.get(outcome, "failed")] += count
        counts[account_id]["*"] += count
        if outcome == Outcome.APPROVED.value:
            volumes[account_id][currency] += int(amount or 0)
    total = sum(entry["*"] for entry in counts.values())
    shares = []
    for _, account in members:
        entry = counts[account.id]
        approved, declined, failed = entry["approved"], entry["declined"], entry["failed"]
        decided = approved + declined + failed
        shares.append(
            AccountShare(
                account_id=account.id,
                account_name=account.name,
                payments=entry["*"],
                approved=approved,
                declined=declined,
                failed=failed,
                success_rate=round(approved / decided, 4) if decided else None,
                volume=[
                    CurrencyVolume(currency=currency, amount=amount)
                    for currency, amount in sorted(volumes[account.id].items())
                ],
                share=round(entry["*"] / total, 4) if total else None,
            )
        )
    return PoolStats(
        pool_id=pool.id,
        created_from=created_from,
        created_to=created_to,
        payments=total,
        accounts=shares,
    )


# --- simulation ------------------------------------------------------------------------------


def _draw(rng: random.Random, weights: dict[Any, float]) -> Any:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[key] for key in keys])[0]


async def simulate(
    *, session: AsyncSession, principal: Principal, pool_id: str, data: SimulateRequest
) -> SimulateOut:
    """Run `data.transactions` synthetic payments through the pool's strategy, eligibility and
    caps, all at this instant: usage is counted in memory from today's real counters, nothing is
    written and no gateway is called. A pick over its cap fails over in failover order."""
    pool = await get_pool(session=session, principal=principal, pool_id=pool_id)
    members = [
        (membership, account)
        for membership, account in await _memberships(session, pool.id)
        if membership.is_active and account.status is AccountStatus.ACTIVE
    ]
    currency = data.currency or (members[0][1].currency if members else "USD")
    strategy = decisions.strategy_of(pool.strategy, pool.id)
    config = decisions.strategy_config(strategy, pool.configuration)
    ids = [account.id for _, account in members]
    now = clock.now()
    used = (await snapshot.live(session, ids, now)).used
    stats = await snapshot.recent_stats(session, pool.id, ids, config, now, cached=False)
    rng = random.Random(data.seed)  # noqa: S311 - a reproducible simulation, nothing secret
    picked: dict[str, int] = defaultdict(int)
    served: dict[str, int] = defaultdict(int)
    volume: dict[str, int] = defaultdict(int)
    failovers = blocked = no_eligible = 0
    for position in range(data.transactions):
        band = rng.choices(data.amounts, weights=[a.weight for a in data.amounts])[0]
        amount = rng.randint(band.min, band.max)
        context = decisions.RoutingContext(
            company_id=pool.company_id,
            amount=amount,
            currency=currency,
            card_brand=str(_draw(rng, dict(data.card_brands))),
            card_country=str(_draw(rng, dict(data.countries))),
        )
        eligible = [(m, a) for m, a in members if decisions.ineligibility(a, context) is None]
        if not eligible:
            no_eligible += 1
            continue
        # The strategy sees every eligible account, full or not, as it would before reserving;
        # a pick without room fails over, as a refused reservation does on the payment path.
        everyone = decisions.build_candidates(
            eligible, context, used, stats, strategy, config, {}, drop_full=False
        )
        room = [c for c in everyone if c.fits]
        if not room:
            blocked += 1
            continue
        choice = strategy.choose(
            everyone,
            StrategyContext(
                pool_id=pool.id,
                amount=amount,
                context_key=snapshot.context_key(context.card_brand, context.card_country, amount),
                config=config,
                position=position,
            ),
            rng,
        ).candidate
        picked[choice.account_id] += 1
        taker = choice.account_id
        if not choice.fits:
            failovers += 1
            taker = min(room, key=lambda c: c.order).account_id
        served[taker] += 1
        volume[taker] += amount
        _count(used, taker, amount)
    return SimulateOut(
        pool_id=pool.id,
        strategy=pool.strategy,
        transactions=data.transactions,
        currency=currency,
        accounts=[
            SimulatedAccount(
                account_id=account.id,
                account_name=account.name,
                picked=picked[account.id],
                served=served[account.id],
                share=round(served[account.id] / data.transactions, 4),
                volume=volume[account.id],
            )
            for _, account in members
        ],
        failovers=failovers,
        blocked_by_cap=blocked,
        no_eligible_account=no_eligible,
    )


def _count(
    used: dict[str, dict[Period, tuple[int, int]]],
    account_id: str,
    amount: int,
) -> None:
    """Count a simulated transaction in the in-memory day and month buckets."""
    buckets = used.setdefault(account_id, {})
    for period in (Period.DAY, Period.MONTH):
        count, total = buckets.get(period, (0, 0))
        buckets[period] = (count + 1, total + amount)
