"""Sign-in through the organization's identity provider: the authorization code flow with
state, nonce and PKCE, against a provider served over real loopback HTTP."""

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from avnz.web.auth import ACCESS_COOKIE
from avnz.web.oidc_login import COOKIE
from tests.factories import World
from tests.web.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp

API = "/api/v1"
PLATFORM = f"{API}/admin/integrations/platform"


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    provider = FakeIdp()
    yield provider
    provider.stop()


@pytest.fixture
async def configured(client: httpx.AsyncClient, world: World, idp: FakeIdp) -> dict[str, Any]:
    """The organization's Auth0 integration points at the fake provider; agency A's company
    user is linked to its user."""
    admin = world.headers(Role.ORGANIZATION_ADMIN)
    body = {
        "provider": "AUTH0",
        "name": "Auth0",
        "settings": idp.integration_settings(),
        "credentials": {"client_secret": CLIENT_SECRET},
    }
    created = await client.post(PLATFORM, json=body, headers=admin)
    assert created.status_code == 201, created.text
    user = world.a.users[Role.COMPANY_USER]
    linked = await client.patch(
        f"{API}/users/{user.id}", json={"auth0_id": idp.user_sub}, headers=admin
    )
    assert linked.status_code == 200, linked.text
    return created.json()


@pytest.fixture
async def browser(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """The dashboard as a browser sees it (cookies kept, redirects not followed)."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _to_provider(browser: httpx.AsyncClient, next_path: str = "/") -> str:
    start = await browser.get("/login/oidc", params={"next": next_path})
    assert start.status_code == 303, start.text
    assert COOKIE in browser.cookies
    return start.headers["location"]


async def _provider_answer(authorize_url: str) -> str:
    """Follow the redirect to the provider over HTTP; it answers with our callback URL."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(authorize_url)
    assert answer.status_code == 302
    callback = urlsplit(answer.headers["location"])
    assert callback.path == "/login/oidc/callback"
    return f"{callback.path}?{callback.query}"


async def test_the_login_page_offers_the_provider_once_configured(
    browser: httpx.AsyncClient, configured: dict[str, Any]
) -> None:
    page = await browser.get("/login")
    assert 'data-testid="oidc-login"' in page.text


async def test_without_an_identity_integration_there_is_no_provider_button(
    browser: httpx.AsyncClient, world: World
) -> None:
    page = await browser.get("/login")
    assert 'data-testid="oidc-login"' not in page.text
    start = await browser.get("/login/oidc")
    assert start.status_code == 503
    assert "not set up" in start.text


async def test_the_redirect_carries_state_nonce_and_a_pkce_challenge(
    browser: httpx.AsyncClient, configured: dict[str, Any], idp: FakeIdp, runtime: Runtime
) -> None:
    authorize = urlsplit(await _to_provider(browser))
    assert f"{authorize.scheme}://{authorize.netloc}" == idp.issuer
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == runtime.settings.base_url + "/login/oidc/callback"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert len(query["code_challenge"]) == 43
    assert "openid" in query["scope"].split()


async def test_the_linked_user_is_signed_in_and_sent_on(
    browser: httpx.AsyncClient, configured: dict[str, Any], idp: FakeIdp, world: World
) -> None:
    callback = await _provider_answer(await _to_provider(browser, "/transactions"))
    done = await browser.get(callback)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/transactions"
    assert ACCESS_COOKIE in browser.cookies
    [exchange] = idp.token_requests
    assert exchange["client_secret"] == CLIENT_SECRET and exchange["code_verifier"]
    page = await browser.get("/transactions")
    assert page.status_code == 200
    assert world.a.users[Role.COMPANY_USER].email in page.text


async def test_a_forged_state_is_refused(
    browser: httpx.AsyncClient, configured: dict[str, Any], idp: FakeIdp
) -> None:
    callback = await _provider_answer(await _to_provider(browser))
    forged = callback.replace("state=", "state=x")
    refused = await browser.get(forged)
    assert refused.status_code == 401
    assert ACCESS_COOKIE not in browser.cookies
    assert idp.token_requests == []  # the code was never exchanged


async def test_a_callback_without_the_flow_cookie_is_refused(
    browser: httpx.AsyncClient, configured: dict[str, Any], app: object
) -> None:
    callback = await _provider_answer(await _to_provider(browser))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        refused = await other.get(callback)  # another browser: the flow is not its own
        assert refused.status_code == 401
        assert ACCESS_COOKIE not in other.cookies


async def test_a_wrong_nonce_is_refused(
    browser: httpx.AsyncClient, configured: dict[str, Any], idp: FakeIdp
) -> None:
    idp.nonce_override = "replayed-nonce"
    callback = await _provider_answer(await _to_provider(browser))
    refused = await browser.get(callback)
    assert refused.status_code == 401
    assert "could not be verified" in refused.text
    assert ACCESS_COOKIE not in browser.cookies


async def test_an_identity_linked_to_nobody_is_refused(
    browser: httpx.AsyncClient, configured: dict[str, Any], idp: FakeIdp
) -> None:
    idp.user_sub = "idp|stranger"
    callback = await _provider_answer(await _to_provider(browser))
    refused = await browser.get(callback)
    assert refused.status_code == 401
    assert "No active avnz user is linked to this identity." in refused.text


async def test_a_verified_email_finds_an_unlinked_user(
    browser: httpx.AsyncClient, configured: dict[str, Any], idp: FakeIdp, world: World
) -> None:
    idp.user_sub = "idp|by-email"
    idp.user_email = world.a.users[Role.CLIENT_ADMIN].email.upper()
    callback = await _provider_answer(await _to_provider(browser))
    done = await browser.get(callback)
    assert done.status_code == 303
    home = await browser.get("/")
    assert world.a.users[Role.CLIENT_ADMIN].email in home.text
