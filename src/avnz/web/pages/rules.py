"""Routing rule pages: `/routing/rules` (priority order, toggles, drag-and-drop, lint warnings),
the 5-step builder (`/routing/rules/new`, `/routing/rules/{id}/edit`), the rule's history and
analytics (`/routing/rules/{id}`) and the tester (`/routing/tester`).

Every read and write is the rules service's, the tester the rules tester's, called with the
signed-in principal as the API calls them. The builder posts JSON and gets back either the saved
rule's address or `{"errors": {path: message}}` with the service's own paths
(`conditions.1.children.0.value`), which it shows at the matching input.
"""

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import AppError, InvalidRequest
from avnz.core.pagination import PageParams
from avnz.deps import RuntimeDep, Session
from avnz.routing import pools
from avnz.routing.models import AccountPool, MerchantAccount
from avnz.rules import lint, tester
from avnz.rules import service as rules
from avnz.rules.lint import LintWarning
from avnz.rules.models import RoutingRule
from avnz.rules.schemas import ReorderRequest, RuleCreate, RuleTestRequest, RuleUpdate
from avnz.runtime import Runtime
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import target_company
from avnz.web import forms
from avnz.web.auth import CsrfChecked, page_requires
from avnz.web.flash import flash
from avnz.web.pages import common
from avnz.web.pages import pools as pool_pages
from avnz.web.pages import rule_view as view
from avnz.web.pages.common import EVERYTHING
from avnz.web.templating import is_htmx, render

router = APIRouter()
P = Permission
RoutingRead = Annotated[Principal, Depends(page_requires(P.ROUTING_READ))]
RoutingWrite = Annotated[Principal, Depends(page_requires(P.ROUTING_WRITE))]
RULES = "/routing/rules"
TESTER = "/routing/tester"
ALL_RULES = PageParams(limit=1000, starting_after=None)  # the most a reorder accepts
BUILDER_FIELDS = (
    *("name", "description", "priority", "is_active", "is_default"),
    *("conditions", "actions", "schedule", "ab_test"),
)


# --- the company the pages act on ------------------------------------------------------------


async def _company(request: Request, session: AsyncSession, principal: Principal) -> Company:
    """The company asked for (`?company_id=`), else the user's own, else the first visible."""
    wanted = request.query_params.get("company_id") or principal.company_id
    if wanted is None:
        companies = await common.visible_companies(session, principal)
        wanted = companies[0].id if companies else None
    return await target_company(session, principal, wanted)


async def _targets(
    session: AsyncSession, principal: Principal, company_id: str
) -> tuple[list[AccountPool], list[MerchantAccount]]:
    """The company's pools and accounts: what actions may route to."""
    pool_page = await pools.list_pools(
        session=session,
        principal=principal,
        page=EVERYTHING,
        is_active=None,
        strategy=None,
        company_id=company_id,
    )
    return pool_page.items, await pool_pages.accounts_of(session, principal, company_id)


async def _target_names(
    session: AsyncSession, principal: Principal, company_id: str
) -> dict[str, str]:
    """Names of the company's pools and accounts, for actions in words."""
    company_pools, company_accounts = await _targets(session, principal, company_id)
    names = {pool.id: pool.name for pool in company_pools}
    names.update({account.id: account.name for account in company_accounts})
    return names


async def _all_rules(
    session: AsyncSession, principal: Principal, company_id: str
) -> list[RoutingRule]:
    page = await rules.list_rules(
        session=session,
        principal=principal,
        page=ALL_RULES,
        is_active=None,
        is_default=None,
        company_id=company_id,
        q=None,
    )
    return page.items


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule: RoutingRule
    statuses: list[str]
    conditions: list[view.ConditionLine]
    actions: list[str]
    variant_actions: list[str]
    warnings: list[LintWarning] = field(default_factory=list)


def rule_row(rule: RoutingRule, names: Mapping[str, str], warnings: list[LintWarning]) -> RuleRow:
    ab_test = rule.ab_test or {}
    return RuleRow(
        rule=rule,
        statuses=view.statuses(rule, clock.now()),
        conditions=view.condition_lines(rule.conditions),
        actions=[view.action_words(a, names) for a in rule.actions],
        variant_actions=[view.action_words(a, names) for a in ab_test.get("actions", [])],
        warnings=warnings,
    )


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
    names = await _target_names(session, principal, company.id)
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
    company = await _company(request, session, principal)
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


# --- the builder -----------------------------------------------------------------------------


async def _builder_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    company: Company,
    rule: RoutingRule | None,
) -> Response:
    company_pools, company_accounts = await _targets(session, principal, company.id)
    existing = await _all_rules(session, principal, company.id)
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
    company = await _company(request, session, principal)
    return await _builder_page(request, session, principal, company, None)


@router.get(RULES + "/{rule_id}/edit")
async def edit_rule(
    rule_id: str, request: Request, session: Session, principal: RoutingWrite
) -> Any:
    rule = await rules.get_rule(session=session, principal=principal, rule_id=rule_id)
    company = await target_company(session, principal, rule.company_id)
    return await _builder_page(request, session, principal, company, rule)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return body


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
        payload = view.from_builder(await _json_body(request))
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
        payload = view.from_builder(await _json_body(request))
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


# --- the tester ------------------------------------------------------------------------------

SAMPLE_TEXT = (
    "id",
    "country",
    "state",
    "card_brand",
    "card_type",
    "bin",
    "issuing_country",
    "customer_id",
    "customer.type",
    "customer.account_age_days",
    "customer.lifetime_value",
    "customer.risk_level",
    "customer.chargeback_rate",
    "product.sku",
    "product.category",
    "product.interval",
)
SAMPLE_FLAGS = ("is_tokenized", "is_3ds_enrolled", "is_digital_wallet")
PRODUCT_FLAGS = ("is_subscription", "is_renewal", "is_trial")
BRAND_OPTIONS = [(brand, brand) for brand in view.BRANDS]


