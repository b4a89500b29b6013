"""The journey issue 8 asks for, in real headless Chromium over loopback HTTP, as a new client
admin would: sign in, add an NMI gateway with own credentials and test it, create two merchant
accounts and a pool of both, build a rule routing EU Visa cards to that pool, try it in the rule
tester, pay through the API as a merchant's checkout would, find the payment with its rule and
account, and export it as CSV. Each step leaves a screenshot; any broken step fails the test."""

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect

from avnz.gateways.nmi.sandbox import SANDBOX_CREDENTIALS
from avnz.tenancy.models import Role
from tests.e2e.conftest import Login, screenshot
from tests.factories import PASSWORD, World
from tests.rules.support import POOLS
from tests.support.payments import API, VISA, card

NMI_KEY = SANDBOX_CREDENTIALS["security_key"]
ACCOUNTS = ("NMI Berlin", "NMI Paris")
POOL = "EU cards"
RULE = "EU Visa cards"
CSV_COLUMNS = [
    "Created",
    "ID",
    "Amount",
    "Currency",
    "Status",
    "Card",
    "Customer",
    "Account",
    "Gateway",
    "Rule",
    "Decline reason",
]


async def add_gateway_integration(page: Page, sandboxes: str) -> None:
    """Settings → Integrations: the 4-step modal, then a connection test recorded on the card."""
    await page.locator("nav.nav").get_by_role("link", name="Integrations", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/settings/integrations$"))
    await page.get_by_test_id("add-integration").click()
    dialog = page.locator("#add-integration")
    await dialog.get_by_test_id("category-PAYMENT_GATEWAY").click()
    await dialog.get_by_test_id("provider-NMI").click()
    await dialog.get_by_test_id("integration-name").fill("NMI own account")
    nmi = dialog.locator('fieldset[data-provider="NMI"]')
    await nmi.get_by_test_id("field-credentials.security_key").fill(NMI_KEY)
    await nmi.locator("summary").click()
    await nmi.get_by_test_id("field-settings.base_url").fill(f"{sandboxes}/nmi")
    await dialog.get_by_test_id("wizard-next").click()
    await expect(dialog.get_by_test_id("review")).to_contain_text("NMI own account")
    await dialog.get_by_test_id("wizard-submit").click()
    await expect(page.get_by_test_id("flash").first).to_contain_text("Added NMI own account.")

    card_ = page.locator('article[data-testid^="integration-cint_"]')
    await card_.get_by_role("button", name="Test connection").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("NMI own account: connection OK")
    await expect(card_.get_by_test_id("test-status")).to_have_attribute("data-state", "connected")


async def add_merchant_account(page: Page, name: str, company_id: str, sandboxes: str) -> None:
    """Merchant accounts: the 5-step modal, at the NMI sandbox, no limits or restrictions."""
    await page.goto("/merchant-accounts")
    await page.get_by_test_id("add-account").click()
    dialog = page.locator("#add-account")
    await dialog.get_by_test_id("gateway-nmi").click()
    await dialog.get_by_test_id("account-name").fill(name)
    await dialog.locator("select[name=company_id]").select_option(company_id)
    await dialog.get_by_test_id("base-url").fill(f"{sandboxes}/nmi")
    nmi = dialog.locator('fieldset[data-provider="nmi"]')
    await nmi.get_by_test_id("field-credentials.security_key").fill(NMI_KEY)
    for _ in range(3):  # credentials → limits → restrictions → review
        await dialog.get_by_test_id("wizard-next").click()
    await expect(dialog.get_by_test_id("review")).to_contain_text(name)
    await dialog.get_by_test_id("wizard-submit").click()
    await expect(page.get_by_test_id("flash")).to_contain_text(f"Added {name}.")


async def add_pool_of_both(page: Page, company_id: str) -> str:
    """Pools: the add modal with both accounts picked; returns the new pool's id."""
    await page.locator("nav.nav").get_by_role("link", name="Pools").click()
    await page.get_by_test_id("add-pool").click()
    form = page.get_by_test_id("add-pool-form")
    await form.get_by_test_id("pool-name").fill(POOL)
    company = form.locator("select[name=company_id]")
    if await company.count():
        await company.select_option(company_id)
    # The gateway integration brought an account of its own; the pool holds only the two.
    for name in ACCOUNTS:
        await form.get_by_role("checkbox", name=name, exact=True).check()
    await form.get_by_test_id("create-pool").click()
    await expect(page).to_have_url(re.compile(r"/pools/pool_"))
    members = page.get_by_test_id("member")
    await expect(members).to_have_count(2)
    for name in ACCOUNTS:
        await expect(page.get_by_test_id("member").filter(has_text=name)).to_have_count(1)
    return page.url.rsplit("/", 1)[1]


async def set_leaf(leaf: Locator, kind: str, field: str, operator: str) -> None:
    await leaf.get_by_test_id("leaf-type").select_option(kind)
    await leaf.get_by_test_id("leaf-field").select_option(field)
    await leaf.get_by_test_id("leaf-operator").select_option(operator)


async def build_eu_visa_rule(page: Page, company_id: str, pool_id: str) -> None:
    """The builder: is_eu is yes AND card brand equals visa → route to the pool; saved."""
    await page.goto(f"/routing/rules/new?company_id={company_id}")
    builder = page.get_by_test_id("rule-builder")
    await builder.get_by_test_id("rule-name").fill(RULE)
    await builder.get_by_test_id("next-step").click()
    await builder.get_by_test_id("add-condition").click()
    await builder.get_by_test_id("add-condition").click()
    leaves = builder.get_by_test_id("condition-leaf")
    await expect(leaves).to_have_count(2)
    await set_leaf(leaves.nth(0), "geography", "is_eu", "is")
    await leaves.nth(0).get_by_test_id("leaf-bool").select_option("true")
    await set_leaf(leaves.nth(1), "payment_method", "card_brand", "equals")
    await leaves.nth(1).get_by_test_id("leaf-pick").select_option("visa")
    await builder.get_by_test_id("next-step").click()
    await builder.get_by_test_id("new-action-type").select_option("route_to_pool")
    await builder.get_by_test_id("add-action").click()
    await (
        builder.get_by_test_id("rule-action")
        .get_by_test_id("action-pool_id")
        .select_option(pool_id)
    )
    await builder.get_by_test_id("step-5").click()
    review = builder.get_by_test_id("step-review")
    await expect(review.get_by_test_id("review-conditions")).to_contain_text("Card brand is visa")
    await builder.get_by_test_id("save-rule").click()
    await expect(page).to_have_url(re.compile(r"/routing/rules/rule_"))
    await expect(page.get_by_test_id("rule-title")).to_have_text(RULE)


async def try_in_tester(page: Page, company_id: str) -> None:
    """The rule tester with an EU Visa sample: the rule matches, each condition ticked."""
    await page.goto(f"/routing/tester?company_id={company_id}")
    form = page.get_by_test_id("tester-form")
    await form.get_by_test_id("tester-amount").fill("19.99")
    await form.get_by_test_id("tester-currency").fill("USD")
    await form.get_by_test_id("tester-country").select_option("DE")
    await form.get_by_test_id("tester-card_brand").select_option("visa")
    await form.get_by_test_id("run-test").click()
    result = page.get_by_test_id("tester-result")
    await expect(result.get_by_test_id("matched-rule")).to_contain_text(RULE)
    await expect(result).to_contain_text("✓ Card brand is visa")
    await expect(result).to_contain_text(f"Route to pool {POOL}")


async def pay_through_the_api(
    live_url: str, email: str, company_id: str, pool_id: str
) -> dict[str, Any]:
    """A merchant's checkout: sign in to the API as the same user, then charge an EU Visa; the
    API agrees that the rule chose it and that it went through one of the pool's accounts."""
    async with httpx.AsyncClient(base_url=live_url, timeout=20) as http:
        login = await http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {
            "company_id": company_id,
            "amount": 1999,
            "currency": "USD",
            "card": card(VISA),
            "billing_address": {"country": "DE"},
        }
        response = await http.post(f"{API}/payments", json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        assert VISA not in response.text
        pool = (await http.get(f"{POOLS}/{pool_id}", headers=headers)).json()
    payment: dict[str, Any] = response.json()
    assert payment["status"] == "captured", payment
    assert payment["routing"]["rule_name"] == RULE
    members = {m["merchant_account_id"]: m["account_name"] for m in pool["memberships"]}
    assert sorted(members.values()) == sorted(ACCOUNTS)
    assert payment["merchant_account_id"] in members
    return payment


async def find_payment(page: Page, payment_id: str) -> None:
    """Transactions: the row shows the payment with its rule; its page, the rule and account."""
    await page.locator("nav.nav").get_by_role("link", name="Transactions").click()
    row = page.locator("#transactions-table tbody tr").filter(has_text=payment_id)
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(RULE)
    await expect(row).to_contain_text(re.compile("|".join(map(re.escape, ACCOUNTS))))
    await screenshot(page, "journey-07-transactions")

    await row.get_by_role("link", name=payment_id).click()
    await expect(page).to_have_url(re.compile(f"/transactions/{payment_id}$"))
    await expect(page.get_by_test_id("rule")).to_contain_text(RULE)
    used = page.get_by_test_id("account-used")
    await expect(used).to_contain_text(re.compile("|".join(map(re.escape, ACCOUNTS))))
    await expect(page.get_by_test_id("card")).to_contain_text("1111")
    await expect(page.get_by_test_id("card")).not_to_contain_text(VISA)


async def export_csv(page: Page) -> list[dict[str, str]]:
    """Transactions → Export CSV through the browser's download; the rows as dicts."""
    await page.locator("nav.nav").get_by_role("link", name="Transactions").click()
    async with page.expect_download() as download_info:
        await page.get_by_test_id("export-csv").click()
    download = await download_info.value
    assert download.suggested_filename == "transactions.csv"
    path = await download.path()
    text = Path(path).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == CSV_COLUMNS
    return list(reader)


async def test_a_new_client_admin_routes_an_eu_visa_payment_end_to_end(
    page: Page, login: Login, world: World, live_url: str, sandboxes: str
) -> None:
    company_id = world.a.company.id
    email = world.a.users[Role.CLIENT_ADMIN].email

    await login(page, Role.CLIENT_ADMIN)  # 1. the sign-in form
    await expect(page.get_by_test_id("welcome")).to_contain_text("Welcome back")
    quick_actions = page.get_by_label("Quick actions")
    await expect(quick_actions.get_by_role("link", name="Integrations")).to_be_visible()
    await screenshot(page, "journey-01-home")

    await add_gateway_integration(page, sandboxes)  # 2.
    await screenshot(page, "journey-02-integration-tested")

    for name in ACCOUNTS:  # 3.
        await add_merchant_account(page, name, company_id, sandboxes)
    await page.goto("/merchant-accounts")
    for name in ACCOUNTS:
        await expect(page.locator("#accounts-table")).to_contain_text(name)
    await screenshot(page, "journey-03a-accounts")
    pool_id = await add_pool_of_both(page, company_id)
    await screenshot(page, "journey-03b-pool")

    await build_eu_visa_rule(page, company_id, pool_id)  # 4.
    await screenshot(page, "journey-04-rule")

    await try_in_tester(page, company_id)  # 5.
    await screenshot(page, "journey-05-tester")

    payment = await pay_through_the_api(live_url, email, company_id, pool_id)  # 6.

    await find_payment(page, payment["id"])  # 7.
    await screenshot(page, "journey-07-transaction-detail")

    rows = await export_csv(page)  # 8.
    (exported,) = [row for row in rows if row["ID"] == payment["id"]]
    assert exported["Rule"] == RULE
    assert exported["Account"] in ACCOUNTS
    assert exported["Amount"] and exported["Currency"] == "USD"
    assert VISA not in str(rows)
    await screenshot(page, "journey-08-exported")
