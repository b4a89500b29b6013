"""The dashboard in real headless Chromium over loopback HTTP: sign-in, the shell's remembered
choices (theme, sidebar), the phone drawer, and the transactions pages with real payments."""

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from avnz.tenancy.models import Role
from tests.e2e.conftest import Login, screenshot
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.payments import API, payment_body

PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def api(live_url: str, world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The API of the live server, as agency A's company admin."""
    headers = world.headers(Role.COMPANY_ADMIN)
    async with httpx.AsyncClient(base_url=live_url, headers=headers, timeout=20) as client:
        yield client


@pytest.fixture
async def payments(api: httpx.AsyncClient, sandboxes: str) -> dict[str, Any]:
    """An NMI sandbox account, an approved sale of 19.99 and a decline, made through the API."""
    account = await create_account(api, {}, None, provider="nmi", base_url=f"{sandboxes}/nmi")
    approved = (await api.post(f"{API}/payments", json=payment_body())).json()
    declined = (await api.post(f"{API}/payments", json=payment_body(amount=50))).json()
    assert (approved["status"], declined["status"]) == ("captured", "declined")
    return {"account": account, "approved": approved, "declined": declined}


async def test_sign_in_through_the_form_lands_on_the_page_asked_for(
    page: Page, login: Login
) -> None:
    await page.goto("/transactions")
    await expect(page).to_have_url(re.compile(r"/login\?next=/transactions$"))
    await page.fill("input[name=email]", "company_admin@a.example.com")
    await page.fill("input[name=password]", "wrong")
    await page.click("button[type=submit]")
    await expect(page.get_by_test_id("login-error")).to_have_text("Email or password is incorrect.")
    await screenshot(page, "login-error")
    await login(page, Role.COMPANY_ADMIN)
    await expect(page.get_by_test_id("welcome")).to_contain_text("Welcome back")


async def test_sign_out_from_the_user_menu(signed_in_page: Page) -> None:
    page = signed_in_page
    await page.get_by_test_id("user-menu").click()
    await page.get_by_test_id("logout").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login\?next=/$"))


async def test_the_theme_toggle_is_remembered(signed_in_page: Page) -> None:
    page = signed_in_page
    html = page.locator("html")
    await expect(html).to_have_attribute("data-theme", "dark")  # the context prefers dark
    await page.get_by_test_id("user-menu").click()
    await page.get_by_test_id("theme-toggle").click()
    await expect(html).to_have_attribute("data-theme", "light")
    await page.reload()
    await expect(html).to_have_attribute("data-theme", "light")
    await screenshot(page, "home-light")


async def test_the_sidebar_collapse_is_remembered(signed_in_page: Page) -> None:
    page = signed_in_page
    sidebar = page.locator("#sidebar")
    wide = (await sidebar.bounding_box() or {})["width"]
    await page.get_by_test_id("sidebar-toggle").click()
    await expect(page.locator("html")).to_have_class(re.compile("sidebar-collapsed"))
    await page.reload()
    await expect(page.locator("html")).to_have_class(re.compile("sidebar-collapsed"))
    narrow = (await sidebar.bounding_box() or {})["width"]
    assert narrow < wide / 2
    await expect(page.locator(".nav-link .label").first).to_be_hidden()


async def test_on_a_phone_the_sidebar_is_a_drawer(signed_in_page: Page) -> None:
    page = signed_in_page
    await page.set_viewport_size(PHONE)
    await page.reload()
    sidebar = page.locator("#sidebar")
    box = await sidebar.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0  # off screen
    await page.get_by_test_id("drawer-open").click()
    await expect(page.locator(".shell")).to_have_class(re.compile("drawer-open"))
    await page.wait_for_timeout(300)  # the slide-in transition
    box = await sidebar.bounding_box()
    assert box is not None and box["x"] >= 0
    await expect(sidebar.get_by_role("link", name="Transactions", exact=True)).to_be_visible()
    await screenshot(page, "phone-drawer")


async def test_home_shows_the_day_s_figures_and_chart(
    signed_in_page: Page, payments: dict[str, Any]
) -> None:
    page = signed_in_page
    await page.reload()
    await expect(page.get_by_test_id("stat-transactions")).to_contain_text("2")
    await expect(page.get_by_test_id("stat-volume")).to_contain_text("$19.99")
    await expect(page.get_by_test_id("stat-success")).to_contain_text("50.0%")
    assert await page.locator("#chart-7d").evaluate("c => !!window.Chart.getChart(c)")
    await screenshot(page, "home")


async def test_transactions_filter_columns_and_export(
    signed_in_page: Page, payments: dict[str, Any]
) -> None:
    page = signed_in_page
    await page.goto("/transactions")
    rows = page.locator("#transactions-table tbody tr")
    await expect(rows).to_have_count(2)
    await screenshot(page, "transactions")

    await page.select_option("select[name=status]", "declined")
    await expect(page).to_have_url(re.compile(r"status=declined"))
    await expect(rows).to_have_count(1)
    await expect(page.locator(".pill")).to_contain_text("Status: declined")

    # Hide the Card column; the choice survives a reload.
    card_header = page.locator('th[data-column="card"]')
    await expect(card_header).to_be_visible()
    await page.get_by_test_id("columns-button").click()
    await page.locator('input[data-column="card"]').uncheck()
    await expect(card_header).to_be_hidden()
    await page.reload()
    await expect(card_header).to_be_hidden()

    async with page.expect_download() as download_info:
        await page.get_by_test_id("export-csv").click()
    download = await download_info.value
    assert download.suggested_filename == "transactions.csv"
    exported = (await download.path()).read_text(encoding="utf-8")
    lines = list(csv.DictReader(io.StringIO(exported)))
    assert [row["ID"] for row in lines] == [payments["declined"]["id"]]

    await page.locator(".pill").first.click()  # remove the filter
    await expect(rows).to_have_count(2)

    # Select one row and export just that one.
    approved = payments["approved"]["id"]
    await page.locator(f'input.row-select[value="{approved}"]').check()
    await expect(page.get_by_test_id("selection-count")).to_have_text("1 selected")
    async with page.expect_download() as selected_info:
        await page.get_by_test_id("export-selected").click()
    selected = (await (await selected_info.value).path()).read_text(encoding="utf-8")
    assert [row["ID"] for row in csv.DictReader(io.StringIO(selected))] == [approved]


async def test_detail_and_refund_through_the_form(
    signed_in_page: Page, payments: dict[str, Any], api: httpx.AsyncClient
) -> None:
    page = signed_in_page
    approved = payments["approved"]
    await page.goto("/transactions")
    await page.get_by_role("link", name=approved["id"]).click()
    await expect(page.get_by_test_id("account-used")).to_contain_text(payments["account"]["name"])
    await expect(page.get_by_test_id("card")).to_contain_text("visa •••• 1111")
    await screenshot(page, "transaction-detail")
    await page.fill("[data-testid=refund-form] input[name=amount]", "4.99")
    await page.click("[data-testid=refund-form] button[type=submit]")
    await expect(page.get_by_test_id("notice")).to_have_text("The refund was sent.")
    await expect(page.get_by_test_id("amount-refunded")).to_have_text("$4.99")
    refunds = (await api.get(f"{API}/payments/{approved['id']}/refunds")).json()
    assert [r["amount"] for r in refunds] == [499]


async def test_a_company_user_sees_no_settings_and_no_refund_form(
    page: Page, login: Login, payments: dict[str, Any]
) -> None:
    await login(page, Role.COMPANY_USER)
    await expect(page.locator(".nav")).not_to_contain_text("Settings")
    await page.goto(f"/transactions/{payments['approved']['id']}")
    await expect(page.get_by_test_id("account-used")).to_be_visible()
    await expect(page.get_by_test_id("refund-form")).to_have_count(0)
