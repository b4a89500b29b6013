"""The dashboard session: HttpOnly cookies holding the API's own access and refresh tokens,
checked by the same code as a bearer token, plus page permissions and CSRF checks.

`PagePrincipal` sends a visitor without a session to `/login?next=<path>`; an expired access token
is refreshed with the refresh cookie and the request repeated (307 keeps the method and body)."""

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from avnz.auth import service as auth_service
from avnz.auth.permissions import Level, Permission
from avnz.auth.scope import Principal
from avnz.core.errors import Unauthenticated
from avnz.deps import RuntimeDep, Session, principal_from_token
from avnz.runtime import Runtime
from avnz.web import csrf
from avnz.web.templating import is_htmx, render

ACCESS_COOKIE = "avnz_session"
REFRESH_COOKIE = "avnz_refresh"
# The dashboard's test/live switch: "live" puts the session in live mode, anything else (or
# nothing) in test mode.
MODE_COOKIE = "avnz_mode"
LOGIN_PATH = "/login"


class PageInterrupt(Exception):
    """Stops a page handler and answers with `response` instead (a redirect, a 403 page)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def on_page_interrupt(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageInterrupt)
    return exc.response


def is_secure(request: Request, runtime: Runtime) -> bool:
    """Secure cookies behind TLS: the request came over https, or the public URL is https."""
    return request.url.scheme == "https" or runtime.settings.base_url.startswith("https://")


def set_session_cookies(
    response: Response, request: Request, runtime: Runtime, pair: auth_service.TokenPair
) -> None:
    secure = is_secure(request, runtime)
    common = {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}
    response.set_cookie(ACCESS_COOKIE, pair.access_token, **common)  # type: ignore[arg-type]
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=runtime.settings.refresh_token_ttl_seconds,
        **common,  # type: ignore[arg-type]
    )


def clear_session_cookies(response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE, MODE_COOKIE):
        response.delete_cookie(name, path="/", httponly=True, samesite="lax")


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (open redirect), never back to /login."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or parts.path == LOGIN_PATH:
        return "/"
    return target


def login_redirect(request: Request) -> Response:
    """To the login page, coming back here after; HTMX swaps would hide a redirect, so it gets
    an HX-Redirect that makes the whole page navigate."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{LOGIN_PATH}?next={quote(here, safe='/')}"
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": target})
    response = RedirectResponse(target, status_code=303)
    clear_session_cookies(response)
    return response


async def _refreshed(request: Request, runtime: Runtime, session: Session) -> Response | None:
    """A repeat of this request carrying new cookies, when the refresh cookie still works."""
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if not refresh_token:
        return None
    try:
        outcome = await auth_service.refresh(
            session=session,
            keyset=runtime.keyset,
            settings=runtime.settings,
            refresh_token=refresh_token,
        )
    except Unauthenticated:
        return None
    if isinstance(outcome, auth_service.RefreshReused):
        await session.commit()  # the revocation must stick although this request fails
        return None
    await session.commit()  # the rotated token must be stored before the browser uses it
    response = RedirectResponse(str(request.url), status_code=307)
    set_session_cookies(response, request, runtime, outcome)
    return response


async def page_principal(request: Request, runtime: RuntimeDep, session: Session) -> Principal:
    """The signed-in user behind the session cookie, or a detour to the login page."""
    token = request.cookies.get(ACCESS_COOKIE)
    if not token:
        raise PageInterrupt(login_redirect(request))
    try:
        principal = await principal_from_token(request, runtime, session, token)
    except Unauthenticated as exc:
        repeat = (
            await _refreshed(request, runtime, session) if exc.code == "token_expired" else None
        )
        raise PageInterrupt(repeat or login_redirect(request)) from None
    if principal.kind != "user":
        raise PageInterrupt(login_redirect(request))
    # Test mode unless the switch says live: pages see and make the objects of one mode.
    return replace(principal, livemode=request.cookies.get(MODE_COOKIE) == "live")


PagePrincipal = Annotated[Principal, Depends(page_principal)]


def forbidden_page(request: Request, principal: Principal) -> HTMLResponse:
    return render(
        request,
        "errors/error.html",
        {
            "status": 403,
            "title": "You don't have access",
            "message": "Your role does not include this page. Ask an administrator if you need it.",
        },
        principal=principal,
        status_code=403,
    )


def page_requires(
    *permissions: Permission, level: Level = Level.COMPANY
) -> Callable[..., Awaitable[Principal]]:
    """A dependency returning the principal when it has every permission and stands at `level`
    or above in the hierarchy (default: any level); otherwise a 403 page."""
    needed = frozenset(permissions)

    async def dependency(request: Request, principal: PagePrincipal) -> Principal:
        if not needed <= principal.permissions or principal.level > level:
            raise PageInterrupt(forbidden_page(request, principal))
        return principal

    return dependency


async def csrf_checked(
    request: Request, runtime: RuntimeDep, principal: PagePrincipal
) -> Principal:
    """For every state-changing page handler: the form's `csrf_token` (or the X-CSRF-Token
    header) must belong to this session, else a 403 page and nothing is changed."""
    if not csrf.matches(runtime, principal, await csrf.presented_token(request)):
        raise PageInterrupt(
            render(
                request,
                "errors/error.html",
                {
                    "status": 403,
                    "title": "The form has expired",
                    "message": "Nothing was changed. Reload the page and try again.",
                },
                principal=principal,
                status_code=403,
            )
        )
    return principal


CsrfChecked = Annotated[Principal, Depends(csrf_checked)]
