"""Account pool pages: `/pools` (list, add modal) and `/pools/{id}` (members in failover order
with drag-and-drop and weight sliders, settings, failover, statistics, the simulator).

Every read and write is `routing.pools`, called with the signed-in principal as the API calls it;
a refused save is rolled back and re-renders the form with the message at the input its `param`
names. The view models are `pool_view`, the forms' parsing `pool_forms`.
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.cards import Brand
from avnz.core.errors import AppError, InvalidRequest
from avnz.deps import Session
from avnz.routing.accounts import service as accounts
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.pools import service as pools
from avnz.routing.pools.models import AccountPool
from avnz.routing.pools.schemas import (
    MembershipCreate,
    PoolUpdate,
    SimulateOut,
)
from avnz.routing.strategies import STRATEGIES
from avnz.web import forms
from avnz.web.auth import CsrfChecked, page_requires
from avnz.web.flash import flash
from avnz.web.pages import common
from avnz.web.pages.common import EVERYTHING
from avnz.web.pages.pool_forms import (
    SETTINGS_FIELDS,
    create_request,
    failover_request,
    member_changes,
    simulate_request,
    update_request,
)
from avnz.web.pages.pool_view import (
    failover_fields,
    stats_charts,
    strategy_choices,
    strategy_help,
    weight_shares,
)
from avnz.web.templating import is_htmx, render

router = APIRouter()
P = Permission
PoolsRead = Annotated[Principal, Depends(page_requires(P.POOLS_READ))]
PoolsWrite = Annotated[Principal, Depends(page_requires(P.POOLS_WRITE))]
PATH = "/pools"
STATS_RANGES = (7, 30, 90)  # days the statistics card offers
BRANDS = tuple(brand.value for brand in Brand if brand is not Brand.UNKNOWN)
# The detail page's inputs; an error naming anything else is shown above the forms.
DETAIL_INPUTS = (
    *SETTINGS_FIELDS,
    "is_active",
    "is_default",
    "merchant_account_id",
    "weight",
    "priority",
    *(f"failover_config.{name}" for name in FailoverConfig.model_fields),
)


# --- list and add ----------------------------------------------------------------------------


async def accounts_of(
    session: AsyncSession, principal: Principal, company_id: str | None
) -> list[MerchantAccount]:
    """The merchant accounts (not closed) in scope, of one company when given, newest first."""
    page = await accounts.list_accounts(
        session=session,
        principal=principal,
        page=EVERYTHING,
        status=None,
        provider_type=None,
        company_id=company_id,
        search=None,
    )
    return page.items


async def _member_counts(session: AsyncSession, items: Sequence[AccountPool]) -> dict[str, int]:
    return {
        pool.id: len((await pools.pool_detail(session=session, pool=pool)).memberships)
        for pool in items
    }


async def _list_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    strategy = request.query_params.get("strategy")
    page = await pools.list_pools(
        session=session,
        principal=principal,
        page=EVERYTHING,
        is_active=None,
        strategy=strategy if strategy in STRATEGIES else None,
        company_id=None,
    )
    merchant_accounts = await accounts_of(session, principal, None)
    return render(
        request,
        "pools/list.html",
        {
            "pools": page.items,
            "member_counts": await _member_counts(session, page.items),
            "strategies": strategy_choices(),
            "strategy_help": strategy_help(),
            "companies": await common.visible_companies(session, principal),
            "accounts": merchant_accounts[::-1],  # oldest first: the usual failover order
            **common.add_form_context(
                errors, submitted, can_write=P.POOLS_WRITE in principal.permissions
            ),
        },
        principal=principal,
        status_code=status_code,
        breadcrumbs=(("Routing", None), ("Pools", PATH)),
    )


@router.get(PATH)
async def list_pools(request: Request, session: Session, principal: PoolsRead) -> Any:
    return await _list_page(request, session, principal)


async def _add_members(
    session: AsyncSession, principal: Principal, pool: AccountPool, form: forms.FormValues
) -> None:
    """The accounts ticked in the add modal, in the order listed, each with its weight."""
    for position, account_id in enumerate(str(v) for v in form.getlist("accounts")):
        data = MembershipCreate.model_validate(
            {
                "merchant_account_id": account_id,
                "weight": str(form.get(f"weight.{account_id}") or "100"),
                "priority": position,
            }
        )
        await pools.add_account(session=session, principal=principal, pool_id=pool.id, data=data)


def _echo(form: forms.FormValues) -> dict[str, Any]:
    """What the re-rendered add modal fills in again after a refused save."""
    values: dict[str, Any] = {str(k): str(v) for k, v in form.items() if k != "csrf_token"}
    values["accounts"] = [str(v) for v in form.getlist("accounts")]
    return values


@router.post(PATH)
async def add_pool(
    request: Request, session: Session, principal: PoolsWrite, _csrf: CsrfChecked
) -> Any:
    form = await request.form()
    try:
        pool = await pools.create_pool(
            session=session, principal=principal, data=create_request(form)
        )
        await _add_members(session, principal, pool, form)
    except (AppError, ValidationError) as exc:
        return await common.refused(_list_page, request, session, principal, exc, _echo(form))
    flash(request, f"Created pool {pool.name}.")
    return RedirectResponse(f"{PATH}/{pool.id}", status_code=303)


# --- detail ----------------------------------------------------------------------------------


def _stats_days(request: Request) -> int:
    raw = request.query_params.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in STATS_RANGES else STATS_RANGES[1]


async def _detail_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    pool: AccountPool,
    *,
    errors: Mapping[str, str] | None = None,
    simulation: SimulateOut | None = None,
    status_code: int = 200,
) -> Response:
    detail = await pools.pool_detail(session=session, pool=pool)
    days = _stats_days(request)
    stats = await pools.pool_stats(
        session=session,
        principal=principal,
        pool_id=pool.id,
        created_from=clock.now() - timedelta(days=days),
        created_to=None,
    )
    company_accounts = await accounts_of(session, principal, pool.company_id)
    members = [m.merchant_account_id for m in detail.memberships]
    currencies = {a.id: a.currency for a in company_accounts}
    return render(
        request,
        "pools/detail.html",
        {
            "pool": detail,
            "shares": weight_shares(detail),
            "addable": [a for a in company_accounts if a.id not in members],
            "default_currency": currencies.get(members[0], "USD") if members else "USD",
            "stats": stats,
            "stats_days": days,
            "charts": stats_charts(stats),
            "detail_inputs": DETAIL_INPUTS,
            "stats_ranges": STATS_RANGES,
            "strategies": strategy_choices(),
            "strategy_help": strategy_help(),
            "failover_fields": failover_fields(detail.failover_config),
            "brands": BRANDS,
            "simulation": simulation,
            "errors": errors or {},
            "can_write": P.POOLS_WRITE in principal.permissions,
        },
        principal=principal,
        status_code=status_code,
        breadcrumbs=(("Routing", None), ("Pools", PATH), (pool.name, None)),
    )


@router.get(PATH + "/{pool_id}")
async def pool_page(pool_id: str, request: Request, session: Session, principal: PoolsRead) -> Any:
    pool = await pools.get_pool(session=session, principal=principal, pool_id=pool_id)
    return await _detail_page(request, session, principal, pool)


async def _refused(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    pool_id: str,
    exc: AppError | ValidationError,
) -> Response:
    """Undo the failed change and show the pool again with the message at its input."""
    await session.rollback()
    pool = await pools.get_pool(session=session, principal=principal, pool_id=pool_id)
    return await _detail_page(
        request, session, principal, pool, errors=forms.errors_of(exc), status_code=400
    )


def _back(pool_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"{PATH}/{pool_id}{anchor}", status_code=303)


async def _save_pool(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    pool_id: str,
    read: Callable[[FormData], PoolUpdate],
    saved: str,
) -> Response:
    """One of the detail page's forms (settings or failover) saved as the API's update."""
    form = await request.form()
    try:
        await pools.update_pool(
            session=session, principal=principal, pool_id=pool_id, data=read(form)
        )
    except (AppError, ValidationError) as exc:
        return await _refused(request, session, principal, pool_id, exc)
    flash(request, saved)
    return _back(pool_id)


@router.post(PATH + "/{pool_id}")
async def update_pool(
    pool_id: str, request: Request, session: Session, principal: PoolsWrite, _csrf: CsrfChecked
) -> Any:
    return await _save_pool(
        request, session, principal, pool_id, update_request, "Saved the pool's settings."
    )


@router.post(PATH + "/{pool_id}/failover")
async def update_failover(
    pool_id: str, request: Request, session: Session, principal: PoolsWrite, _csrf: CsrfChecked
) -> Any:
    return await _save_pool(
        request, session, principal, pool_id, failover_request, "Saved the failover settings."
    )


@router.post(PATH + "/{pool_id}/delete")
async def deactivate_pool(
    pool_id: str, request: Request, session: Session, principal: PoolsWrite, _csrf: CsrfChecked
) -> Any:
    pool = await pools.delete_pool(session=session, principal=principal, pool_id=pool_id)
    flash(request, f"Deactivated pool {pool.name}.")
    return _back(pool_id)


# --- members ---------------------------------------------------------------------------------


async def _members_fragment(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    pool: AccountPool,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = await pools.pool_detail(session=session, pool=pool)
    return render(
        request,
        "pools/_members.html",
        {
            "pool": detail,
            "shares": weight_shares(detail),
            "members_error": error,
            "can_write": P.POOLS_WRITE in principal.permissions,
        },
        principal=principal,
        status_code=status_code,
    )


@router.post(PATH + "/{pool_id}/members")
async def save_members(
    pool_id: str, request: Request, session: Session, principal: PoolsWrite, _csrf: CsrfChecked
) -> Any:
    """Order (drag and drop), weights (sliders) and active boxes of the members, saved as one
    form; answers the re-drawn member list (HTMX) or the page."""
    form = await request.form()
    pool = await pools.get_pool(session=session, principal=principal, pool_id=pool_id)
    try:
        detail = await pools.pool_detail(session=session, pool=pool)
        for change in member_changes(form, detail):
            await pools.update_account(
                session=session,
                principal=principal,
                pool_id=pool.id,
                account_id=change.account_id,
                data=change.update,
            )
    except AppError as exc:
        await session.rollback()
        pool = await pools.get_pool(session=session, principal=principal, pool_id=pool_id)
        return await _members_fragment(
            request, session, principal, pool, error=exc.message, status_code=exc.status_code
        )
    return await _members_fragment(request, session, principal, pool)


@router.post(PATH + "/{pool_id}/accounts")
async def add_member(
    pool_id: str, request: Request, session: Session, principal: PoolsWrite, _csrf: CsrfChecked
) -> Any:
    form = await request.form()
    try:
        data = MembershipCreate.model_validate(
            {
                "merchant_account_id": str(form.get("merchant_account_id") or ""),
                "weight": str(form.get("weight") or "100"),
                "priority": str(form.get("priority") or "0"),
            }
        )
        await pools.add_account(session=session, principal=principal, pool_id=pool_id, data=data)
    except (AppError, ValidationError) as exc:
        return await _refused(request, session, principal, pool_id, exc)
    flash(request, "Added the account to the pool.")
    return _back(pool_id, "#members")


@router.post(PATH + "/{pool_id}/accounts/{account_id}/remove")
async def remove_member(
    pool_id: str,
    account_id: str,
    request: Request,
    session: Session,
    principal: PoolsWrite,
    _csrf: CsrfChecked,
) -> Any:
    await pools.remove_account(
        session=session, principal=principal, pool_id=pool_id, account_id=account_id
    )
    flash(request, "Removed the account from the pool.")
    if is_htmx(request):  # the button sits inside the members form: reload the whole page
        return Response(headers={"HX-Redirect": f"{PATH}/{pool_id}#members"})
    return _back(pool_id, "#members")


# --- simulator -------------------------------------------------------------------------------


def _currency(form: forms.FormValues) -> str:
    """The simulator's currency (the page fills in the first member account's)."""
    typed = str(form.get("currency") or "USD").strip().upper()
    try:
        forms.minor_units("0", typed, param="currency")
    except ValueError:
        raise InvalidRequest(f"{typed!r} is not a currency code.", param="currency") from None
    return typed


@router.post(PATH + "/{pool_id}/simulate")
async def simulate_pool(
    pool_id: str, request: Request, session: Session, principal: PoolsRead, _csrf: CsrfChecked
) -> Any:
    """A dry run of the pool's strategy (nothing is written): the results card."""
    form = await request.form()
    try:
        data = simulate_request(form, _currency(form))
        result = await pools.simulate(
            session=session, principal=principal, pool_id=pool_id, data=data
        )
    except (AppError, ValidationError) as exc:
        return render(
            request,
            "pools/_simulation.html",
            {"simulation": None, "sim_errors": forms.errors_of(exc)},
            principal=principal,
            status_code=exc.status_code if isinstance(exc, AppError) else 400,
        )
    return render(
        request,
        "pools/_simulation.html",
        {"simulation": result, "sim_errors": {}, "currency": result.currency},
        principal=principal,
    )
