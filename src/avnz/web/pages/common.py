"""What several dashboard pages share: the companies a user may pick from, and an add form's
state, shown again with its errors when a save is refused."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.core.errors import AppError
from avnz.core.pagination import PageParams
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import Company
from avnz.web import forms

EVERYTHING = PageParams(limit=100, starting_after=None)


async def visible_companies(session: AsyncSession, principal: Principal) -> list[Company]:
    """The companies (brands) this user sees, by name: the choices of a page's company select
    (the first is the one a page shows until another is picked)."""
    page = await tenancy.list_companies(
        session=session, principal=principal, page=EVERYTHING, client_id=None, status=None
    )
    return sorted(page.items, key=lambda company: (company.name.lower(), company.id))


def add_form_context(
    errors: Mapping[str, str] | None, submitted: Mapping[str, Any] | None, *, can_write: bool
) -> dict[str, Any]:
    """What a page's add modal needs: errors, the values sent, and whether it opens again."""
    return {
        "errors": errors or {},
        "submitted": submitted or {},
        "open_modal": bool(errors),
        "can_write": can_write,
    }


async def refused(
    page: Callable[..., Awaitable[Response]],
    request: Request,
    session: AsyncSession,
    principal: Principal,
    exc: AppError | ValidationError,
    submitted: Mapping[str, Any],
) -> Response:
    """Undo the refused save and show `page` (a page renderer taking `errors=`, `submitted=` and
    `status_code=`) again, 400, with each message at its input and the form filled in as sent."""
    await session.rollback()
    return await page(
        request,
        session,
        principal,
        errors=forms.errors_of(exc),
        submitted=submitted,
        status_code=400,
    )
