"""The dashboard's test/live switch over ASGI: a CSRF-checked POST that sets the mode cookie
and goes back to a page of this site only; pages then render in that mode."""

import httpx

from avnz.tenancy.models import Role
from avnz.web.auth import MODE_COOKIE
from tests.web.conftest import SignIn, csrf_of

BANNER = 'data-testid="test-mode-banner"'


async def _switch(client: httpx.AsyncClient, mode: str, next_path: str) -> httpx.Response:
    token = csrf_of((await client.get("/")).text)
    return await client.post("/mode", data={"csrf_token": token, "mode": mode, "next": next_path})


async def test_the_switch_sets_the_mode_and_returns_to_the_page(signed_in: SignIn) -> None:
    client = await signed_in(Role.COMPANY_ADMIN)
    assert BANNER in (await client.get("/transactions")).text  # test mode to begin with
    switched = await _switch(client, "live", "/transactions?status=declined")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/transactions?status=declined"
    assert client.cookies.get(MODE_COOKIE) == "live"
    assert BANNER not in (await client.get("/transactions")).text
    back = await _switch(client, "test", "/")
    assert back.status_code == 303 and client.cookies.get(MODE_COOKIE) == "test"
    assert BANNER in (await client.get("/")).text


async def test_the_switch_needs_the_form_s_token_and_stays_on_this_site(
    signed_in: SignIn,
) -> None:
    client = await signed_in(Role.COMPANY_USER)
    forged = await client.post("/mode", data={"mode": "live", "next": "/"})
    assert forged.status_code == 403
    assert client.cookies.get(MODE_COOKIE) is None
    elsewhere = await _switch(client, "live", "https://evil.example/")
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/"
    # Any other value than `live` is test mode, never an error page.
    odd = await _switch(client, "staging", "/")
    assert odd.status_code == 303 and client.cookies.get(MODE_COOKIE) == "test"
