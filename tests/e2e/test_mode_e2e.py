"""The dashboard's test/live switch in real Chromium: test mode is where a session starts, with
a banner on every page; the switch flips the pages to live data only (and back), and the
transactions list shows the payments of one mode at a time."""

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from avnz.routing.accounts.models import AccountEnvironment, MerchantAccount
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.e2e.conftest import screenshot
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.payments import API, payment_body


@pytest.fixture
async def both_modes(
    live_url: str, world: World, sandboxes: str, runtime: Runtime
) -> dict[str, Any]:
    """A sandbox and a production NMI account (both at the local sandbox), and one payment in
    each mode, made through the live server's API as agency A's company admin."""
    headers = world.headers(Role.COMPANY_ADMIN)
    async with httpx.AsyncClient(base_url=live_url, headers=headers, timeout=20) as api:
        return await _accounts_and_payments(api, sandboxes, runtime)


async def _accounts_and_payments(
    api: httpx.AsyncClient, sandboxes: str, runtime: Runtime
) -> dict[str, Any]:
    for name in ("Sandbox", "Production"):
        account = await create_account(
            api, {}, None, name=name, provider="nmi", base_url=f"{sandboxes}/nmi"
        )
    async with runtime.sessions.begin() as session:
        production = await session.get_one(MerchantAccount, account["id"])
        production.environment = AccountEnvironment.PRODUCTION
    test = (await api.post(f"{API}/payments", json=payment_body())).json()
    live = (
        await api.post(f"{API}/payments", json=payment_body(), headers={"Avnz-Mode": "live"})
    ).json()
    assert (test["livemode"], live["livemode"]) == (False, True), (test, live)
    return {"test": test, "live": live}


async def test_the_switch_shows_one_mode_at_a_time_under_a_test_mode_banner(
    signed_in_page: Page, both_modes: dict[str, Any]
) -> None:
    page = signed_in_page
    banner = page.get_by_test_id("test-mode-banner")
    switch = page.get_by_test_id("mode-switch")
    rows = page.locator("#transactions-table tbody tr")

    await page.goto("/transactions")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Test mode")
    await expect(switch).to_have_attribute("aria-checked", "true")
    await expect(rows).to_have_count(1)
    await expect(page.get_by_role("link", name=both_modes["test"]["id"])).to_be_visible()
    await screenshot(page, "test-mode")

    await switch.click()  # off: live mode, on the same page
    await expect(page).to_have_url(re.compile(r"/transactions$"))
    await expect(switch).to_have_attribute("aria-checked", "false")
    await expect(banner).to_have_count(0)
    await expect(rows).to_have_count(1)
    await expect(page.get_by_role("link", name=both_modes["live"]["id"])).to_be_visible()
    await expect(page.get_by_role("link", name=both_modes["test"]["id"])).to_have_count(0)
    # The other mode's payment is missing, not shown, when asked for by its address.
    missing = await page.goto(f"/transactions/{both_modes['test']['id']}")
    assert missing is not None and missing.status == 404
    await page.goto("/")
    await expect(banner).to_have_count(0)  # the mode holds across pages
    await screenshot(page, "live-mode")

    await switch.click()  # back to test mode
    await expect(switch).to_have_attribute("aria-checked", "true")
    await expect(banner).to_be_visible()
