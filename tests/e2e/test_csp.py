"""The dashboard under its Content-Security-Policy in real Chromium: the one inline script runs
with the response's nonce, Alpine and HTMX work without eval, a filter select submits without
an inline handler, and a script injected without the nonce does not run."""

import re

from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.conftest import Login


async def test_the_nonced_theme_script_runs_before_first_paint(
    context: BrowserContext, login: Login
) -> None:
    page = await context.new_page()
    await page.emulate_media(color_scheme="light")
    response = await page.goto("/login")
    assert response is not None
    csp = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert await page.locator("script:not([src]):not([type])").count() == 1
    # The server renders data-theme="dark"; only the inline script can make it light.
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")
    await login(page)
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")


async def test_alpine_and_htmx_work_without_eval(signed_in_page: Page) -> None:
    page = signed_in_page
    await page.get_by_test_id("notifications").click()  # Alpine toggles, HTMX loads the list
    await expect(page.locator("#notifications-list")).to_be_visible()
    await page.get_by_test_id("sidebar-toggle").click()
    await expect(page.locator("html")).to_have_class(re.compile(r"sidebar-collapsed"))


async def test_a_filter_select_submits_its_form(signed_in_page: Page) -> None:
    page = signed_in_page
    await page.goto("/pools")
    select = page.locator("form.filters select[name=strategy]")
    await select.select_option(index=1)
    await expect(page).to_have_url(re.compile(r"[?&]strategy=[a-z_]+"))


async def test_an_injected_script_without_the_nonce_does_not_run(
    signed_in_page: Page, csp_violations: list[str]
) -> None:
    page = signed_in_page
    await page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__injected = true";
            document.body.appendChild(script);
            const handler = document.createElement("img");
            handler.setAttribute("src", "data:,");
            handler.setAttribute("onerror", "window.__handler = true");
            document.body.appendChild(handler);
        }"""
    )
    await page.wait_for_timeout(200)
    assert await page.evaluate("() => window.__injected === undefined")
    assert await page.evaluate("() => window.__handler === undefined")
    assert len(csp_violations) >= 1  # Chromium reported the refusal
    csp_violations.clear()  # expected here; every other test must have none


async def test_the_api_docs_start_under_the_policy(page: Page) -> None:
    """Swagger UI is started by an inline script: it renders only if that script ran, and
    Swagger UI 5 reads the OpenAPI 3.1 document (4.15 refused it): its operations are listed."""
    await page.goto("/docs")
    await expect(page.locator("#swagger-ui .swagger-ui").first).to_be_attached()
    await expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/payments").first
    ).to_be_visible()
    assert await page.locator("text=Unable to render this definition").count() == 0
