"""The dashboard home: today's figures, the last seven days, recent payments, quick actions."""

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from avnz.analytics import stats
from avnz.analytics.schemas import Chart
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.pagination import PageParams
from avnz.deps import Session
from avnz.payments import reading
from avnz.tenancy.models import User
from avnz.web import nav
from avnz.web.auth import PagePrincipal
from avnz.web.templating import page_paths, render

router = APIRouter()
RECENT = 8


@dataclass(frozen=True, slots=True)
class QuickAction:
    label: str
    url: str
    icon: str
    permission: Permission


# Shown when the page exists and the user may use it.
QUICK_ACTIONS = (
    QuickAction("All transactions", "/transactions", "card", Permission.TRANSACTIONS_READ),
    QuickAction(
        "Declined payments", "/transactions?status=declined", "alert", Permission.TRANSACTIONS_READ
    ),
    QuickAction("Merchant accounts", "/merchant-accounts", "bank", Permission.ACCOUNTS_READ),
    QuickAction("Routing rules", "/routing/rules", "route", Permission.ROUTING_READ),
    QuickAction("Integrations", "/settings/integrations", "plug", Permission.SETTINGS_WRITE),
)


def chart_data(chart: Chart) -> dict[str, Any]:
    """What app.js hands to Chart.js: one label per day, two series."""
    return {
        "labels": [day.day.strftime("%a %d") for day in chart.days],
        "series": [
            {"label": "Transactions", "data": [day.transactions for day in chart.days]},
            {"label": "Approved", "data": [day.approved for day in chart.days]},
        ],
    }


def quick_actions(request: Request, principal: Principal) -> list[QuickAction]:
    """The actions whose page this principal sees in the sidebar (same permission and level)."""
    visible = {
        link.path
        for _, links in nav.build(principal, request.url.path, page_paths(request))
        for link in links
    }
    return [
        action
        for action in QUICK_ACTIONS
        if action.url.split("?")[0] in visible and action.permission in principal.permissions
    ]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: Session, principal: PagePrincipal) -> HTMLResponse:
    user = await session.get(User, principal.id)
    context: dict[str, Any] = {
        "name": (user.name if user and user.name else principal.email),
        "quick_actions": quick_actions(request, principal),
        "can_see_payments": Permission.TRANSACTIONS_READ in principal.permissions,
    }
    if context["can_see_payments"]:
        recent = await reading.list_payments(
            session,
            principal,
            PageParams(limit=RECENT, starting_after=None),
            reading.PaymentFilters(),
        )
        context |= {
            "summary": await stats.summary(session, principal, None),
            "chart": chart_data(await stats.chart(session, principal, None)),
            "recent": recent.items,
        }
    return render(request, "pages/home.html", context, principal=principal)
