"""`/stats`: the dashboard home's figures, within the caller's scope."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from avnz.analytics import stats
from avnz.analytics.schemas import Chart, Summary
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.deps import Session, require

router = APIRouter(route_class=ApiRoute, tags=["stats"])
StatsRead = Annotated[Principal, Depends(require(Permission.TRANSACTIONS_READ))]
CompanyFilter = Annotated[
    str | None, Query(max_length=40, description="One brand; default: all in your scope.")
]


@router.get("/stats/summary", response_model=Summary)
async def summary(
    session: Session, principal: StatsRead, company_id: CompanyFilter = None
) -> Summary:
    """Today's (UTC) payments, approvals, success rate, volume per currency, active customers."""
    return await stats.summary(session, principal, company_id)


@router.get("/stats/chart", response_model=Chart)
async def chart(
    session: Session,
    principal: StatsRead,
    company_id: CompanyFilter = None,
    days: Annotated[int, Query(ge=1, le=90, description="How many days, ending today.")] = 7,
) -> Chart:
    """Payments and approved volume per UTC day."""
    return await stats.chart(session, principal, company_id, days)
