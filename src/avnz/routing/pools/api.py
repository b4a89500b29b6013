"""`/account-pools`: groups of a company's merchant accounts and the strategy that spreads its
payments over them; their memberships, stats and a dry-run simulation."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.core.params import IsoDatetime
from avnz.deps import Session, require
from avnz.routing.pools import service as pools
from avnz.routing.pools.schemas import (
    MembershipCreate,
    MembershipUpdate,
    PoolCreate,
    PoolDetail,
    PoolOut,
    PoolStats,
    PoolUpdate,
    SimulateOut,
    SimulateRequest,
)
from avnz.routing.strategies import StrategyName

router = APIRouter(route_class=ApiRoute, prefix="/account-pools", tags=["account pools"])
PoolsRead = Annotated[Principal, Depends(require(Permission.POOLS_READ))]
PoolsWrite = Annotated[Principal, Depends(require(Permission.POOLS_WRITE))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PoolDetail)
async def create_account_pool(data: PoolCreate, session: Session, principal: PoolsWrite) -> Any:
    pool = await pools.create_pool(session=session, principal=principal, data=data)
    return await pools.pool_detail(session=session, pool=pool)


@router.get("", response_model=PageOut[PoolOut])
async def list_account_pools(
    session: Session,
    principal: PoolsRead,
    paging: Paging,
    is_active: bool | None = None,
    strategy: StrategyName | None = None,
    company_id: Annotated[str | None, Query(max_length=40)] = None,
) -> Any:
    page = await pools.list_pools(
        session=session,
        principal=principal,
        page=paging,
        is_active=is_active,
        strategy=strategy,
        company_id=company_id,
    )
    return page_out(page, PoolOut)


@router.get("/{pool_id}", response_model=PoolDetail)
async def get_account_pool(pool_id: str, session: Session, principal: PoolsRead) -> Any:
    pool = await pools.get_pool(session=session, principal=principal, pool_id=pool_id)
    return await pools.pool_detail(session=session, pool=pool)


@router.patch("/{pool_id}", response_model=PoolDetail)
async def update_account_pool(
    pool_id: str, data: PoolUpdate, session: Session, principal: PoolsWrite
) -> Any:
    pool = await pools.update_pool(session=session, principal=principal, pool_id=pool_id, data=data)
    return await pools.pool_detail(session=session, pool=pool)


@router.delete("/{pool_id}", response_model=PoolOut)
async def delete_account_pool(pool_id: str, session: Session, principal: PoolsWrite) -> Any:
    """Deactivates the pool (it stops being the default too); its history stays."""
    return pools.to_out(
        await pools.delete_pool(session=session, principal=principal, pool_id=pool_id)
    )


@router.post("/{pool_id}/accounts", status_code=status.HTTP_201_CREATED, response_model=PoolDetail)
async def add_pool_account(
    pool_id: str, data: MembershipCreate, session: Session, principal: PoolsWrite
) -> Any:
    pool = await pools.add_account(session=session, principal=principal, pool_id=pool_id, data=data)
    return await pools.pool_detail(session=session, pool=pool)


@router.patch("/{pool_id}/accounts/{account_id}", response_model=PoolDetail)
async def update_pool_account(
    pool_id: str, account_id: str, data: MembershipUpdate, session: Session, principal: PoolsWrite
) -> Any:
    pool = await pools.update_account(
        session=session, principal=principal, pool_id=pool_id, account_id=account_id, data=data
    )
    return await pools.pool_detail(session=session, pool=pool)


@router.delete("/{pool_id}/accounts/{account_id}", response_model=PoolDetail)
async def remove_pool_account(
    pool_id: str, account_id: str, session: Session, principal: PoolsWrite
) -> Any:
    pool = await pools.remove_account(
        session=session, principal=principal, pool_id=pool_id, account_id=account_id
    )
    return await pools.pool_detail(session=session, pool=pool)


@router.get("/{pool_id}/stats", response_model=PoolStats)
async def account_pool_stats(
    pool_id: str,
    session: Session,
    principal: PoolsRead,
    created_from: Annotated[
        IsoDatetime | None, Query(description="Payments created at or after (ISO 8601).")
    ] = None,
    created_to: Annotated[IsoDatetime | None, Query(description="Payments created before.")] = None,
) -> Any:
    return await pools.pool_stats(
        session=session,
        principal=principal,
        pool_id=pool_id,
        created_from=created_from,
        created_to=created_to,
    )


@router.post("/{pool_id}/simulate", response_model=SimulateOut)
async def simulate_account_pool(
    pool_id: str, data: SimulateRequest, session: Session, principal: PoolsRead
) -> Any:
    """A dry run: synthetic payments through the strategy and caps; nothing is written."""
    return await pools.simulate(session=session, principal=principal, pool_id=pool_id, data=data)
