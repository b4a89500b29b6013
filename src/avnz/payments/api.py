"""`/payment-methods` (the card vault; reads show BIN and last four, never the PAN) and
`/payments` (charge, authorize, capture, void, refund) over HTTP."""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse, Response

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.core.params import IsoDatetime
from avnz.deps import Idempotency, RuntimeDep, Session, payments_rate_limit, require
from avnz.idempotency import Claim, StoredResponse, unit_of_work
from avnz.payments import charge, expansion, follow_ups, reading, settling, vault
from avnz.payments.expansion import Expandable
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.schemas import (
    CaptureCreate,
    PaymentCreate,
    PaymentExpandedOut,
    PaymentMethodCreate,
    PaymentMethodOut,
    PaymentOut,
    RefundCreate,
    RefundOut,
)
from avnz.payments.states import PaymentStatus
from avnz.routing.decisions.schemas import RoutingDecisionOut

router = APIRouter(route_class=ApiRoute, tags=["payment methods"])
CardsRead = Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))]
CardsWrite = Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))]
Id = Annotated[str | None, Query(max_length=64)]


@router.post(
    "/payment-methods", status_code=status.HTTP_201_CREATED, response_model=PaymentMethodOut
)
async def create_payment_method(
    data: PaymentMethodCreate, principal: CardsWrite, runtime: RuntimeDep, idempotent: Idempotency
) -> Response:
    """Vault a card. Accepts `Idempotency-Key`: a retry with the same key stores no second card."""

    async def execute() -> StoredResponse:
        async with unit_of_work(runtime.sessions) as session:
            method = await vault.store_card(
                session=session, principal=principal, keyring=runtime.keyring, data=data
            )
            return StoredResponse(
                status.HTTP_201_CREATED, vault.to_out(method).model_dump(mode="json")
            )

    return await idempotent.run(execute)


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


# --- payments --------------------------------------------------------------------------------

payments_router = APIRouter(
    route_class=ApiRoute, tags=["payments"], dependencies=[Depends(payments_rate_limit)]
)
PaymentsRead = Annotated[Principal, Depends(require(Permission.TRANSACTIONS_READ))]
PaymentsWrite = Annotated[Principal, Depends(require(Permission.TRANSACTIONS_WRITE))]
PaymentsRefund = Annotated[Principal, Depends(require(Permission.TRANSACTIONS_REFUND))]
Amount = Annotated[int | None, Query(ge=0, le=10**12)]
When = Annotated[IsoDatetime | None, Query()]


_IN_DOUBT: dict[int | str, dict[str, Any]] = {
    202: {"model": PaymentOut, "description": "The gateway's answer is in doubt."}
}


@payments_router.post(
    "/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses=_IN_DOUBT,
)
async def create_payment(
    data: PaymentCreate, principal: PaymentsWrite, runtime: RuntimeDep, idempotent: Idempotency
) -> Response:
    """Charge a card (`capture: true`) or authorize it, with a card, a vaulted card or for an
    order. Send an `Idempotency-Key`: a retry with it never charges twice."""
    gateways = PaymentRuntime.of(runtime)
    return await idempotent.run_claiming(partial(charge.charge, gateways, principal, data))


@payments_router.get("/payments", response_model=PageOut[PaymentOut])
async def list_payments(
    session: Session,
    principal: PaymentsRead,
    paging: Paging,
    company_id: Id = None,
    status_: Annotated[PaymentStatus | None, Query(alias="status")] = None,
    merchant_account_id: Id = None,
    customer_id: Id = None,
    created_gte: When = None,
    created_lte: When = None,
    amount_gte: Amount = None,
    amount_lte: Amount = None,
) -> Any:
    filters = reading.PaymentFilters(
        company_id=company_id,
        status=status_,
        merchant_account_id=merchant_account_id,
        customer_id=customer_id,
        created_gte=created_gte,
        created_lte=created_lte,
        amount_gte=amount_gte,
        amount_lte=amount_lte,
    )
    page = await reading.list_payments(session, principal, paging, filters)
    return page_out(page, reading.to_out)


Expand = Annotated[
    list[Expandable] | None,
    Query(
        alias=expansion.PARAM,
        max_length=len(Expandable),
        description="Inline related objects: `customer`, `payment_method`, `refunds`, "
        "`routing_decision` (repeat the parameter for several).",
    ),
]


@payments_router.get("/payments/{payment_id}", response_model=PaymentExpandedOut)
async def get_payment(
    payment_id: str, session: Session, principal: PaymentsRead, expand: Expand = None
) -> Response:
    """A payment; with `expand[]`, its customer, payment method, refunds or routing decision
    in the same answer."""
    payment = await reading.get_payment(session, principal, payment_id)
    return JSONResponse(await expansion.expanded(session, principal, payment, expand or []))


@payments_router.post(
    "/payments/{payment_id}/capture",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses=_IN_DOUBT,
)
async def capture_payment(
    payment_id: str,
    principal: PaymentsWrite,
    runtime: RuntimeDep,
    idempotent: Idempotency,
    data: CaptureCreate | None = None,
) -> Response:
    """Capture an authorization in full, or part of it (`amount`); once."""

    async def execute() -> StoredResponse:
        payment = await follow_ups.capture_payment(
            PaymentRuntime.of(runtime), principal, payment_id, data or CaptureCreate()
        )
        return settling.payment_answer(payment)

    return await idempotent.run(execute)


@payments_router.post(
    "/payments/{payment_id}/void",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses=_IN_DOUBT,
)
async def void_payment(
    payment_id: str, principal: PaymentsWrite, runtime: RuntimeDep, idempotent: Idempotency
) -> Response:
    """Void an authorization that was not captured."""

    async def execute() -> StoredResponse:
        return settling.payment_answer(
            await follow_ups.void_payment(PaymentRuntime.of(runtime), principal, payment_id)
        )

    return await idempotent.run(execute)


@payments_router.post(
    "/payments/{payment_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    responses={202: {"model": RefundOut, "description": "The gateway's answer is in doubt."}},
)
async def refund_payment(
    payment_id: str,
    principal: PaymentsRefund,
    runtime: RuntimeDep,
    idempotent: Idempotency,
    data: RefundCreate | None = None,
) -> Response:
    """Refund all that is left (default) or `amount`; refunds never add up to more than was
    captured."""

    gateways = PaymentRuntime.of(runtime)
    work = partial(_refund, gateways, principal, payment_id, data or RefundCreate())
    return await idempotent.run_claiming(work, lazy=False)


async def _refund(
    gateways: PaymentRuntime,
    principal: Principal,
    payment_id: str,
    data: RefundCreate,
    claim: Claim | None,
) -> StoredResponse:
    refund = await follow_ups.refund_payment(gateways, principal, payment_id, data, claim)
    code = status.HTTP_202_ACCEPTED if refund.status == "pending" else status.HTTP_201_CREATED
    return StoredResponse(code, RefundOut.model_validate(refund).model_dump(mode="json"))


@payments_router.get("/payments/{payment_id}/routing", response_model=RoutingDecisionOut)
async def get_payment_routing(payment_id: str, session: Session, principal: PaymentsRead) -> Any:
    """Which account served the payment, how it was chosen, and whether failover happened."""
    return reading.decision_out(await reading.get_payment(session, principal, payment_id))


@payments_router.get("/payments/{payment_id}/refunds", response_model=list[RefundOut])
async def list_refunds(payment_id: str, session: Session, principal: PaymentsRead) -> Any:
    return [
        RefundOut.model_validate(r)
        for r in await reading.list_refunds(session, principal, payment_id)
    ]
