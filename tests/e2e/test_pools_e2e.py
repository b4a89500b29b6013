"""Pools in real headless Chromium, as a new user would: a pool made of two accounts in the add
modal, its failover order changed by dragging, a weight slider moved, and the simulator run."""

import re

import httpx
from playwright.async_api import Page, expect

from avnz.tenancy.models import Role
from tests.e2e.conftest import Login, screenshot
from tests.factories import World
from tests.routing.factories import create_account
from tests.rules.support import POOLS


async def drag(page: Page, source: str, target: str) -> None:
    """Press on `source`, move over `target` in small steps (as a hand would), release."""
    await page.locator(source).hover()
    await page.mouse.down()
    box = await page.locator(target).bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 2, steps=15)
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 1, steps=5)
    await page.mouse.up()


async def member_order(client: httpx.AsyncClient, world: World, pool_id: str) -> list[str]:
    pool = await client.get(f"{POOLS}/{pool_id}", headers=world.headers(Role.COMPANY_ADMIN))
    return [m["account_name"] for m in pool.json()["memberships"]]


async def test_a_pool_of_two_accounts_is_reordered_by_dragging_and_simulated(
    page: Page, login: Login, client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    first = await create_account(client, headers, None, name="NMI primary")
    second = await create_account(client, headers, None, name="NMI backup")
    await login(page, Role.COMPANY_ADMIN)
    await page.locator("nav.nav").get_by_role("link", name="Pools").click()
    await expect(page.get_by_text("No pools yet")).to_be_visible()
    await screenshot(page, "pools-empty")

    await page.get_by_test_id("add-pool").click()
    form = page.get_by_test_id("add-pool-form")
    await form.get_by_test_id("pool-name").fill("EU cards")
    await form.locator('input[name="strategy"][value="weighted"]').check()
    await form.get_by_test_id(f"pick-{first['id']}").check()
    await form.get_by_test_id(f"pick-{second['id']}").check()
    await screenshot(page, "pools-add-modal")
    await form.get_by_test_id("create-pool").click()
    await expect(page).to_have_url(re.compile(r"/pools/pool_"))
    pool_id = page.url.rsplit("/", 1)[1]
    members = page.get_by_test_id("member")
    await expect(members).to_have_count(2)
    await expect(members.first).to_contain_text("NMI primary")
    assert await member_order(client, world, pool_id) == ["NMI primary", "NMI backup"]

    async with page.expect_response(re.compile(r"/members$")):
        await drag(
            page,
            f'[data-account-id="{second["id"]}"] .drag-handle',
            f'[data-account-id="{first["id"]}"]',
        )
    await expect(members.first).to_contain_text("NMI backup")
    assert await member_order(client, world, pool_id) == ["NMI backup", "NMI primary"]

    slider = page.get_by_test_id(f"weight-{first['id']}")
    async with page.expect_response(re.compile(r"/members$")):
        await slider.fill("25")
        await slider.dispatch_event("change")
    pool = await client.get(f"{POOLS}/{pool_id}", headers=headers)
    weights = {m["account_name"]: m["weight"] for m in pool.json()["memberships"]}
    assert weights == {"NMI backup": 100, "NMI primary": 25}
    await expect(page.locator(f'[data-account-id="{first["id"]}"] .member-share')).to_have_text(
        "20%"
    )

    simulator = page.get_by_test_id("simulate-form")
    await simulator.locator('input[name="transactions"]').fill("500")
    await simulator.locator('input[name="seed"]').fill("42")
    await simulator.get_by_test_id("run-simulation").click()
    table = page.get_by_test_id("simulation-table")
    await expect(table).to_be_visible()
    await expect(table.locator("tbody tr")).to_have_count(2)
    await expect(page.get_by_test_id("sim-total")).to_contain_text("500")
    await screenshot(page, "pool-detail")

    await page.locator("nav.nav").get_by_role("link", name="Pools").click()
    await expect(page.get_by_test_id("pools-table")).to_contain_text("EU cards")
    await screenshot(page, "pools-list")
