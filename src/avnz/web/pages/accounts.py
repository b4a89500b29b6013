"""Merchant account pages: `/merchant-accounts` (list, 5-step add modal) and
`/merchant-accounts/{id}` (usage meters, health, recent transactions, activity, edit tabs).

Reads and writes are the routing service's, called with the signed-in principal as the API calls
it; a refused save re-renders the form with the message at the field its `param` names.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.audit.models import AuditLog
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.cards import Brand
from avnz.core.errors import AppError, InvalidRequest, NotFound
from avnz.core.money import currency_exponent
from avnz.core.pagination import PageParams
from avnz.deps import RuntimeDep, Session
from avnz.gateways import registry
from avnz.payments import reading as payments
from avnz.routing import service as routing
from avnz.routing.models import AccountStatus, MerchantAccount, Period
from avnz.routing.schemas import (
    AccountLimits,
    HealthMetrics,
    MerchantAccountCreate,
    MerchantAccountDetail,
    MerchantAccountUpdate,
    UsageBucketOut,
)
from avnz.runtime import Runtime
from avnz.web import forms
from avnz.web.auth import CsrfChecked, page_requires
from avnz.web.flash import flash
from avnz.web.pages import common
from avnz.web.tables import Column, Filter, Table, wants_csv
from avnz.web.templating import badge, is_htmx, render

router = APIRouter()
P = Permission
AccountsRead = Annotated[Principal, Depends(page_requires(P.ACCOUNTS_READ))]
AccountsWrite = Annotated[Principal, Depends(page_requires(P.ACCOUNTS_WRITE))]
PATH = "/merchant-accounts"
NEAR_LIMIT = 0.8  # a meter at or above 80 % of its cap raises an alert
RECENT = PageParams(limit=10, starting_after=None)
BRANDS = tuple(brand.value for brand in Brand if brand is not Brand.UNKNOWN)
MONEY_LIMITS = tuple(
    name for name in AccountLimits.model_fields if name.endswith(("_amount", "_volume_limit"))
)
COUNT_LIMITS = tuple(name for name in AccountLimits.model_fields if name not in MONEY_LIMITS)
GENERAL_FIELDS = ("name", "description", "merchant_id", "descriptor", "descriptor_phone")
TABS = ("general", "credentials", "limits", "restrictions")
RESTRICTION_LISTS = (
    "allowed_countries",
    "blocked_countries",
    "allowed_card_brands",
    "blocked_card_brands",
)
# Inputs of the add modal outside the provider's credentials (errors there show at the input).
MODAL_INPUTS = (
    "company_id",
    *GENERAL_FIELDS,
    "environment",
    "base_url",
    "currency",
    *(f"limits.{name}" for name in AccountLimits.model_fields),
    *(f"restrictions.{name}" for name in RESTRICTION_LISTS),
    "fees.base_percentage",
    "fees.international_percentage",
    "fees.base_flat_fee",
)


# --- view models -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Meter:
    """One cap of one period: how much of it is used."""

    label: str
    period: str
    used: int
    cap: int
    is_money: bool

    @property
    def ratio(self) -> float:
        return self.used / self.cap if self.cap else 1.0

    @property
    def percent(self) -> int:
        return min(round(self.ratio * 100), 100)

    @property
    def near_limit(self) -> bool:
        return self.ratio >= NEAR_LIMIT


def meters(buckets: Sequence[UsageBucketOut]) -> list[Meter]:
    """A meter per capped count or volume of the current periods (uncapped ones have none)."""
    found = []
    for bucket in buckets:
        if bucket.transaction_limit is not None:
            found.append(
                Meter(
                    "transactions",
                    bucket.period.value,
                    bucket.transaction_count,
                    bucket.transaction_limit,
                    is_money=False,
                )
            )
        if bucket.volume_limit is not None:
            found.append(
                Meter(
                    "volume",
                    bucket.period.value,
                    bucket.volume_minor,
                    bucket.volume_limit,
                    is_money=True,
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class ProviderForm:
    """A gateway of the add modal and the credential inputs its JSON Schema asks for."""

    name: str
    display_name: str
    fields: list[forms.FormField]


def _provider_forms(errors: Mapping[str, str], chosen: str | None) -> list[ProviderForm]:
    return [
        ProviderForm(
            name,
            gateway.connector.display_name,
            forms.schema_fields(
                gateway.connector.credentials_schema,
                prefix="credentials",
                errors=errors if name == chosen else None,
            ),
        )
        for name, gateway in sorted(registry.GATEWAYS.items())
    ]


# --- form parsing ----------------------------------------------------------------------------


def _limits(form: forms.FormValues, currency: str) -> dict[str, Any]:
    """The limits tab: amounts typed in major units become minor units of `currency`."""
    limits: dict[str, Any] = {}
    for name in MONEY_LIMITS:
        amount = forms.minor_units(
            forms.text(form, f"limits.{name}"), currency, param=f"limits.{name}"
        )
        if amount is not None:
            limits[name] = amount
    for name in COUNT_LIMITS:
        raw = str(form.get(f"limits.{name}") or "").strip()
        if raw:
            limits[name] = raw
    return limits


def _codes(form: forms.FormValues, name: str) -> list[str]:
    """A list typed as comma-separated codes (`US, CA`) or picked as checkboxes."""
    values = [str(v) for v in form.getlist(name)]
    return [code.strip() for v in values for code in v.split(",") if code.strip()]


def _restrictions(form: forms.FormValues) -> dict[str, Any]:
    return {name: _codes(form, f"restrictions.{name}") for name in RESTRICTION_LISTS}


def _fees(form: forms.FormValues, currency: str) -> dict[str, Any]:
    fees: dict[str, Any] = {
        name: value
        for name in ("base_percentage", "international_percentage")
        if (value := forms.text(form, f"fees.{name}"))
    }
    flat = forms.minor_units(
        forms.text(form, "fees.base_flat_fee"), currency, param="fees.base_flat_fee"
    )
    if flat is not None:
        fees["base_flat_fee"] = flat
    return fees


def _currency(form: forms.FormValues, fallback: str = "USD") -> str:
    currency = (forms.text(form, "currency") or fallback).upper()
    try:
        currency_exponent(currency)
    except ValueError:
        raise InvalidRequest(f"{currency!r} is not a currency code.", param="currency") from None
    return currency


def _credentials(form: forms.FormValues, provider: str, *, keep_blank: bool) -> dict[str, Any]:
    if provider not in registry.GATEWAYS:
        raise InvalidRequest("Choose a gateway.", param="provider_type")
    schema = registry.gateway(provider).connector.credentials_schema
    return forms.parse_schema_form(
        schema, form, prefix="credentials", keep_blank_secrets=keep_blank
    )


def create_request(form: forms.FormValues) -> MerchantAccountCreate:
    """The 5-step modal's fields as the API's create request (validated by it)."""
    provider = str(form.get("provider_type") or "")
    currency = _currency(form)
    values: dict[str, Any] = {
        **forms.nested(form, ("company_id", *GENERAL_FIELDS, "environment", "base_url")),
        "provider_type": provider,
        "currency": currency,
        "credentials": _credentials(form, provider, keep_blank=False),
        "limits": _limits(form, currency),
        "fees": _fees(form, currency),
        "restrictions": _restrictions(form),
    }
    return MerchantAccountCreate.model_validate(values)


def update_request(
    tab: str,
    form: forms.FormValues,
    account: MerchantAccount,
    stored_credentials: Mapping[str, str],
) -> MerchantAccountUpdate:
    """One edit tab's fields as the API's update request; the other tabs' fields stay. A blank
    secret keeps the stored one (the API replaces credentials whole, so they are merged here)."""
    values: dict[str, Any]
    if tab == "general":
        values = {name: str(form.get(name) or "").strip() or None for name in GENERAL_FIELDS}
        values["name"] = str(form.get("name") or "")
        if status := form.get("status"):
            values["status"] = status
    elif tab == "credentials":
        changes = _credentials(form, account.provider_type, keep_blank=True)
        values = {"credentials": {**stored_credentials, **changes}}
    elif tab == "limits":
        values = {"limits": _limits(form, account.currency)}
    else:
        values = {"restrictions": _restrictions(form)}
    return MerchantAccountUpdate.model_validate(values)


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
    providers = _provider_forms(errors, submitted.get("provider_type"))
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


def _echo(form: forms.FormValues) -> dict[str, Any]:
    """What the re-rendered modal fills in again after a refused save: never a credential."""
    echo: dict[str, Any] = {
        str(key): str(value)
        for key, value in form.multi_items()
        if not str(key).startswith("credentials.") and key != "csrf_token"
    }
    for name in ("allowed_card_brands", "blocked_card_brands"):
        echo[f"restrictions.{name}"] = [str(v) for v in form.getlist(f"restrictions.{name}")]
    return echo


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
        return await common.refused(_list_page, request, session, principal, exc, _echo(form))
    flash(request, f"Added {account.name}.")
    return RedirectResponse(f"{PATH}/{account.id}", status_code=303)


# --- detail, edit, test ----------------------------------------------------------------------

_BOOKKEEPING = frozenset({"updated_at", "updated_by", "status_changed_at"})


def activity_summary(entry: AuditLog) -> str:
    """One line for the activity log: what happened, and which fields a change touched."""
    details = entry.metadata_ or {}
    if details.get("operation") == "test":
        return "Connection test " + ("passed" if details.get("success") else "failed")
    if entry.action != audit.AuditAction.UPDATE.value:
        return {"CREATE": "Created", "DELETE": "Closed"}.get(entry.action, entry.action.lower())
    before, after = entry.previous_value or {}, entry.new_value or {}
    changed = sorted(
        name
        for name in set(before) | set(after)
        if name not in _BOOKKEEPING and before.get(name) != after.get(name)
    )
    return (
        "Changed " + ", ".join(name.replace("_", " ") for name in changed) if changed else "Saved"
    )


def _major(amount: int, currency: str) -> str:
    return str(Decimal(amount).scaleb(-currency_exponent(currency)))


def form_values(detail: MerchantAccountDetail) -> dict[str, Any]:
    """The edit tabs' inputs filled from the account (amounts back in major units)."""
    values: dict[str, Any] = {name: getattr(detail, name) or "" for name in GENERAL_FIELDS}
    for name, amount in detail.limits.model_dump(exclude_none=True).items():
        shown = _major(amount, detail.currency) if name in MONEY_LIMITS else str(amount)
        values[f"limits.{name}"] = shown
    restrictions = detail.restrictions.model_dump(mode="json")
    for name in RESTRICTION_LISTS:
        chosen = restrictions[name]
        values[f"restrictions.{name}"] = chosen if "brands" in name else ", ".join(chosen)
    return values


def usage_chart(history: Sequence[UsageBucketOut], currency: str) -> dict[str, Any]:
    """Past days' transactions and volume (major units), oldest first, for app.js's charts."""
    days = sorted(history, key=lambda bucket: bucket.period_start)
    return {
        "labels": [bucket.period_start.isoformat() for bucket in days],
        "series": [
            {"label": "Transactions", "data": [b.transaction_count for b in days]},
            {
                "label": f"Volume ({currency})",
                "data": [float(_major(b.volume_minor, currency)) for b in days],
            },
        ],
    }


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
    result = await routing.verify_connection(
        session=session,
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
