"""Merchant accounts in real headless Chromium, as a new user would: two NMI accounts created
through the 5-step modal (pointed at the NMI sandbox on loopback), a connection test, an edit
tab, and the list with usage and health."""

import re

from playwright.async_api import Page, expect

from avnz.gateways.nmi.sandbox import SANDBOX_CREDENTIALS
from avnz.tenancy.models import Role
from tests.e2e.conftest import Login, screenshot

NMI_KEY = SANDBOX_CREDENTIALS["security_key"]


async def add_account(page: Page, name: str, sandboxes: str, daily_cap: str) -> None:
    """Walk the add modal: gateway, account and credentials, limits, restrictions, review."""
    await page.goto("/merchant-accounts")
    await page.get_by_test_id("add-account").click()
    dialog = page.locator("#add-account")
    await dialog.get_by_test_id("gateway-nmi").click()

    await dialog.get_by_test_id("account-name").fill(name)
    await dialog.get_by_test_id("base-url").fill(f"{sandboxes}/nmi")
    nmi = dialog.locator('fieldset[data-provider="nmi"]')
    await nmi.get_by_test_id("field-credentials.security_key").fill(NMI_KEY)
    await dialog.get_by_test_id("wizard-next").click()

    await dialog.get_by_test_id("limits.daily_transaction_limit").fill(daily_cap)
    await dialog.get_by_test_id("limits.daily_volume_limit").fill("2,500.00")
    await dialog.get_by_test_id("wizard-next").click()

    await dialog.get_by_test_id("restrictions.allowed_countries").fill("US, CA")
    await dialog.locator('input[name="restrictions.blocked_card_brands"][value="amex"]').check()
    await dialog.get_by_test_id("wizard-next").click()

    review = dialog.get_by_test_id("review")
    await expect(review).to_contain_text(name)
    await expect(review).to_contain_text("2,500.00")
    await expect(review).not_to_contain_text(NMI_KEY)
    await dialog.get_by_test_id("wizard-submit").click()
    await expect(page.get_by_test_id("flash")).to_contain_text(f"Added {name}.")


async def test_a_company_admin_creates_two_accounts_and_tests_one(
    page: Page, login: Login, sandboxes: str
) -> None:
    await login(page, Role.COMPANY_ADMIN)
    await page.locator("nav.nav").get_by_role("link", name="Merchant accounts").click()
    await expect(page.get_by_text("No merchant accounts yet — add one")).to_be_visible()
    await screenshot(page, "accounts-empty")

    await add_account(page, "NMI primary", sandboxes, daily_cap="500")
    await expect(page).to_have_url(re.compile(r"/merchant-accounts/ma_"))
    await expect(page.get_by_test_id("meter-day-transactions")).to_contain_text("0 / 500")
    await page.get_by_test_id("test-connection").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Connection OK")
    await expect(page.get_by_test_id("last-test")).to_contain_text("passed")
    await page.get_by_test_id("tab-limits").click()
    await page.get_by_test_id("limits.weekly_transaction_limit").fill("2000")
    await page.get_by_test_id("save-limits").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Saved the limits of NMI primary.")
    await expect(page.get_by_test_id("meter-week-transactions")).to_contain_text("0 / 2000")
    await screenshot(page, "account-detail")

    await add_account(page, "NMI backup", sandboxes, daily_cap="200")
    await page.locator("nav.nav").get_by_role("link", name="Merchant accounts").click()
    rows = page.locator("#accounts-table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#accounts-table")).to_contain_text("NMI primary")
    await expect(page.locator("#accounts-table")).to_contain_text("NMI backup")
    await screenshot(page, "accounts-list")


async def test_a_refused_account_comes_back_at_its_step_with_the_error(
    page: Page, login: Login, sandboxes: str
) -> None:
    await login(page, Role.COMPANY_ADMIN)
    await page.goto("/merchant-accounts")
    await page.get_by_test_id("add-account").click()
    dialog = page.locator("#add-account")
    await dialog.get_by_test_id("gateway-nmi").click()
    await dialog.get_by_test_id("account-name").fill("Production at a sandbox")
    await dialog.locator("select[name=environment]").select_option("production")
    await dialog.get_by_test_id("base-url").fill(f"{sandboxes}/nmi")
    await (
        dialog.locator('fieldset[data-provider="nmi"]')
        .get_by_test_id("field-credentials.security_key")
        .fill(NMI_KEY)
    )
    for _ in range(3):
        await dialog.get_by_test_id("wizard-next").click()
    await dialog.get_by_test_id("wizard-submit").click()

    await expect(dialog).to_be_visible()  # reopened with the error at its field
    await expect(dialog.locator('[data-error-for="base_url"]')).to_contain_text(
        "sandbox accounts only"
    )
    await expect(dialog.get_by_test_id("account-name")).to_have_value("Production at a sandbox")
    await screenshot(page, "accounts-add-error")
