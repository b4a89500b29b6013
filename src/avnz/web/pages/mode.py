"""The dashboard's test/live switch: a cookie that puts the user's pages in one mode.

Every page then sees and makes only the objects of that mode (payments, refunds, customers,
payment methods, orders, products, webhook endpoints, events), as a test or live API key does.
The switch is a form POST (CSRF-checked) so a link elsewhere cannot flip it.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from avnz.deps import RuntimeDep
from avnz.web.auth import MODE_COOKIE, CsrfChecked, is_secure, safe_next

router = APIRouter()


@router.post("/mode")
async def switch_mode(
    request: Request,
    runtime: RuntimeDep,
    principal: CsrfChecked,
    mode: Annotated[str, Form(max_length=8)] = "test",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Live mode for `mode=live`, test mode otherwise; back to the page the switch was on."""
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        MODE_COOKIE,
        "live" if mode == "live" else "test",
        httponly=True,
        samesite="lax",
        secure=is_secure(request, runtime),
        path="/",
    )
    return response
