"""The demo brand's default pool: its sandbox accounts, weighted evenly, so a new user's pools
page shows the headline feature and every payment without a rule is routed by it."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.pools import service
from avnz.routing.pools.models import AccountPool
from avnz.routing.pools.schemas import MembershipCreate, PoolCreate

DEFAULT_POOL = "Default pool"


@dataclass(frozen=True)
class DemoPool:
    pool_id: str
    account_ids: dict[str, str]  # provider → the brand's sandbox account


async def load(session: AsyncSession, principal: Principal, company_id: str) -> DemoPool | None:
    """The default pool of every active account, once: a brand with a pool is left alone
    (None, as for a brand with no account)."""
    if await session.scalar(select(func.count()).where(AccountPool.company_id == company_id)):
        return None
    accounts = (
        await session.execute(
            select(MerchantAccount.provider_type, MerchantAccount.id)
            .where(
                MerchantAccount.company_id == company_id,
                MerchantAccount.status == AccountStatus.ACTIVE,
            )
            .order_by(MerchantAccount.created_at)
        )
    ).all()
    if not accounts:
        return None
    data = PoolCreate(
        company_id=company_id,
        name=DEFAULT_POOL,
        description="Every sandbox account, weighted evenly; failover to the next on an error.",
        strategy="weighted",
        is_default=True,
    )
    pool = await service.create_pool(session=session, principal=principal, data=data)
    for _provider, account_id in accounts:
        member = MembershipCreate(merchant_account_id=account_id)
        await service.add_account(
            session=session, principal=principal, pool_id=pool.id, data=member
        )
    return DemoPool(pool.id, {provider: account_id for provider, account_id in accounts})
