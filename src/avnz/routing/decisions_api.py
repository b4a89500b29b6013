"""`/payments/{payment_id}/routing`: the routing decision of a payment and its attempts."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.deps import Session, require
from avnz.routing import decisions
from avnz.routing.schemas import RoutingDecisionOut

router = APIRouter(tags=["payments"])
TransactionsRead = Annotated[Principal, Depends(require(Permission.TRANSACTIONS_READ))]


@router.get("/payments/{payment_id}/routing", response_model=RoutingDecisionOut)
async def get_payment_routing(
    payment_id: str, session: Session, principal: TransactionsRead
) -> Any:
    """Which account served the payment, how it was chosen, and whether failover happened."""
    return await decisions.get_for_payment(
        session=session, principal=principal, payment_id=payment_id
    )
