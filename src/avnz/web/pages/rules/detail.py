"""One rule: `/routing/rules/{id}`, its version history and analytics."""

from typing import Any

from fastapi import APIRouter, Request

from avnz.deps import Session
from avnz.rules import lint
from avnz.rules import service as rules
from avnz.web.pages import rule_view as view
from avnz.web.pages.rules.shared import (
    RULES,
    P,
    RoutingRead,
    rule_row,
    target_names,
)
from avnz.web.templating import render

router = APIRouter()


def analytics_chart(detail: Any) -> dict[str, Any]:
    days = detail.analytics.days
    return {
        "labels": [day.day.isoformat() for day in days],
        "series": [
            {"label": "Hits", "data": [day.hits for day in days]},
            {"label": "Successes", "data": [day.successes for day in days]},
            {"label": "Failures", "data": [day.failures for day in days]},
        ],
    }


def arms_chart(detail: Any) -> dict[str, Any]:
    arms = detail.analytics.arms
    return {
        "labels": [arm.arm.value for arm in arms],
        "series": [
            {"label": "Successes", "data": [arm.successes for arm in arms]},
            {"label": "Failures", "data": [arm.failures for arm in arms]},
        ],
    }


@router.get(RULES + "/{rule_id}")
async def rule_page(
    rule_id: str, request: Request, session: Session, principal: RoutingRead
) -> Any:
    rule = await rules.get_rule(session=session, principal=principal, rule_id=rule_id)
    detail = await rules.rule_detail(session=session, rule=rule)
    names = await target_names(session, principal, rule.company_id)
    versions = [
        {
            "version": version,
            "conditions": view.condition_lines(version.snapshot.get("conditions") or []),
            "actions": [view.action_words(a, names) for a in version.snapshot.get("actions") or []],
        }
        for version in detail.versions
    ]
    return render(
        request,
        "rules/detail.html",
        {
            "row": rule_row(rule, names, await lint.warnings_for(session, rule)),
            "detail": detail,
            "versions": versions,
            "chart": analytics_chart(detail),
            "arms": arms_chart(detail),
            "can_write": P.ROUTING_WRITE in principal.permissions,
        },
        principal=principal,
        breadcrumbs=(("Routing", None), ("Rules", RULES), (rule.name, None)),
    )
