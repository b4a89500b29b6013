"""`/disputes` (list with filters, read, CSV import), an account's standing in the networks'
monitoring programs, and the public endpoint Stripe sends dispute webhooks to (verified with
the account's webhook secret before anything is read)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.deps import RuntimeDep, Session, require
from avnz.disputes import service as disputes
from avnz.disputes.models import DisputeStatus
from avnz.disputes.schemas import (
    DisputeImport,
    DisputeOut,
    ImportReport,
    MonitoringOut,
    WebhookAck,
)
from avnz.tenancy.visibility import target_company

router = APIRouter(tags=["disputes"])
# Public: Stripe cannot hold an API key; the Stripe-Signature header authenticates the call.
public_router = APIRouter(tags=["disputes"])
Reader = Annotated[Principal, Depends(require(Permission.TRANSACTIONS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.TRANSACTIONS_WRITE))]
AccountsReader = Annotated[Principal, Depends(require(Permission.ACCOUNTS_READ))]
Id = Annotated[str | None, Query(max_length=40)]


@router.get("/disputes", response_model=PageOut[DisputeOut])
async def list_disputes(
    session: Session,
    principal: Reader,
    paging: Paging,
    company_id: Id = None,
    status: DisputeStatus | None = None,
    merchant_account_id: Id = None,
    payment_id: Id = None,
) -> Any:
    page = await disputes.list_disputes(
        session=session,
        principal=principal,
        page=paging,
        company_id=company_id,
        status=status,
        merchant_account_id=merchant_account_id,
        payment_id=payment_id,
    )
    return page_out(page, DisputeOut)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut)
async def get_dispute(dispute_id: str, session: Session, principal: Reader) -> Any:
    return await disputes.get_dispute(session=session, principal=principal, dispute_id=dispute_id)


@router.post("/disputes/import", response_model=ImportReport)
async def import_disputes(data: DisputeImport, session: Session, principal: Writer) -> Any:
    company = await target_company(session, principal, data.company_id)
    return await disputes.import_csv(session=session, company_id=company.id, text=data.csv)


@router.get("/merchant-accounts/{account_id}/dispute-monitoring", response_model=MonitoringOut)
async def dispute_monitoring(account_id: str, session: Session, principal: AccountsReader) -> Any:
    return await disputes.monitoring(session=session, principal=principal, account_id=account_id)


@public_router.post("/gateway-webhooks/stripe/{account_id}", response_model=WebhookAck)
async def stripe_webhook(
    account_id: str, request: Request, session: Session, runtime: RuntimeDep
) -> Any:
    return await disputes.receive_stripe(
        session=session,
        keyring=runtime.keyring,
        account_id=account_id,
        payload=await request.body(),
        signature=request.headers.get("Stripe-Signature"),
    )
