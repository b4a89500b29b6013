"""The rule list: `/routing/rules` in priority order, with toggles, drag-and-drop reordering,
lint warnings, duplicate and delete."""

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.core.errors import AppError
from avnz.deps import Session
from avnz.rules import lint
from avnz.rules import service as rules
from avnz.rules.lint import LintWarning
from avnz.rules.models import RoutingRule
from avnz.rules.schemas import ReorderRequest
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import target_company
from avnz.web import forms
from avnz.web.auth import CsrfChecked
from avnz.web.flash import flash
from avnz.web.pages import common
from avnz.web.pages.rules.shared import (
    ALL_RULES,
    RULES,
    P,
    RoutingRead,
    RoutingWrite,
    page_company,
    rule_row,
    target_names,
)
from avnz.web.templating import is_htmx, render

router = APIRouter()


def _filters(request: Request) -> dict[str, str]:
    return {k: v for k in ("q", "status") if (v := request.query_params.get(k, "").strip())}


async def _list_context(
    request: Request, session: AsyncSession, principal: Principal, company: Company
) -> dict[str, Any]:
    filters = _filters(request)
    status = filters.get("status")
    page = await rules.list_rules(
        session=session,
        principal=principal,
        page=ALL_RULES,
        is_active={"active": True, "inactive": False}.get(status or ""),
        is_default=True if status == "default" else None,
        company_id=company.id,
        q=filters.get("q"),
    )
    warnings: dict[str, list[LintWarning]] = defaultdict(list)
    for warning in await lint.lint_company(session, company.id):
        warnings[warning.rule_id].append(warning)
    names = await target_names(session, principal, company.id)
    can_write = P.ROUTING_WRITE in principal.permissions
    return {
        "company": company,
        "rows": [rule_row(rule, names, warnings[rule.id]) for rule in page.items],
        "warning_count": sum(len(found) for found in warnings.values()),
        "filters": filters,
        "can_write": can_write,
        # Reordering sends every rule of the company: only an unfiltered list can be dragged.
        "can_reorder": can_write and not filters,
    }


@router.get(RULES)
async def rules_page(request: Request, session: Session, principal: RoutingRead) -> Any:
    company = await page_company(request, session, principal)
    context = await _list_context(request, session, principal, company)
    context["companies"] = await common.visible_companies(session, principal)
    template = "rules/_list.html" if is_htmx(request) else "rules/list.html"
    return render(
        request,
        template,
        context,
        principal=principal,
        breadcrumbs=(("Routing", None), ("Rules", RULES)),
    )


async def _list_fragment(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    company = await target_company(session, principal, company_id)
    context = await _list_context(request, session, principal, company)
    context["list_error"] = error
    return render(
        request, "rules/_list.html", context, principal=principal, status_code=status_code
    )


@router.post(RULES + "/order")
async def reorder(
    request: Request, session: Session, principal: RoutingWrite, _csrf: CsrfChecked
) -> Any:
    """Drag and drop: the rule ids in their new order (every rule of the company)."""
    form = await request.form()
    company_id = str(form.get("company_id") or "")
    try:
        data = ReorderRequest.model_validate(
            {
                "company_id": company_id or None,
                "rule_ids": [str(v) for v in form.getlist("rule_id")],
            }
        )
        await rules.reorder_rules(session=session, principal=principal, data=data)
    except (AppError, ValidationError) as exc:
        await session.rollback()
        message = next(iter(forms.errors_of(exc).values()))
        return await _list_fragment(
            request, session, principal, company_id, error=message, status_code=400
        )
    return await _list_fragment(request, session, principal, company_id)


def _to_list(request: Request, rule: RoutingRule) -> Response:
    url = f"{RULES}?company_id={rule.company_id}"
    return RedirectResponse(url, status_code=303)


@router.post(RULES + "/{rule_id}/toggle")
async def toggle(
    rule_id: str, request: Request, session: Session, principal: RoutingWrite, _csrf: CsrfChecked
) -> Any:
    rule = await rules.toggle_rule(session=session, principal=principal, rule_id=rule_id)
    if is_htmx(request):
        return await _list_fragment(request, session, principal, rule.company_id)
    flash(request, f"{rule.name} is now {'active' if rule.is_active else 'inactive'}.")
    return _to_list(request, rule)


@router.post(RULES + "/{rule_id}/duplicate")
async def duplicate(
    rule_id: str, request: Request, session: Session, principal: RoutingWrite, _csrf: CsrfChecked
) -> Any:
    copy = await rules.duplicate_rule(session=session, principal=principal, rule_id=rule_id)
    flash(request, f"Created {copy.name} (inactive).")
    return RedirectResponse(f"{RULES}/{copy.id}/edit", status_code=303)


@router.post(RULES + "/{rule_id}/delete")
async def delete(
    rule_id: str, request: Request, session: Session, principal: RoutingWrite, _csrf: CsrfChecked
) -> Any:
    rule = await rules.delete_rule(session=session, principal=principal, rule_id=rule_id)
    flash(request, f"Deleted {rule.name}.")
    return _to_list(request, rule)
