"""`/merchant-accounts`: the gateway accounts (MIDs) payments are routed to. Lists never carry
credentials; a single account shows them masked."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.pagination import PageOut, Paging
from avnz.deps import RuntimeDep, Session, require
from avnz.routing.accounts import connection
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import AccountStatus, Period
from avnz.routing.accounts.schemas import (
    ConnectionTestOut,
    HealthOut,
    MerchantAccountCreate,
    MerchantAccountDetail,
    MerchantAccountOut,
    MerchantAccountUpdate,
    ProviderType,
    UsageOut,
)

router = APIRouter(route_class=ApiRoute, prefix="/merchant-accounts", tags=["merchant accounts"])
AccountsRead = Annotated[Principal, Depends(require(Permission.ACCOUNTS_READ))]
AccountsWrite = Annotated[Principal, Depends(require(Permission.ACCOUNTS_WRITE))]
Id = Annotated[str | None, Query(max_length=40)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MerchantAccountDetail)
async def create_merchant_account(
    data: MerchantAccountCreate, session: Session, principal: AccountsWrite, runtime: RuntimeDep
) -> Any:
    account = await routing.create_account(
        session=session, principal=principal, keyring=runtime.keyring, data=data
    )
    return await routing.account_detail(session=session, keyring=runtime.keyring, account=account)


@router.get("", response_model=PageOut[MerchantAccountOut])
async def list_merchant_accounts(
    session: Session,
    principal: AccountsRead,
    paging: Paging,
    status: AccountStatus | None = None,
    provider_type: ProviderType | None = None,
    company_id: Id = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of the account's name.")
    ] = None,
) -> Any:
    page = await routing.list_accounts(
        session=session,
        principal=principal,
        page=paging,
        status=status,
        provider_type=provider_type,
        company_id=company_id,
        search=search,
    )
    return {
        "object": "list",
        "data": [routing.to_out(account) for account in page.items],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


@router.get("/{account_id}", response_model=MerchantAccountDetail)
async def get_merchant_account(
    account_id: str, session: Session, principal: AccountsRead, runtime: RuntimeDep
) -> Any:
    account = await routing.get_account(session=session, principal=principal, account_id=account_id)
    return await routing.account_detail(session=session, keyring=runtime.keyring, account=account)


@router.patch("/{account_id}", response_model=MerchantAccountDetail)
async def update_merchant_account(
    account_id: str,
    data: MerchantAccountUpdate,
    session: Session,
    principal: AccountsWrite,
    runtime: RuntimeDep,
) -> Any:
    account = await routing.update_account(
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        account_id=account_id,
        data=data,
    )
    return await routing.account_detail(session=session, keyring=runtime.keyring, account=account)


@router.delete("/{account_id}", response_model=MerchantAccountOut)
async def delete_merchant_account(
    account_id: str, session: Session, principal: AccountsWrite
) -> Any:
    account = await routing.delete_account(
        session=session, principal=principal, account_id=account_id
    )
    return routing.to_out(account)


@router.get("/{account_id}/usage", response_model=UsageOut)
async def merchant_account_usage(
    account_id: str,
    session: Session,
    principal: AccountsRead,
    period: Annotated[Period, Query(description="The period of the history.")] = Period.DAY,
    limit: Annotated[int, Query(ge=1, le=366, description="Past buckets to return.")] = 30,
) -> Any:
    return await routing.account_usage(
        session=session, principal=principal, account_id=account_id, period=period, limit=limit
    )


@router.get("/{account_id}/health", response_model=HealthOut)
async def merchant_account_health(
    account_id: str, session: Session, principal: AccountsRead
) -> Any:
    return await routing.account_health(session=session, principal=principal, account_id=account_id)


@router.post("/{account_id}/test", response_model=ConnectionTestOut)
async def test_merchant_account(
    account_id: str, session: Session, principal: AccountsWrite, runtime: RuntimeDep
) -> Any:
    await session.commit()  # the test works in its own transactions
    return await connection.verify_connection(
        sessions=runtime.sessions,
        principal=principal,
        keyring=runtime.keyring,
        http=runtime.http,
        account_id=account_id,
    )
