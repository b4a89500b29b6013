"""Flash messages survive one redirect, show once, and cannot be forged."""

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from avnz.app import create_app
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from avnz.web.auth import ACCESS_COOKIE
from avnz.web.flash import COOKIE, flash
from tests.factories import World


def _app(runtime: Runtime) -> object:
    app = create_app(runtime=runtime)
    probe = APIRouter()

    @probe.post("/probe/save")
    async def save(request: Request) -> RedirectResponse:
        flash(request, "Saved <b>it</b>.")
        return RedirectResponse("/", status_code=303)

    app.include_router(probe)
    return app


async def test_a_flash_shows_on_the_next_page_only(runtime: Runtime, world: World) -> None:
    transport = httpx.ASGITransport(app=_app(runtime))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.cookies.set(ACCESS_COOKIE, world.headers(Role.COMPANY_ADMIN)["Authorization"][7:])
        saved = await client.post("/probe/save")
        assert saved.status_code == 303
        assert "httponly" in saved.headers["set-cookie"].lower()
        shown = await client.get("/")
        assert "Saved &lt;b&gt;it&lt;/b&gt;." in shown.text  # escaped like any text
        assert 'data-testid="flash"' in shown.text
        again = await client.get("/")
        assert 'data-testid="flash"' not in again.text


async def test_a_forged_flash_cookie_is_ignored(runtime: Runtime, world: World) -> None:
    transport = httpx.ASGITransport(app=_app(runtime))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.cookies.set(ACCESS_COOKIE, world.headers(Role.COMPANY_ADMIN)["Authorization"][7:])
        client.cookies.set(COOKIE, "W1siUGF5IG1lIiwib2siXV0.forged")  # [["Pay me","ok"]]
        page = await client.get("/")
        assert "Pay me" not in page.text
