"""`/payment-methods`: the card vault over HTTP. Reads show BIN and last four, never the PAN."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.deps import RuntimeDep, Session, require
from avnz.payments import vault
from avnz.payments.schemas import PaymentMethodCreate, PaymentMethodOut

router = APIRouter(tags=["payment methods"])
CardsRead = Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))]
CardsWrite = Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))]
Id = Annotated[str | None, Query(max_length=64)]


@router.post(
    "/payment-methods", status_code=status.HTTP_201_CREATED, response_model=PaymentMethodOut
)
async def create_payment_method(
    data: PaymentMethodCreate, session: Session, principal: CardsWrite, runtime: RuntimeDep
) -> Any:
    method = await vault.store_card(
        session=session, principal=principal, keyring=runtime.keyring, data=data
    )
    return vault.to_out(method)


@router.get("/payment-methods", response_model=PageOut[PaymentMethodOut])
async def list_payment_methods(
    session: Session,
    principal: CardsRead,
    paging: Paging,
    company_id: Id = None,
    customer_id: Id = None,
    fingerprint: Id = None,
) -> Any:
    page = await vault.list_methods(
        session=session,
        principal=principal,
        page=paging,
        company_id=company_id,
        customer_id=customer_id,
        fingerprint=fingerprint,
    )
    return page_out(page, vault.to_out)


@router.get("/payment-methods/{method_id}", response_model=PaymentMethodOut)
async def get_payment_method(method_id: str, session: Session, principal: CardsRead) -> Any:
    return vault.to_out(
        await vault.get_method(session=session, principal=principal, method_id=method_id)
    )


@router.delete("/payment-methods/{method_id}", response_model=PaymentMethodOut)
async def delete_payment_method(method_id: str, session: Session, principal: CardsWrite) -> Any:
    return vault.to_out(
        await vault.delete_method(session=session, principal=principal, method_id=method_id)
    )