def _checked(form: FormData, name: str) -> bool:
    return forms.text(form, name).lower() in ("on", "true", "1")


def sample_transaction(form: FormData) -> dict[str, Any]:
    """The tester's form (flat names, amounts in major units, time as UTC) as the tester's
    `transaction`; its errors are named `transaction.<field>`."""
    currency = (forms.text(form, "currency") or "USD").upper()
    sample: dict[str, Any] = forms.nested(form, SAMPLE_TEXT)
    amount = forms.minor_units(forms.text(form, "amount"), currency, param="transaction.amount")
    if amount is None:
        raise InvalidRequest("Enter the amount.", param="transaction.amount")
    sample.update(amount=amount, currency=currency)
    if at := forms.text(form, "at"):
        sample["at"] = f"{at}+00:00"
    sample.update({name: _checked(form, name) for name in SAMPLE_FLAGS})
    segments = [s.strip() for s in forms.text(form, "customer.segments").split(",") if s.strip()]
    if segments:
        sample.setdefault("customer", {})["segments"] = segments
    flags = {name: _checked(form, f"product.{name}") for name in PRODUCT_FLAGS}
    if any(flags.values()):
        sample.setdefault("product", {}).update(flags)
    return sample


def _as_form(values: Any) -> FormData:
    """The builder's JSON sample (flat names, as the tester's form has them) as form data."""
    if not isinstance(values, dict):
        return FormData()
    return FormData(
        [(str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in values.items()]
    )


async def _tested(
    session: AsyncSession,
    principal: Principal,
    runtime: Runtime,
    company: Company,
    form: FormData,
    draft: dict[str, Any] | None,
) -> dict[str, Any]:
    """Run the tester on the sample (through the company's rules, or the draft alone) and give
    the result with every condition and action in words (paths name the tree's nodes)."""
    data = RuleTestRequest.model_validate(
        {"company_id": company.id, "transaction": sample_transaction(form), "rule": draft}
    )
    result = await tester.test_rules(
        session=session, principal=principal, cache=runtime.rule_cache, data=data
    )
    texts: dict[str | None, dict[str, str]] = {}
    if draft is not None:
        texts[None] = view.condition_texts(draft.get("conditions") or [])
    else:
        listed = await _all_rules(session, principal, company.id)
        texts = {rule.id: view.condition_texts(rule.conditions) for rule in listed}
    names = await _target_names(session, principal, company.id)
    return {
        "result": result,
        "currency": data.transaction.currency,
        "condition_texts": texts,
        "action_texts": [view.action_words(a, names) for a in result.actions],
    }


@router.get(TESTER)
async def tester_page(request: Request, session: Session, principal: RoutingRead) -> Any:
    company = await _company(request, session, principal)
    return render(
        request,
        "rules/tester.html",
        {
            "company": company,
            "companies": await common.visible_companies(session, principal),
            "values": {"amount": "100.00", "currency": "USD"},
            "errors": {},
            "result": None,
            "brand_options": BRAND_OPTIONS,
            "countries": view.COUNTRIES,
        },
        principal=principal,
        breadcrumbs=(("Routing", None), ("Rule tester", TESTER)),
    )


@router.post(TESTER)
async def run_tester(
    request: Request,
    session: Session,
    principal: RoutingRead,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    form = await request.form()
    values = {str(k): v for k, v in form.items() if k != "csrf_token"}
    company = await target_company(session, principal, forms.text(form, "company_id") or None)
    context: dict[str, Any] = {"company": company, "values": values, "errors": {}, "result": None}
    status_code = 200
    try:
        context.update(await _tested(session, principal, runtime, company, form, None))
    except (AppError, ValidationError) as exc:
        context["errors"] = forms.errors_of(exc)
        status_code = 400
    if is_htmx(request):
        return render(
            request,
            "rules/_test_result.html",
            context,
            principal=principal,
            status_code=status_code,
        )
    context.update(
        companies=await common.visible_companies(session, principal),
        brand_options=BRAND_OPTIONS,
        countries=view.COUNTRIES,
    )
    return render(
        request,
        "rules/tester.html",
        context,
        principal=principal,
        status_code=status_code,
        breadcrumbs=(("Routing", None), ("Rule tester", TESTER)),
    )


@router.post(TESTER + "/draft")
async def test_draft(
    request: Request,
    session: Session,
    principal: RoutingRead,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    """The builder's last step: its rule, not yet saved, against one sample (HTML result)."""
    try:
        body = await _json_body(request)
        company = await target_company(
            session, principal, str(body.get("company_id") or "") or None
        )
        draft = view.from_builder(body.get("rule") or {})
        draft = {
            k: v
            for k, v in draft.items()
            if k in ("name", "conditions", "actions", "schedule", "ab_test")
        }
        sample = _as_form(body.get("sample"))
        context = await _tested(session, principal, runtime, company, sample, draft)
    except (AppError, ValidationError) as exc:
        return render(
            request,
            "rules/_test_result.html",
            {"errors": forms.errors_of(exc), "result": None},
            principal=principal,
            status_code=exc.status_code if isinstance(exc, AppError) else 400,
        )
    return render(
        request, "rules/_test_result.html", {**context, "errors": {}}, principal=principal
    )


# --- one rule: history and analytics ---------------------------------------------------------


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
    names = await _target_names(session, principal, rule.company_id)
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
