"""Sign in (email and password, or the organization's identity provider) and sign out."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from avnz.auth import service as auth_service
from avnz.core.errors import RateLimited, Unauthenticated
from avnz.deps import RuntimeDep, Session, client_ip
from avnz.runtime import Runtime
from avnz.security.passwords import new_token
from avnz.web import oidc_login
from avnz.web.auth import (
    LOGIN_PATH,
    CsrfChecked,
    clear_session_cookies,
    is_secure,
    safe_next,
    set_session_cookies,
)
from avnz.web.templating import render_public

router = APIRouter()

# Before sign-in there is no session to bind a CSRF token to: the form carries the same random
# value as this cookie (double submit), so another site cannot sign a browser into its account.
LOGIN_CSRF_COOKIE = "avnz_login_csrf"
TOO_MANY_ATTEMPTS = "Too many sign-in attempts. Wait a minute and try again."


async def _login_page(
    request: Request,
    runtime: Runtime,
    session: Session,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = new_token()
    response = render_public(
        request,
        "pages/login.html",
        {
            "csrf_token": token,
            "next": next_path,
            "email": email,
            "error": error,
            "oidc_available": await oidc_login.available(session, runtime),
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=is_secure(request, runtime),
        path=LOGIN_PATH,
    )
    return response


@router.get(LOGIN_PATH)
async def login_form(
    request: Request, runtime: RuntimeDep, session: Session, next: str | None = None
) -> Response:
    """Public. The sign-in form."""
    return await _login_page(request, runtime, session, next_path=safe_next(next))


@router.post(LOGIN_PATH)
async def login_submit(
    request: Request,
    runtime: RuntimeDep,
    session: Session,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Public. Check the password like the API does (same rate limit, same answer for any miss)
    and start a session in cookies."""
    page = {"next_path": safe_next(next), "email": email}
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        error = "The form expired. Please sign in again."
        return await _login_page(request, runtime, session, **page, error=error, status_code=403)
    try:
        await runtime.limiter.check(runtime.limits.auth, client_ip(request))
        async with runtime.login_backoff.attempt(email):
            pair = await auth_service.login(
                session=session,
                keyset=runtime.keyset,
                settings=runtime.settings,
                email=email,
                password=password,
            )
    except RateLimited:
        return await _login_page(
            request, runtime, session, **page, error=TOO_MANY_ATTEMPTS, status_code=429
        )
    except Unauthenticated as exc:
        return await _login_page(
            request, runtime, session, **page, error=exc.message, status_code=401
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookies(response, request, runtime, pair)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout")
async def logout(principal: CsrfChecked, session: Session) -> Response:
    """End the login session (its tokens stop working everywhere) and clear the cookies."""
    if principal.session_id is not None:
        await auth_service.revoke_session(
            session=session, session_id=principal.session_id, reason="logout"
        )
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_session_cookies(response)
    return response


# --- the identity provider ---------------------------------------------------------------------


@router.get(oidc_login.COOKIE_PATH)
async def oidc_start(
    request: Request, runtime: RuntimeDep, session: Session, next: str | None = None
) -> Response:
    """Public. Off to the identity provider, with state, nonce and a PKCE challenge."""
    try:
        authorize_url, sealed = await oidc_login.begin(session, runtime, safe_next(next))
    except oidc_login.SignInFailed as exc:
        return await _login_page(
            request, runtime, session, next_path=safe_next(next), error=exc.message, status_code=503
        )
    response = RedirectResponse(authorize_url, status_code=303)
    response.set_cookie(
        oidc_login.COOKIE,
        sealed,
        max_age=oidc_login.FLOW_SECONDS,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=is_secure(request, runtime),
        path=oidc_login.COOKIE_PATH,
    )
    return response


@router.get(oidc_login.CALLBACK_PATH)
async def oidc_callback(
    request: Request,
    runtime: RuntimeDep,
    session: Session,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Public. The provider sends the browser back here with a code to exchange."""
    try:
        await runtime.limiter.check(runtime.limits.auth, client_ip(request))
        if error or not code:
            raise oidc_login.SignInFailed("The identity provider did not sign you in.")
        user, next_path = await oidc_login.complete(
            session, runtime, sealed=request.cookies.get(oidc_login.COOKIE), code=code, state=state
        )
    except RateLimited:
        return await _login_page(
            request, runtime, session, next_path="/", error=TOO_MANY_ATTEMPTS, status_code=429
        )
    except oidc_login.SignInFailed as exc:
        return await _login_page(
            request, runtime, session, next_path="/", error=exc.message, status_code=401
        )
    pair = await auth_service.start_session(
        session=session, keyset=runtime.keyset, settings=runtime.settings, user=user
    )
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookies(response, request, runtime, pair)
    response.delete_cookie(oidc_login.COOKIE, path=oidc_login.COOKIE_PATH)
    return response
