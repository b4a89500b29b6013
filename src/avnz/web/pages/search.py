"""Global search: customers, transactions and merchant accounts by id or name, each through its
own service so the caller's scope and permissions apply exactly as in the API."""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.commerce import service as commerce
from avnz.core.errors import NotFound
from avnz.core.pagination import PageParams
from avnz.deps import Session
from avnz.payments import reading
from avnz.routing.accounts import service as routing
from avnz.web.auth import PagePrincipal
from avnz.web.templating import page_paths, render

router = APIRouter()
PER_KIND = 10
FIRST_PAGE = PageParams(limit=PER_KIND, starting_after=None)


@dataclass
class Results:
    customers: list[Any] = field(default_factory=list)
    payments: list[Any] = field(default_factory=list)
    accounts: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.customers) + len(self.payments) + len(self.accounts)


async def _with_exact(
    found: list[Any], q: str, prefix: str, fetch: Callable[[], Awaitable[Any]]
) -> list[Any]:
    """The matches by name, with the record whose id is exactly `q` first (when visible)."""
    if not q.startswith(prefix) or any(row.id == q for row in found):
        return found
    with contextlib.suppress(NotFound):
        return [await fetch(), *found]
    return found


async def _customers(session: AsyncSession, principal: Principal, q: str) -> list[Any]:
    page = await commerce.list_customers(
        session=session, principal=principal, page=FIRST_PAGE, search=q
    )
    return await _with_exact(
        page.items,
        q,
        "cus_",
        lambda: commerce.get_customer(session=session, principal=principal, customer_id=q),
    )


async def _accounts(session: AsyncSession, principal: Principal, q: str) -> list[Any]:
    page = await routing.list_accounts(
        session=session,
        principal=principal,
        page=FIRST_PAGE,
        status=None,
        provider_type=None,
        company_id=None,
        search=q,
    )
    return await _with_exact(
        page.items,
        q,
        "ma_",
        lambda: routing.get_account(session=session, principal=principal, account_id=q),
    )


async def search_all(session: AsyncSession, principal: Principal, q: str) -> Results:
    """What this principal may see matching `q`; a kind they may not read stays empty."""
    results = Results()
    allowed = principal.permissions
    if Permission.CUSTOMERS_READ in allowed:
        results.customers = await _customers(session, principal, q)
    if Permission.TRANSACTIONS_READ in allowed:
        filters = reading.PaymentFilters(search=q)
        results.payments = (
            await reading.list_payments(session, principal, FIRST_PAGE, filters)
        ).items
    if Permission.ACCOUNTS_READ in allowed:
        results.accounts = await _accounts(session, principal, q)
    return results


@router.get("/search", response_class=HTMLResponse)
async def search(
    request: Request,
    session: Session,
    principal: PagePrincipal,
    q: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    q = q.strip()
    results = await search_all(session, principal, q) if q else Results()
    return render(
        request,
        "pages/search.html",
        {
            "q": q,
            "search_query": q,
            "results": results,
            "accounts_linkable": any(
                p.startswith("/merchant-accounts/{") for p in page_paths(request)
            ),
        },
        principal=principal,
        breadcrumbs=(("Search", None),),
    )
