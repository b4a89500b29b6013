"""The header's notifications: the latest events of the caller's companies, from the outbox."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from avnz.auth.scope import mode_clause, scope_clause
from avnz.deps import Session
from avnz.outbox.models import OutboxEvent
from avnz.web.auth import PagePrincipal
from avnz.web.templating import render

router = APIRouter()
LATEST = 15


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(
    request: Request, session: Session, principal: PagePrincipal
) -> HTMLResponse:
    """A partial for the dropdown: newest first, only events inside the caller's scope."""
    visible = scope_clause(
        principal,
        organization_id=OutboxEvent.organization_id,
        client_id=OutboxEvent.client_id,
        company_id=OutboxEvent.company_id,
    ) & mode_clause(principal, OutboxEvent.livemode)
    events = await session.scalars(
        select(OutboxEvent).where(visible).order_by(OutboxEvent.id.desc()).limit(LATEST)
    )
    return render(
        request, "partials/notifications.html", {"events": list(events)}, principal=principal
    )
