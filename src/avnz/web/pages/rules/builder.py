"""The 5-step rule builder (`/routing/rules/new`, `/routing/rules/{id}/edit`): it posts JSON
and gets back the saved rule's address or `{"errors": {path: message}}` with the service's own
paths (`conditions.1.children.0.value`), which it shows at the matching input."""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.core.errors import AppError
from avnz.deps import Session
from avnz.rules import lint
from avnz.rules import service as rules
from avnz.rules.lint import LintWarning
from avnz.rules.models import RoutingRule
from avnz.rules.schemas import RuleCreate, RuleUpdate
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import target_company
from avnz.web import forms
from avnz.web.auth import CsrfChecked
from avnz.web.flash import flash
from avnz.web.pages import rule_view as view
from avnz.web.pages.rules.shared import (
    RULES,
    TESTER,
    RoutingWrite,
    all_rules,
    json_body,
    page_company,
    targets,
)
from avnz.web.templating import render

router = APIRouter()


BUILDER_FIELDS = (
    *("name", "description", "priority", "is_active", "is_default"),
    *("conditions", "actions", "schedule", "ab_test"),
)


async def _builder_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    company: Company,
    rule: RoutingRule | None,
) -> Response:
    company_pools, company_accounts = await targets(session, principal, company.id)
    existing = await all_rules(session, principal, company.id)
    highest = max((r.priority for r in existing), default=0)
    definition = (
        view.for_builder({name: getattr(rule, name) for name in BUILDER_FIELDS})
        if rule is not None
        else {
            "priority": highest + rules.PRIORITY_STEP,
            "is_active": True,
            "conditions": [],
            "actions": [],
        }
    )
    reference = view.builder_reference(
        [(p.id, p.name) for p in company_pools], [(a.id, a.name) for a in company_accounts]
    )
    title = f"Edit {rule.name}" if rule else "New rule"
    return render(
        request,
        "rules/builder.html",
        {
            "company": company,
            "rule": rule,
            "title": title,
            "builder": {
                "definition": definition,
                "reference": reference,
                "save_url": f"{RULES}/{rule.id}" if rule else RULES,
                "test_url": f"{TESTER}/draft",
                "company_id": company.id,
                "rule_id": rule.id if rule else None,
            },
            "brands": view.BRANDS,
            "countries": view.COUNTRIES,
        },
        principal=principal,
        breadcrumbs=(("Routing", None), ("Rules", RULES), (title, None)),
    )


@router.get(RULES + "/new")
async def new_rule(request: Request, session: Session, principal: RoutingWrite) -> Any:
    company = await page_company(request, session, principal)
    return await _builder_page(request, session, principal, company, None)


@router.get(RULES + "/{rule_id}/edit")
async def edit_rule(
    rule_id: str, request: Request, session: Session, principal: RoutingWrite
) -> Any:
    rule = await rules.get_rule(session=session, principal=principal, rule_id=rule_id)
    company = await target_company(session, principal, rule.company_id)
    return await _builder_page(request, session, principal, company, rule)


def _refused(exc: AppError | ValidationError) -> JSONResponse:
    status = exc.status_code if isinstance(exc, AppError) else 400
    return JSONResponse({"errors": forms.errors_of(exc)}, status_code=status)


def _saved(rule: RoutingRule, warnings: Sequence[LintWarning]) -> JSONResponse:
    return JSONResponse(
        {
            "id": rule.id,
            "url": f"{RULES}/{rule.id}",
            "warnings": [w.model_dump() for w in warnings],
        }
    )


@router.post(RULES)
async def create_rule(
    request: Request, session: Session, principal: RoutingWrite, _csrf: CsrfChecked
) -> Any:
    try:
        payload = view.from_builder(await json_body(request))
        rule = await rules.create_rule(
            session=session, principal=principal, data=RuleCreate.model_validate(payload)
        )
    except (AppError, ValidationError) as exc:
        await session.rollback()
        return _refused(exc)
    flash(request, f"Saved {rule.name}.")
    return _saved(rule, await lint.warnings_for(session, rule))


@router.post(RULES + "/{rule_id}")
async def update_rule(
    rule_id: str, request: Request, session: Session, principal: RoutingWrite, _csrf: CsrfChecked
) -> Any:
    try:
        payload = view.from_builder(await json_body(request))
        payload.pop("company_id", None)
        rule = await rules.update_rule(
            session=session,
            principal=principal,
            rule_id=rule_id,
            data=RuleUpdate.model_validate(payload),
        )
    except (AppError, ValidationError) as exc:
        await session.rollback()
        return _refused(exc)
    flash(request, f"Saved {rule.name} (version {rule.version}).")
    return _saved(rule, await lint.warnings_for(session, rule))
