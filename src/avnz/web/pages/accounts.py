"""Merchant account pages: `/merchant-accounts` (list, 5-step add modal) and
`/merchant-accounts/{id}` (usage meters, health, recent transactions, activity, edit tabs).

Reads and writes are the routing service's, called with the signed-in principal as the API calls
it; a refused save re-renders the form with the message at the field its `param` names. The
forms' parsing is `account_forms`, the meters, chart and activity lines `account_view`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.errors import AppError, NotFound
from avnz.core.pagination import PageParams
from avnz.deps import RuntimeDep, Session
from avnz.disputes import service as disputes
from avnz.gateways import registry
from avnz.payments import reading as payments
from avnz.routing.accounts import connection
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import AccountStatus, MerchantAccount, Period
from avnz.routing.accounts.schemas import HealthMetrics
from avnz.runtime import Runtime
from avnz.web import forms
from avnz.web.auth import CsrfChecked, page_requires
from avnz.web.flash import flash
from avnz.web.pages import common
from avnz.web.pages.account_forms import (
    BRANDS,
    COUNT_LIMITS,
    MODAL_INPUTS,
    MONEY_LIMITS,
    TABS,
    create_request,
    echo,
    form_values,
    provider_forms,
    update_request,
)
from avnz.web.pages.account_view import Meter, activity_summary, meters, usage_chart
from avnz.web.tables import Column, Filter, Table, wants_csv
from avnz.web.templating import badge, is_htmx, render

router = APIRouter()
P = Permission
AccountsRead = Annotated[Principal, Depends(page_requires(P.ACCOUNTS_READ))]
AccountsWrite = Annotated[Principal, Depends(page_requires(P.ACCOUNTS_WRITE))]
PATH = "/merchant-accounts"
RECENT = PageParams(limit=10, starting_after=None)

# --- list and add ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountRow:
    """A list row: the account and its meters in the current periods."""

    account: MerchantAccount
    meters: list[Meter]

    @property
    def id(self) -> str:
        return self.account.id

    @property
    def busiest(self) -> Meter | None:
        return max(self.meters, key=lambda m: m.ratio, default=None)

    @property
    def health_score(self) -> int | None:
        return HealthMetrics.model_validate(self.account.health_metrics).health_score


def _usage_text(row: AccountRow) -> str | None:
    meter = row.busiest
    return f"{meter.percent}% of {meter.period} {meter.label}" if meter else None


def _usage_cell(row: AccountRow) -> Markup | None:
    meter = row.busiest
    if meter is None:
        return None
    tone = "full" if meter.percent >= 100 else "near" if meter.near_limit else ""
    return Markup(
        '<span class="mini-meter"><span class="meter-fill {}" style="width:{}%"></span></span>{}'
    ).format(tone, meter.percent, _usage_text(row))


COLUMNS = (
    Column(
        "name",
        "Name",
        sortable=True,
        value=lambda r: r.account.name,
        link=lambda r: f"{PATH}/{r.id}",
    ),
    Column(
        "provider",
        "Gateway",
        sortable=True,
        value=lambda r: registry.gateway(r.account.provider_type).connector.display_name,
    ),
    Column(
        "status",
        "Status",
        sortable=True,
        value=lambda r: r.account.status.value,
        display=lambda r: badge(r.account.status),
    ),
    Column("usage", "Usage vs caps", value=_usage_text, display=_usage_cell),
    Column("health", "Health", sortable=True, numeric=True, value=lambda r: r.health_score),
    Column("environment", "Environment", value=lambda r: r.account.environment.value),
    Column("currency", "Currency", hidden=True, value=lambda r: r.account.currency),
    Column("merchant_id", "MID", hidden=True, value=lambda r: r.account.merchant_id),
    Column("id", "ID", hidden=True),
)
FILTERS = (
    Filter("search", "Search", "search", placeholder="Account name"),
    Filter("status", "Status", options=tuple((s.value, s.value) for s in AccountStatus)),
    Filter(
        "provider_type",
        "Gateway",
        options=tuple((n, g.connector.display_name) for n, g in sorted(registry.GATEWAYS.items())),
    ),
)
SORT_KEYS: Mapping[str, Any] = {
    "name": lambda a: a.name.lower(),
    "provider": lambda a: a.provider_type,
    "status": lambda a: a.status.value,
    "health": lambda a: HealthMetrics.model_validate(a.health_metrics).health_score or -1,
}


async def _all_accounts(
    session: AsyncSession, principal: Principal, table: Table
) -> list[MerchantAccount]:
    """Every account in scope matching the table's filters, through the API's list service."""
    status = table.value("status")
    found: list[MerchantAccount] = []
    cursor: str | None = None
    while True:
        page = await routing.list_accounts(
            session=session,
            principal=principal,
            page=PageParams(limit=100, starting_after=cursor),
            status=AccountStatus(status) if status in set(AccountStatus) else None,
            provider_type=table.value("provider_type"),
            company_id=None,
            search=table.value("search"),
        )
        found.extend(page.items)
        if not page.has_more:
            return found
        cursor = page.next_cursor


def _sorted(accounts: list[MerchantAccount], table: Table) -> list[MerchantAccount]:
    key = SORT_KEYS.get(table.sort_key or "")
    return sorted(accounts, key=key, reverse=table.descending) if key else accounts


async def _rows(session: AsyncSession, accounts: Sequence[MerchantAccount]) -> list[AccountRow]:
    return [
        AccountRow(account, meters(await routing.current_usage(session, account)))
        for account in accounts
    ]


def _table(request: Request) -> Table:
    return Table.from_request(
        request,
        id="accounts-table",
        columns=COLUMNS,
        filters=FILTERS,
        empty_title="No merchant accounts yet",
        empty_text="No merchant accounts yet — add one to start routing payments.",
        export_name="merchant-accounts",
    )


async def _list_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    errors, submitted = errors or {}, submitted or {}
    table = _table(request)
    accounts = _sorted(await _all_accounts(session, principal, table), table)
    if wants_csv(request):
        return table.csv_response(await _rows(session, accounts))
    start = (table.page - 1) * table.page_size
    table.rows = await _rows(session, accounts[start : start + table.page_size])
    table.total, table.has_more = len(accounts), start + table.page_size < len(accounts)
    if is_htmx(request) and request.headers.get("HX-Target") == table.id:
        return render(request, "partials/table.html", {"table": table}, principal=principal)
    providers = provider_forms(errors, submitted.get("provider_type"))
    chosen = next((p for p in providers if p.name == submitted.get("provider_type")), None)
    return render(
        request,
        "accounts/list.html",
        {
            "table": table,
            "providers": providers,
            "companies": await common.visible_companies(session, principal),
            "brands": BRANDS,
            "money_limits": MONEY_LIMITS,
            "count_limits": COUNT_LIMITS,
            "stray": forms.stray_errors(errors, chosen.fields if chosen else [], MODAL_INPUTS),
            **common.add_form_context(
                errors, submitted, can_write=P.ACCOUNTS_WRITE in principal.permissions
            ),
        },
        principal=principal,
        status_code=status_code,
        breadcrumbs=(("Routing", None), ("Merchant accounts", PATH)),
    )


@router.get(PATH)
async def list_accounts(request: Request, session: Session, principal: AccountsRead) -> Any:
    return await _list_page(request, session, principal)


@router.post(PATH)
async def add_account(
    request: Request,
    session: Session,
    principal: AccountsWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    form = await request.form()
    try:
        account = await routing.create_account(
            session=session,
            principal=principal,
            keyring=runtime.keyring,
            data=create_request(form),
        )
    except (AppError, ValidationError) as exc:
        return await common.refused(_list_page, request, session, principal, exc, echo(form))
    flash(request, f"Added {account.name}.")
    return RedirectResponse(f"{PATH}/{account.id}", status_code=303)


# --- detail, edit, test ----------------------------------------------------------------------


async def _detail_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    runtime: Runtime,
    account: MerchantAccount,
    *,
    tab: str = "general",
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    detail = await routing.account_detail(session=session, keyring=runtime.keyring, account=account)
    usage = await routing.account_usage(
        session=session, principal=principal, account_id=account.id, period=Period.DAY, limit=14
    )
    recent = await payments.list_payments(
        session, principal, RECENT, payments.PaymentFilters(merchant_account_id=account.id)
    )
    activity = await audit.list_entries(
        session=session,
        principal=principal,
        page=RECENT,
        resource="merchant_account",
        resource_id=account.id,
    )
    current = meters(detail.usage)
    connector = registry.gateway(account.provider_type).connector
    schema = connector.credentials_schema
    credential_fields = forms.schema_fields(
        schema, prefix="credentials", masks=detail.credentials, errors=errors
    )
    return render(
        request,
        "accounts/detail.html",
        {
            "account": detail,
            "gateway_name": connector.display_name,
            "health": await routing.account_health(
                session=session, principal=principal, account_id=account.id
            ),
            "meters": current,
            "alerts": [m for m in current if m.near_limit],
            "monitoring": await disputes.monitoring(
                session=session, principal=principal, account_id=account.id
            ),
            "chart": usage_chart(usage.history, account.currency) if usage.history else None,
            "payments": recent.items,
            "activity": [(entry, activity_summary(entry)) for entry in activity.items],
            "values": form_values(detail),
            "tab": tab if tab in TABS else "general",
            "tabs": TABS,
            "credential_fields": credential_fields,
            "stray": forms.stray_errors(errors or {}, credential_fields, MODAL_INPUTS),
            "brands": BRANDS,
            "money_limits": MONEY_LIMITS,
            "count_limits": COUNT_LIMITS,
            "errors": errors or {},
            "can_write": P.ACCOUNTS_WRITE in principal.permissions,
        },
        principal=principal,
        status_code=status_code,
        breadcrumbs=(("Routing", None), ("Merchant accounts", PATH), (account.name, None)),
    )


@router.get(PATH + "/{account_id}")
async def account_page(
    account_id: str,
    request: Request,
    session: Session,
    principal: AccountsRead,
    runtime: RuntimeDep,
) -> Any:
    account = await routing.get_account(session=session, principal=principal, account_id=account_id)
    tab = request.query_params.get("tab", "general")
    return await _detail_page(request, session, principal, runtime, account, tab=tab)


@router.post(PATH + "/{account_id}/edit/{tab}")
async def save_account(
    account_id: str,
    tab: str,
    request: Request,
    session: Session,
    principal: AccountsWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    if tab not in TABS:
        raise NotFound(f"No tab {tab!r}.", param="tab")
    account = await routing.get_account(session=session, principal=principal, account_id=account_id)
    form = await request.form()
    try:
        stored = routing.decrypt_credentials(runtime.keyring, account) or {}
        account = await routing.update_account(
            session=session,
            principal=principal,
            keyring=runtime.keyring,
            account_id=account.id,
            data=update_request(tab, form, account, stored),
        )
    except (AppError, ValidationError) as exc:
        await session.rollback()
        account = await routing.get_account(
            session=session, principal=principal, account_id=account_id
        )
        return await _detail_page(
            request,
            session,
            principal,
            runtime,
            account,
            tab=tab,
            errors=forms.errors_of(exc),
            status_code=400,
        )
    flash(request, f"Saved the {tab} of {account.name}.")
    return RedirectResponse(f"{PATH}/{account.id}?tab={tab}", status_code=303)


@router.post(PATH + "/{account_id}/test")
async def test_account(
    account_id: str,
    request: Request,
    session: Session,
    principal: AccountsWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    await session.commit()  # the test works in its own transactions
    result = await connection.verify_connection(
        sessions=runtime.sessions,
        principal=principal,
        keyring=runtime.keyring,
        http=runtime.http,
        account_id=account_id,
    )
    if result.success:
        flash(request, f"Connection OK ({result.latency_ms:.0f} ms). {result.message}")
    else:
        flash(request, f"Connection failed. {result.message}", "bad")
    return RedirectResponse(f"{PATH}/{account_id}", status_code=303)
