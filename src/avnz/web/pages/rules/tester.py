"""The rule tester (`/routing/tester`, and the builder's last step on a draft): one sample
transaction through the rules tester, its result with every condition and action in words."""

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from avnz.auth.scope import Principal
from avnz.core.errors import AppError, InvalidRequest
from avnz.deps import RuntimeDep, Session
from avnz.rules import tester
from avnz.rules.schemas import RuleTestRequest
from avnz.runtime import Runtime
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import target_company
from avnz.web import forms
from avnz.web.auth import CsrfChecked
from avnz.web.pages import common
from avnz.web.pages import rule_view as view
from avnz.web.pages.rules.shared import (
    TESTER,
    RoutingRead,
    all_rules,
    json_body,
    page_company,
    target_names,
)
from avnz.web.templating import is_htmx, render

router = APIRouter()


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
        listed = await all_rules(session, principal, company.id)
        texts = {rule.id: view.condition_texts(rule.conditions) for rule in listed}
    names = await target_names(session, principal, company.id)
    return {
        "result": result,
        "currency": data.transaction.currency,
        "condition_texts": texts,
        "action_texts": [view.action_words(a, names) for a in result.actions],
    }


@router.get(TESTER)
async def tester_page(request: Request, session: Session, principal: RoutingRead) -> Any:
    company = await page_company(request, session, principal)
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
        body = await json_body(request)
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
