"""Integrations in real headless Chromium, as a new user would: a client admin adds an NMI
gateway with its own credentials (pointed at the NMI sandbox on loopback) through the 4-step
modal and tests it; an organization admin adds a platform integration; a company user is
kept out."""

import re

from playwright.async_api import Page, expect

from avnz.gateways.nmi.sandbox import SANDBOX_CREDENTIALS
from avnz.tenancy.models import Role
from tests.e2e.conftest import Login, screenshot

NMI_KEY = SANDBOX_CREDENTIALS["security_key"]


async def choose_nmi(page: Page, dialog_id: str) -> None:
    """Steps 1 and 2 of the add modal: payment gateways, then NMI."""
    await page.get_by_test_id("add-integration").click()
    dialog = page.locator(f"#{dialog_id}")
    await expect(dialog.get_by_test_id("category-PAYMENT_GATEWAY")).to_be_visible()
    await dialog.get_by_test_id("category-PAYMENT_GATEWAY").click()
    await expect(dialog.get_by_test_id("provider-OLLAMA")).to_be_hidden()  # another category
    await dialog.get_by_test_id("provider-NMI").click()


async def enter_nmi_credentials(page: Page, dialog_id: str, name: str, sandboxes: str) -> None:
    """Step 3: the inputs generated from NMI's JSON Schema, and the sandbox as endpoint."""
    dialog = page.locator(f"#{dialog_id}")
    await dialog.get_by_test_id("integration-name").fill(name)
    nmi = dialog.locator('fieldset[data-provider="NMI"]')
    await nmi.get_by_test_id("field-credentials.security_key").fill(NMI_KEY)
    await nmi.locator("summary").click()
    await nmi.get_by_test_id("field-settings.base_url").fill(f"{sandboxes}/nmi")
    await dialog.get_by_test_id("wizard-next").click()


async def test_a_client_admin_adds_an_nmi_gateway_and_tests_it(
    page: Page, login: Login, sandboxes: str
) -> None:
    await login(page, Role.CLIENT_ADMIN)
    await page.locator("nav.nav").get_by_role("link", name="Integrations", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/settings/integrations$"))
    await expect(page.get_by_text("No integrations yet")).to_be_visible()
    await screenshot(page, "integrations-empty")

    await choose_nmi(page, "add-integration")
    dialog = page.locator("#add-integration")
    # Step 3 will not go on without the required key.
    await dialog.get_by_test_id("integration-name").fill("NMI main")
    await dialog.get_by_test_id("wizard-next").click()
    await expect(dialog.locator('[data-step="3"]')).to_be_visible()
    await enter_nmi_credentials(page, "add-integration", "NMI main", sandboxes)

    review = dialog.get_by_test_id("review")
    await expect(review).to_contain_text("NMI main")
    await expect(review).to_contain_text("••••" + NMI_KEY[-4:])
    await expect(review).not_to_contain_text(NMI_KEY)
    await screenshot(page, "integrations-add-review")
    await dialog.get_by_test_id("wizard-submit").click()

    flashes = page.get_by_test_id("flash")
    await expect(flashes.first).to_contain_text("Added NMI main.")
    await expect(flashes.nth(1)).to_contain_text("NMI main: connection OK")
    card = page.locator('article[data-testid^="integration-cint_"]')
    await expect(card.get_by_test_id("test-status")).to_have_attribute("data-state", "connected")
    await expect(card).to_contain_text("default")
    await card.get_by_role("button", name="Test connection").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("connection OK")
    await screenshot(page, "integrations-client")

    await card.get_by_role("link", name="Edit").click()
    await expect(page.get_by_test_id("edit-form")).to_be_visible()
    await page.fill("input[name=name]", "NMI primary")
    await page.get_by_test_id("save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Saved NMI primary.")
    await screenshot(page, "integrations-after-edit")


async def test_an_org_admin_adds_a_platform_gateway_and_offers_it(
    page: Page, login: Login, sandboxes: str
) -> None:
    await login(page, Role.ORGANIZATION_ADMIN)
    await page.goto("/admin/integrations")
    await choose_nmi(page, "add-platform-integration")
    await enter_nmi_credentials(page, "add-platform-integration", "Platform NMI", sandboxes)
    dialog = page.locator("#add-platform-integration")
    await dialog.locator("input[name=is_shared_with_clients]").check()
    await dialog.get_by_test_id("wizard-submit").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Added Platform NMI.")

    card = page.locator('article[data-testid^="integration-pint_"]')
    await expect(card).to_contain_text("offered to clients")
    await card.get_by_role("button", name="Test connection").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Platform NMI: connection OK")
    await screenshot(page, "integrations-admin")


async def test_a_company_user_neither_sees_nor_reaches_the_settings_pages(
    page: Page, login: Login
) -> None:
    await login(page, Role.COMPANY_USER)
    sidebar = page.locator("nav.nav")
    await expect(sidebar.get_by_role("link", name="Merchant accounts")).to_be_visible()
    await expect(sidebar.get_by_role("link", name="Integrations")).to_have_count(0)
    for path in ("/settings/integrations", "/admin/integrations"):
        response = await page.goto(path)
        assert response is not None and response.status == 403
        await expect(page.get_by_text("You don't have access")).to_be_visible()
    await screenshot(page, "integrations-forbidden")
