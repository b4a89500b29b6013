"""Dashboard sign-in, sign-out, session cookies, refresh, CSRF and page permissions."""

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import httpx
import jwt
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import PlainTextResponse

from avnz.app import create_app
from avnz.auth.permissions import Level, Permission
from avnz.auth.scope import Principal
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from avnz.web.auth import ACCESS_COOKIE, REFRESH_COOKIE, CsrfChecked, page_requires
from tests.conftest import make_settings
from tests.factories import PASSWORD, World
from tests.web.conftest import SignIn, csrf_of

API = "/api/v1"


def _client(app: object, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)  # type: ignore[arg-type]


async def _login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, next: str = "/"
) -> httpx.Response:
    form = await client.get("/login", params={"next": next})
    data = {"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": next}
    return await client.post("/login", data=data)


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    """name -> the whole Set-Cookie header, lower-cased."""
    return {
        header.split("=", 1)[0]: header.lower()
        for header in response.headers.get_list("set-cookie")
    }


async def test_login_sets_http_only_lax_cookies_and_lands_on_next(
    app: object, world: World
) -> None:
    async with _client(app) as client:
        response = await _login(
            client, world.a.users[Role.COMPANY_ADMIN].email, next="/transactions"
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/transactions"
        cookies = _set_cookies(response)
        for name in (ACCESS_COOKIE, REFRESH_COOKIE):
            assert "httponly" in cookies[name]
            assert "samesite=lax" in cookies[name]
            assert "secure" not in cookies[name]  # plain http here
        page = await client.get("/transactions")
        assert page.status_code == 200
        assert "<h1>Transactions</h1>" in page.text


async def test_cookies_are_secure_over_https(app: object, world: World) -> None:
    async with _client(app, "https://testserver") as client:
        response = await _login(client, world.a.users[Role.COMPANY_ADMIN].email)
        assert response.status_code == 303
        assert "; secure" in _set_cookies(response)[ACCESS_COOKIE]


async def test_wrong_password_shows_the_error_and_sets_no_session(
    app: object, world: World
) -> None:
    async with _client(app) as client:
        response = await _login(client, world.a.users[Role.COMPANY_ADMIN].email, "wrong-password")
        assert response.status_code == 401
        assert "Email or password is incorrect." in response.text
        assert ACCESS_COOKIE not in _set_cookies(response)
        assert (await client.get("/")).status_code == 303


async def test_login_form_without_its_csrf_token_is_refused(app: object, world: World) -> None:
    async with _client(app) as client:
        await client.get("/login")
        data = {"email": world.a.users[Role.COMPANY_ADMIN].email, "password": PASSWORD}
        response = await client.post("/login", data={**data, "csrf_token": "forged"})
        assert response.status_code == 403
        assert ACCESS_COOKIE not in _set_cookies(response)


async def test_a_visitor_is_sent_to_login_and_back(app: object) -> None:
    async with _client(app) as client:
        response = await client.get("/transactions?status=declined")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/transactions%3Fstatus%3Ddeclined"
        htmx = await client.get("/transactions", headers={"HX-Request": "true"})
        assert htmx.status_code == 401
        assert htmx.headers["HX-Redirect"] == "/login?next=/transactions"


async def test_next_never_leaves_the_site(app: object, world: World) -> None:
    async with _client(app) as client:
        for target in ("//evil.example.com/", "https://evil.example.com/", "/\\evil.example.com"):
            response = await _login(client, world.a.users[Role.COMPANY_ADMIN].email, next=target)
            assert response.headers["location"] == "/"


async def test_logout_ends_the_session_everywhere(app: object, world: World) -> None:
    async with _client(app) as client:
        await _login(client, world.a.users[Role.COMPANY_ADMIN].email)
        token = client.cookies[ACCESS_COOKIE]
        home = await client.get("/")
        response = await client.post("/logout", data={"csrf_token": csrf_of(home.text)})
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        api = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 401
        assert (await client.get("/")).status_code == 303


async def test_logout_without_csrf_is_refused_and_the_session_stays(
    app: object, world: World
) -> None:
    async with _client(app) as client:
        await _login(client, world.a.users[Role.COMPANY_ADMIN].email)
        for data in ({}, {"csrf_token": "not-the-token"}):
            response = await client.post("/logout", data=data)
            assert response.status_code == 403
            assert "Nothing was changed" in response.text
        assert (await client.get("/")).status_code == 200


async def test_csrf_token_of_another_session_is_refused(signed_in: SignIn) -> None:
    mine = await signed_in(Role.COMPANY_ADMIN)
    theirs = await signed_in(Role.COMPANY_ADMIN, "b")
    their_token = csrf_of((await theirs.get("/")).text)
    response = await mine.post("/logout", data={"csrf_token": their_token})
    assert response.status_code == 403
    assert (await mine.get("/")).status_code == 200


async def test_an_expired_access_token_is_refreshed_and_the_request_repeated(
    app: object, world: World, runtime: Runtime
) -> None:
    user = world.a.users[Role.COMPANY_ADMIN]
    async with _client(app) as client:
        await _login(client, user.email)
        claims = jwt.decode(client.cookies[ACCESS_COOKIE], options={"verify_signature": False})
        expired = runtime.keyset.issue_access_token(
            issuer=runtime.settings.token_issuer,
            subject=user.id,
            session_id=claims["sid"],
            ttl=timedelta(seconds=-60),
            claims={"role": user.role.value, "org": user.organization_id},
        )
        client.cookies.delete(ACCESS_COOKIE)
        client.cookies.set(ACCESS_COOKIE, expired, domain="testserver.local")
        old_refresh = client.cookies[REFRESH_COOKIE]
        response = await client.get("/transactions?status=captured")
        assert response.status_code == 307
        assert response.headers["location"].endswith("/transactions?status=captured")
        assert client.cookies[ACCESS_COOKIE] != expired
        assert client.cookies[REFRESH_COOKIE] != old_refresh  # rotated
        assert (await client.get("/transactions?status=captured")).status_code == 200


async def test_without_a_working_refresh_token_an_expired_session_goes_to_login(
    app: object, world: World, runtime: Runtime
) -> None:
    user = world.a.users[Role.COMPANY_ADMIN]
    expired = runtime.keyset.issue_access_token(
        issuer=runtime.settings.token_issuer,
        subject=user.id,
        session_id="ses_gone",
        ttl=timedelta(seconds=-60),
        claims={},
    )
    async with _client(app) as client:
        client.cookies.set(ACCESS_COOKIE, expired)
        client.cookies.set(REFRESH_COOKIE, "not-a-refresh-token")
        response = await client.get("/")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/"


async def test_page_requires_shows_a_403_page_to_a_role_without_the_permission(
    runtime: Runtime, signed_in: SignIn, world: World
) -> None:
    app = _app_with_probe(runtime)
    async with _client(app) as client:
        for role, expected in (
            (Role.COMPANY_USER, 403),
            (Role.COMPANY_ADMIN, 403),  # has settings:read, but is below client level
            (Role.CLIENT_ADMIN, 200),
        ):
            client.cookies.set(ACCESS_COOKIE, world.headers(role)["Authorization"][7:])
            response = await client.get("/probe/settings")
            assert response.status_code == expected, role
            if expected == 403:
                assert "You don&#39;t have access" in response.text
        client.cookies.set(ACCESS_COOKIE, world.headers(Role.COMPANY_USER)["Authorization"][7:])
        assert (await client.get("/probe/transactions")).status_code == 200


async def test_csrf_checked_refuses_a_post_without_the_token_and_runs_nothing(
    runtime: Runtime, world: World
) -> None:
    app = _app_with_probe(runtime)
    async with _client(app) as client:
        client.cookies.set(ACCESS_COOKIE, world.headers(Role.COMPANY_ADMIN)["Authorization"][7:])
        assert (await client.post("/probe/change")).status_code == 403
        assert (
            await client.post("/probe/change", headers={"X-CSRF-Token": "x"})
        ).status_code == 403
        assert app.state.changes == 0
        token = csrf_of((await client.get("/")).text)
        assert (await client.post("/probe/change", headers={"X-CSRF-Token": token})).text == "1"
        assert (await client.post("/probe/change", data={"csrf_token": token})).text == "2"


def _app_with_probe(runtime: Runtime) -> FastAPI:
    """The real app plus test-only routes guarded by the dashboard's dependencies."""
    app = create_app(runtime=runtime)
    app.state.changes = 0
    probe = APIRouter()
    settings_reader = Annotated[
        Principal, Depends(page_requires(Permission.SETTINGS_READ, level=Level.CLIENT))
    ]
    reader = Annotated[Principal, Depends(page_requires(Permission.TRANSACTIONS_READ))]

    @probe.get("/probe/settings")
    async def settings_page(principal: settings_reader) -> PlainTextResponse:
        return PlainTextResponse(principal.id)

    @probe.get("/probe/transactions")
    async def transactions_page(principal: reader) -> PlainTextResponse:
        return PlainTextResponse(principal.id)

    @probe.get("/probe/broken")
    async def broken() -> PlainTextResponse:
        raise RuntimeError("secret internals")

    @probe.post("/probe/change")
    async def change(principal: CsrfChecked) -> PlainTextResponse:
        app.state.changes += 1
        return PlainTextResponse(str(app.state.changes))

    app.include_router(probe)
    return app


async def test_a_company_user_sees_no_settings_in_the_sidebar(signed_in: SignIn) -> None:
    company_user = await signed_in(Role.COMPANY_USER)
    html = (await company_user.get("/")).text
    assert 'href="/transactions"' in html
    assert "/settings/" not in html and "/admin/" not in html
    assert ">Settings<" not in html


async def test_dashboard_errors_are_pages_and_api_errors_stay_json(signed_in: SignIn) -> None:
    client = await signed_in(Role.COMPANY_ADMIN)
    page = await client.get("/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    missing = await client.get("/transactions/pay_doesnotexist")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    api = await client.get(f"{API}/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.json()["error"]["type"]
    machine = await client.get("/no-such-page")  # no HTML asked for: the JSON shape
    assert machine.json()["error"]["code"] == "route_not_found"


async def test_quick_actions_follow_the_sidebar_s_permissions_and_levels(
    signed_in: SignIn,
) -> None:
    company_admin = (await (await signed_in(Role.COMPANY_ADMIN)).get("/")).text
    client_admin = (await (await signed_in(Role.CLIENT_ADMIN)).get("/")).text
    # Both may write settings, but integrations are managed at client level and above.
    assert 'class="button" href="/settings/integrations"' not in company_admin
    assert 'class="button" href="/settings/integrations"' in client_admin
    assert 'class="button" href="/transactions"' in company_admin


async def test_an_unexpected_error_is_a_500_page_without_internals(runtime: Runtime) -> None:
    app = _app_with_probe(runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/probe/broken", headers={"Accept": "text/html"})
        assert page.status_code == 500
        assert "Something went wrong" in page.text
        assert "secret internals" not in page.text and "Traceback" not in page.text


async def test_sign_in_attempts_share_the_api_login_rate_limit(
    data_dir: Path, world: World
) -> None:
    runtime = Runtime.build(make_settings(data_dir, rate_limit_auth="2/minute"))
    try:
        async with _client(create_app(runtime=runtime)) as client:
            email = world.a.users[Role.COMPANY_ADMIN].email
            statuses = [(await _login(client, email, "wrong")).status_code for _ in range(2)]
            limited = await _login(client, email)  # even the right password waits now
            assert statuses == [401, 401]
            assert limited.status_code == 429
            assert "Too many sign-in attempts" in limited.text
            assert ACCESS_COOKIE not in _set_cookies(limited)
    finally:
        await runtime.close()
