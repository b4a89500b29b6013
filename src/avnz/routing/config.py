"""A company's routing configuration as account selection reads it: its active pools, each
with its active memberships of active accounts in failover order, the default pool, and its
active accounts in the order they were added. Read in two queries (`load`); the payment path
keeps it in memory behind the company's configuration version (`avnz.db.versions`), which
every change to an account, a pool or a membership moves.

The rows are detached ORM objects, loaded whole: read them, never change them.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.pools.models import AccountPool, PoolMembership

Members = Sequence[tuple[PoolMembership, MerchantAccount]]


@dataclass(frozen=True, slots=True)
class PoolConfig:
    pool: AccountPool
    members: Members  # active memberships of active accounts, in failover order


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    company_id: str
    pools: dict[str, PoolConfig]  # the active pools by id
    default_pool_id: str | None
    accounts: tuple[MerchantAccount, ...]  # the active accounts, in the order they were added

    def pool(self, pool_id: str | None) -> PoolConfig | None:
        """The pool named, else the default one; None when there is none (or not active)."""
        return self.pools.get(pool_id or self.default_pool_id or "")

    def rows(self) -> Iterator[AccountPool | PoolMembership | MerchantAccount]:
        """Every row the configuration holds (to detach them from the session that read them)."""
        for pool_config in self.pools.values():
            yield pool_config.pool
            for membership, account in pool_config.members:
                yield membership
                yield account
        yield from self.accounts

    def account(self, account_id: str) -> MerchantAccount | None:
        """The active account `account_id` of this company, if there is one."""
        return next((account for account in self.accounts if account.id == account_id), None)


# Built once: every configuration load runs both.
_POOLS_WITH_MEMBERS = (
    select(AccountPool, PoolMembership, MerchantAccount)
    .outerjoin(
        PoolMembership,
        and_(PoolMembership.pool_id == AccountPool.id, PoolMembership.is_active.is_(True)),
    )
    .outerjoin(
        MerchantAccount,
        and_(
            MerchantAccount.id == PoolMembership.merchant_account_id,
            MerchantAccount.status == AccountStatus.ACTIVE,
        ),
    )
    .where(AccountPool.company_id == bindparam("company"), AccountPool.is_active.is_(True))
    .order_by(AccountPool.id, PoolMembership.priority, PoolMembership.added_at, PoolMembership.id)
)
_ACCOUNTS = (
    select(MerchantAccount)
    .where(
        MerchantAccount.company_id == bindparam("company"),
        MerchantAccount.status == AccountStatus.ACTIVE,
    )
    .order_by(MerchantAccount.created_at, MerchantAccount.id)
)


async def load(session: AsyncSession, company_id: str) -> RoutingConfig:
    """The company's routing configuration, in two queries."""
    company = {"company": company_id}
    found: dict[str, tuple[AccountPool, list[tuple[PoolMembership, MerchantAccount]]]] = {}
    for pool, membership, account in await session.execute(_POOLS_WITH_MEMBERS, company):
        _, members = found.setdefault(pool.id, (pool, []))
        if membership is not None and account is not None:
            members.append((membership, account))
    pools = {
        pool_id: PoolConfig(pool, tuple(members)) for pool_id, (pool, members) in found.items()
    }
    default = next((p.id for p, _ in found.values() if p.is_default), None)
    accounts = tuple((await session.scalars(_ACCOUNTS, company)).all())
    return RoutingConfig(company_id, pools, default, accounts)
