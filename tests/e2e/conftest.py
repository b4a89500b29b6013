"""End-to-end fixtures: the app over real loopback HTTP, driven by headless Chromium (Debian's
`chromium`, through Playwright's async API).

For page tests of any helper:
    async def test_x(live_url, signed_in_page): await signed_in_page.goto(f"{live_url}/...")
    async def test_y(login, page): await login(page, Role.CLIENT_ADMIN)  # the real form
    await screenshot(page, "name")  # -> test-output/screenshots/name.png
"""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from avnz.app import create_app
from avnz.config import Settings
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import PASSWORD, World
from tests.support.live_server import live_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP = {"width": 1366, "height": 860}
Login = Callable[..., Awaitable[Page]]


@pytest.fixture(scope="session")
def live_app(settings: Settings) -> Iterator[tuple[str, Runtime]]:
    """The app on a loopback port with its own Runtime (its engine lives on the server's event
    loop), sharing the test database and key files, so world tokens verify there."""
    app = create_app(settings)
    with live_server(app) as url:
        yield url, app.state.runtime


@pytest.fixture
def live_url(live_app: tuple[str, Runtime], runtime: Runtime) -> Iterator[str]:
    """The live server's base URL. Depending on `runtime` makes the harness empty the database
    after the test; the server's own caches are emptied here."""
    url, server_runtime = live_app
    yield url
    server_runtime.api_keys._entries.clear()
    server_runtime.oidc_configs._entries.clear()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the end-to-end tests need it. "
            "Install it with `apt-get install -y chromium` (`make test` and .ci/run do this).",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
def csp_violations() -> list[str]:
    """What Chromium refused under the Content-Security-Policy during the test (its console
    errors); every end-to-end test fails if anything was."""
    return []


@pytest.fixture
async def context(
    browser: Browser, live_url: str, csp_violations: list[str]
) -> AsyncIterator[BrowserContext]:
    """A fresh profile per test (no cookies, empty localStorage)."""
    ctx = await browser.new_context(base_url=live_url, viewport=DESKTOP, color_scheme="dark")

    def watch(page: Page) -> None:
        def console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                csp_violations.append(f"{page.url}: {message.text}")

        page.on("console", console)

    ctx.on("page", watch)
    yield ctx
    await ctx.close()
    assert csp_violations == [], "the dashboard broke its own Content-Security-Policy"


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


def email_of(world: World, role: Role, agency: str = "a") -> str:
    if role is Role.ORGANIZATION_ADMIN:
        return world.org_admin.email
    return (world.a if agency == "a" else world.b).users[role].email


@pytest.fixture
def login(world: World) -> Login:
    """`await login(page, role)`: sign in through the login form as that world user."""

    async def sign_in(page: Page, role: Role = Role.COMPANY_ADMIN, agency: str = "a") -> Page:
        await page.goto("/login")
        await page.fill("input[name=email]", email_of(world, role, agency))
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
        return page

    return sign_in


@pytest.fixture
async def signed_in_page(page: Page, login: Login) -> Page:
    """A page signed in as agency A's company admin, on the home page."""
    return await login(page, Role.COMPANY_ADMIN)


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under test-output/screenshots/ (kept out of git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
