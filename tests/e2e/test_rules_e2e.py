"""Routing rules in real headless Chromium, as a new user would: "EU Visa cards → that pool" built
in the 5-step builder (a refused save first shows its error at the right input), tried on a
sample in the builder, saved, and seen to match in the rule tester; screenshots of each page."""

import re

import httpx
from playwright.async_api import Locator, Page, expect

from avnz.tenancy.models import Role
from tests.e2e.conftest import Login, screenshot
from tests.factories import World
from tests.routing.factories import create_account
from tests.rules.support import RULES, create_pool


async def set_leaf(leaf: Locator, kind: str, field: str, operator: str) -> None:
    await leaf.get_by_test_id("leaf-type").select_option(kind)
    await leaf.get_by_test_id("leaf-field").select_option(field)
    await leaf.get_by_test_id("leaf-operator").select_option(operator)


async def test_an_eu_visa_rule_is_built_saved_and_matches_in_the_tester(
    page: Page, login: Login, client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    first = await create_account(client, headers, None, name="NMI primary")
    second = await create_account(client, headers, None, name="NMI backup")
    pool = await create_pool(client, headers, [first["id"], second["id"]], name="EU pool")
    await login(page, Role.COMPANY_ADMIN)
    await page.locator("nav.nav").get_by_role("link", name="Rules", exact=True).click()
    await expect(page.get_by_text("No routing rules yet")).to_be_visible()
    await page.get_by_test_id("new-rule").click()

    builder = page.get_by_test_id("rule-builder")
    await builder.get_by_test_id("rule-name").fill("EU Visa cards")
    await screenshot(page, "rule-builder-basics")
    await builder.get_by_test_id("next-step").click()

    await builder.get_by_test_id("add-condition").click()
    await builder.get_by_test_id("add-condition").click()
    leaves = builder.get_by_test_id("condition-leaf")
    await expect(leaves).to_have_count(2)
    await set_leaf(leaves.nth(0), "geography", "is_eu", "is")
    await set_leaf(leaves.nth(1), "payment_method", "card_brand", "equals")
    # Left without a brand on purpose: the service's error must come back at this input.
    await builder.get_by_test_id("next-step").click()

    await builder.get_by_test_id("new-action-type").select_option("route_to_pool")
    await builder.get_by_test_id("add-action").click()
    action = builder.get_by_test_id("rule-action")
    await action.get_by_test_id("action-pool_id").select_option(pool["id"])
    await builder.get_by_test_id("save-rule").click()

    error = builder.locator('[data-error-path="conditions.1"]')
    await expect(error).to_contain_text("is not one of")
    await expect(builder.get_by_test_id("step-conditions")).to_be_visible()
    await screenshot(page, "rule-builder-conditions")
    await leaves.nth(1).get_by_test_id("leaf-pick").select_option("visa")
    await expect(error).to_be_hidden()

    await builder.get_by_test_id("step-5").click()
    review = builder.get_by_test_id("step-review")
    await expect(review.get_by_test_id("review-conditions")).to_contain_text("Card brand is visa")
    await review.get_by_test_id("sample-country").select_option("DE")
    await review.get_by_test_id("sample-brand").select_option("visa")
    await review.get_by_test_id("run-draft-test").click()
    await expect(review.get_by_test_id("matched-rule")).to_contain_text("EU Visa cards")
    await expect(review.get_by_test_id("test-actions")).to_contain_text("Route to pool EU pool")
    await screenshot(page, "rule-builder-review")

    await builder.get_by_test_id("save-rule").click()
    await expect(page).to_have_url(re.compile(r"/routing/rules/rule_"))
    await expect(page.get_by_test_id("rule-title")).to_have_text("EU Visa cards")
    await expect(page.get_by_test_id("versions")).to_contain_text("Version 1")
    await screenshot(page, "rule-detail")
    saved = (await client.get(RULES, headers=headers)).json()["data"]
    assert [(r["name"], r["actions"][0]["pool_id"]) for r in saved] == [
        ("EU Visa cards", pool["id"])
    ]

    await page.locator("nav.nav").get_by_role("link", name="Rules", exact=True).click()
    row = page.get_by_test_id("rule-row")
    await expect(row).to_have_count(1)
    await row.locator("summary").click()
    await expect(row).to_contain_text("Card brand is visa")
    await expect(row).to_contain_text("Route to pool EU pool")
    await screenshot(page, "rules-list")

    await page.locator("nav.nav").get_by_role("link", name="Rule tester").click()
    form = page.get_by_test_id("tester-form")
    await form.get_by_test_id("tester-amount").fill("49.90")
    await form.get_by_test_id("tester-currency").fill("EUR")
    await form.get_by_test_id("tester-country").select_option("DE")
    await form.get_by_test_id("tester-card_brand").select_option("visa")
    await form.get_by_test_id("run-test").click()
    result = page.get_by_test_id("tester-result")
    await expect(result.get_by_test_id("matched-rule")).to_contain_text("EU Visa cards")
    await expect(result).to_contain_text("✓ Card brand is visa")
    await screenshot(page, "rule-tester")

    await form.get_by_test_id("tester-card_brand").select_option("mastercard")
    await form.get_by_test_id("run-test").click()
    await expect(result.get_by_test_id("no-match")).to_be_visible()
    await expect(result).to_contain_text("✗ Card brand is visa")


async def test_a_nested_group_and_an_amount_range_are_saved_and_edited_again(
    page: Page, login: Login, client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    await login(page, Role.COMPANY_ADMIN)
    await page.goto("/routing/rules/new")
    builder = page.get_by_test_id("rule-builder")
    await builder.get_by_test_id("rule-name").fill("Big UK or IE orders")
    await builder.get_by_test_id("step-2").click()

    await builder.get_by_test_id("add-group").click()
    group = builder.get_by_test_id("condition-group")
    await group.get_by_role("button", name="Condition").click()
    leaves = group.get_by_test_id("condition-leaf")
    await expect(leaves).to_have_count(2)
    for index, country in enumerate(("GB", "IE")):
        await set_leaf(leaves.nth(index), "geography", "country", "equals")
        await leaves.nth(index).get_by_test_id("leaf-pick").select_option(country)
    await builder.get_by_test_id("add-condition").click()
    amount = builder.get_by_test_id("condition-leaf").nth(2)
    await set_leaf(amount, "amount", "amount", "between")
    await amount.get_by_label("From", exact=True).fill("250")
    await amount.get_by_label("To", exact=True).fill("9999.99")
    await amount.get_by_label("Currency", exact=True).select_option("GBP")

    await builder.get_by_test_id("step-3").click()
    await builder.get_by_test_id("new-action-type").select_option("flag_for_review")
    await builder.get_by_test_id("add-action").click()
    await builder.get_by_test_id("rule-action").get_by_test_id("action-reason").fill("Large order")
    await builder.get_by_test_id("save-rule").click()
    await expect(page).to_have_url(re.compile(r"/routing/rules/rule_"))

    (rule,) = (await client.get(RULES, headers=headers)).json()["data"]
    assert rule["conditions"] == [
        {
            "type": "group",
            "logic": "OR",
            "children": [
                {"type": "geography", "field": "country", "operator": "equals", "value": "GB"},
                {"type": "geography", "field": "country", "operator": "equals", "value": "IE"},
            ],
        },
        {
            "type": "amount",
            "field": "amount",
            "currency": "GBP",
            "operator": "between",
            "value": [25000, 999999],
        },
    ]
    assert rule["actions"][0]["reason"] == "Large order"

    await page.get_by_test_id("edit-rule").click()
    await builder.get_by_test_id("step-2").click()
    amount = builder.get_by_test_id("condition-leaf").nth(2)
    await expect(amount.get_by_label("From", exact=True)).to_have_value("250.00")
    await expect(
        builder.get_by_test_id("condition-group").get_by_test_id("leaf-pick").nth(1)
    ).to_have_value("IE")
    await builder.get_by_test_id("step-1").click()
    await builder.get_by_test_id("rule-name").fill("Big UK or Irish orders")
    await builder.get_by_test_id("save-rule").click()
    await expect(page.get_by_test_id("rule-title")).to_have_text("Big UK or Irish orders")
    await expect(page.get_by_test_id("versions")).to_contain_text("Version 2")
