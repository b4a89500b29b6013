"""`/merchant-accounts` and `/merchant-accounts/{id}`: the list (Table with usage and health, CSV),
the 5-step add form and the edit tabs saving through the routing service (errors at the field,
no 500), usage meters and alerts near a cap, the connection test, CSRF and roles."""

import csv
import io
import re
from typing import Any

import httpx
import pytest

from avnz.gateways.nmi.sandbox import SANDBOX_CREDENTIALS
from avnz.tenancy.models import Role
from tests.factories import World
from tests.support.payments import API, pay
from tests.web.conftest import SignIn, csrf_of

LIST = "/merchant-accounts"
NMI_KEY = SANDBOX_CREDENTIALS["security_key"]


def account_form(csrf: str, sandboxes: str, **overrides: Any) -> dict[str, Any]:
    """Every step of the add modal: gateway, account and credentials, limits, restrictions and
    fees (amounts typed in major units)."""
    return {
        "csrf_token": csrf,
        "provider_type": "nmi",
        "name": "NMI primary",
        "merchant_id": "MID-001",
        "environment": "sandbox",
        "currency": "USD",
        "base_url": f"{sandboxes}/nmi",
        "credentials.security_key": NMI_KEY,
        "limits.daily_volume_limit": "1,000.00",
        "limits.max_transaction_amount": "250",
        "limits.daily_transaction_limit": "40",
        "restrictions.allowed_countries": "us, ca",
        "restrictions.blocked_card_brands": ["amex", "jcb"],
        "fees.base_percentage": "2.9",
        "fees.base_flat_fee": "0.30",
        **overrides,
    }


async def api_accounts(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    response = await client.get(
        f"{API}/merchant-accounts", headers=world.headers(Role.COMPANY_ADMIN)
    )
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def error_at(html: str, name: str) -> str:
    found = re.search(rf'data-error-for="{re.escape(name)}">([^<]*)<', html)
    assert found, f"no error shown at {name}"
    return found.group(1)


async def add_account(
    signed_in: SignIn, sandboxes: str, **overrides: Any
) -> tuple[httpx.AsyncClient, httpx.Response]:
    browser = await signed_in(Role.COMPANY_ADMIN)
    csrf = csrf_of((await browser.get(LIST)).text)
    return browser, await browser.post(LIST, data=account_form(csrf, sandboxes, **overrides))


async def test_an_empty_list_invites_to_add_one(signed_in: SignIn) -> None:
    page = await (await signed_in(Role.COMPANY_ADMIN)).get(LIST)

    assert page.status_code == 200
    assert "No merchant accounts yet — add one" in page.text
    assert 'data-testid="add-account"' in page.text
    assert 'data-testid="gateway-nmi"' in page.text
    assert 'name="credentials.security_key"' in page.text  # from NMI's JSON Schema


async def test_the_add_form_saves_what_the_api_then_shows(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    browser, response = await add_account(signed_in, sandboxes)

    assert response.status_code == 303
    [account] = await api_accounts(client, world)
    assert response.headers["location"] == f"{LIST}/{account['id']}"
    assert (account["name"], account["merchant_id"], account["company_id"]) == (
        "NMI primary",
        "MID-001",
        world.a.company.id,
    )
    assert {k: v for k, v in account["limits"].items() if v is not None} == {
        "daily_volume_limit": 100000,
        "max_transaction_amount": 25000,
        "daily_transaction_limit": 40,
    }
    assert account["restrictions"]["allowed_countries"] == ["US", "CA"]
    assert account["restrictions"]["blocked_card_brands"] == ["amex", "jcb"]
    assert (account["fees"]["base_percentage"], account["fees"]["base_flat_fee"]) == ("2.9", 30)
    detail = await browser.get(response.headers["location"])
    assert "Added NMI primary." in detail.text
    assert NMI_KEY not in detail.text
    assert 'value="1000.00"' in detail.text  # the limits tab shows major units again


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"credentials.security_key": ""}, "credentials.security_key"),
        ({"limits.daily_volume_limit": "12.345"}, "limits.daily_volume_limit"),
        ({"limits.daily_transaction_limit": "-3"}, "limits.daily_transaction_limit"),
        ({"restrictions.allowed_countries": "US, ZZ"}, "restrictions.allowed_countries"),
        ({"descriptor": "x" * 30}, "descriptor"),
        ({"name": ""}, "name"),
        ({"currency": "XYZ"}, "currency"),
        ({"environment": "production"}, "base_url"),
    ],
)
async def test_a_refused_field_is_named_at_its_input_and_nothing_is_saved(
    client: httpx.AsyncClient,
    signed_in: SignIn,
    world: World,
    sandboxes: str,
    overrides: dict[str, str],
    param: str,
) -> None:
    _, response = await add_account(signed_in, sandboxes, **overrides)

    assert response.status_code == 400
    assert error_at(response.text, param)
    assert 'data-open-on-load="add-account"' in response.text
    assert NMI_KEY not in response.text
    assert await api_accounts(client, world) == []


async def test_an_error_of_no_single_input_is_listed_above_the_form(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    _, response = await add_account(
        signed_in, sandboxes, **{"limits.min_transaction_amount": "500"}
    )

    assert response.status_code == 400
    errors = re.search(r'data-testid="form-errors">(.*?)</div>\s*</div>', response.text, re.S)
    assert errors and "must not exceed max_transaction_amount" in errors.group(1)
    assert await api_accounts(client, world) == []


async def test_posts_need_the_sessions_csrf_token(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    browser = await signed_in(Role.COMPANY_ADMIN)

    response = await browser.post(LIST, data=account_form("forged", sandboxes))

    assert response.status_code == 403
    assert await api_accounts(client, world) == []


async def test_the_list_shows_status_usage_and_health_and_exports_csv(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
    world: World,
) -> None:
    await client.patch(
        f"{API}/merchant-accounts/{account['id']}",
        json={"limits": {"daily_transaction_limit": 4}},
        headers=headers,
    )
    assert (await pay(client, headers)).status_code == 201
    browser = await signed_in(Role.COMPANY_USER)

    page = await browser.get(LIST)

    assert page.status_code == 200
    row = re.search(rf'<tr data-row-id="{account["id"]}">(.*?)</tr>', page.text, re.S)
    assert row, "the account is listed"
    assert f'href="{LIST}/{account["id"]}"' in row.group(1)
    assert 'data-status="active"' in row.group(1)
    assert "25% of day transactions" in row.group(1)
    assert 'data-testid="add-account"' not in page.text  # a company user only reads
    exported = await browser.get(LIST, params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    [header, line] = list(csv.reader(io.StringIO(exported.text)))
    assert header[:4] == ["Name", "Gateway", "Status", "Usage vs caps"]
    assert line[:4] == [account["name"], "NMI", "active", "25% of day transactions"]
    filtered = await browser.get(LIST, params={"status": "inactive"})
    assert f'data-row-id="{account["id"]}"' not in filtered.text
    assert "Status: inactive" in filtered.text  # the removable pill
    partial = await browser.get(
        LIST,
        params={"search": "NMI"},
        headers={"HX-Request": "true", "HX-Target": "accounts-table"},
    )
    assert partial.text.lstrip().startswith('<div class="table-wrap" id="accounts-table"')


async def test_the_detail_page_shows_meters_alerts_payments_and_activity(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
) -> None:
    await client.patch(
        f"{API}/merchant-accounts/{account['id']}",
        json={"limits": {"daily_transaction_limit": 5, "monthly_volume_limit": 1000000}},
        headers=headers,
    )
    payments = [(await pay(client, headers)).json() for _ in range(4)]
    browser = await signed_in(Role.COMPANY_USER)

    page = await browser.get(f"{LIST}/{account['id']}")

    assert page.status_code == 200
    usage = (
        await client.get(f"{API}/merchant-accounts/{account['id']}/usage", headers=headers)
    ).json()
    day = next(b for b in usage["current"] if b["period"] == "day")
    assert day["transaction_count"] == 4
    assert 'data-testid="meter-day-transactions"' in page.text
    assert "4 / 5 · 80%" in page.text
    [alert] = re.findall(r'data-testid="limit-alert">\s*(.*?)\s*</div>', page.text, re.S)
    assert alert.startswith("80% of the day's transactions cap is used")
    assert 'data-testid="meter-month-volume"' in page.text  # $79.96 of $10,000.00: no alert
    for payment in payments:
        assert f'href="/transactions/{payment["id"]}"' in page.text
    activity = re.search(r'data-testid="activity">(.*?)</ul>', page.text, re.S)
    assert activity and "Created" in activity.group(1) and "Changed limits" in activity.group(1)
    assert 'data-testid="edit-tabs"' not in page.text  # read-only for a company user


async def test_the_connection_test_records_health_and_says_the_result(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
) -> None:
    browser = await signed_in(Role.COMPANY_ADMIN)
    url = f"{LIST}/{account['id']}"
    csrf = csrf_of((await browser.get(url)).text)

    response = await browser.post(f"{url}/test", data={"csrf_token": csrf})

    assert response.status_code == 303
    health = (
        await client.get(f"{API}/merchant-accounts/{account['id']}/health", headers=headers)
    ).json()
    assert health["last_test"]["success"] is True
    page = await browser.get(url)
    assert "Connection OK" in page.text
    assert f'data-score="{health["health_score"]}"' in page.text


async def test_the_edit_tabs_save_through_the_service(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
) -> None:
    browser = await signed_in(Role.COMPANY_ADMIN)
    url = f"{LIST}/{account['id']}"
    page = await browser.get(url)
    csrf = csrf_of(page.text)
    masked = (await client.get(f"{API}/merchant-accounts/{account['id']}", headers=headers)).json()[
        "credentials"
    ]["security_key"]
    assert f"{masked} — leave blank to keep" in page.text

    general = await browser.post(
        f"{url}/edit/general",
        data={"csrf_token": csrf, "name": "Renamed", "descriptor": "AVNZ*SHOP", "status": "active"},
    )
    limits = await browser.post(
        f"{url}/edit/limits", data={"csrf_token": csrf, "limits.weekly_volume_limit": "5000"}
    )
    restrictions = await browser.post(
        f"{url}/edit/restrictions",
        data={"csrf_token": csrf, "restrictions.allowed_card_brands": ["visa", "mastercard"]},
    )
    kept = await browser.post(
        f"{url}/edit/credentials", data={"csrf_token": csrf, "credentials.security_key": ""}
    )

    assert [r.status_code for r in (general, limits, restrictions, kept)] == [303] * 4
    stored = (await client.get(f"{API}/merchant-accounts/{account['id']}", headers=headers)).json()
    assert (stored["name"], stored["descriptor"]) == ("Renamed", "AVNZ*SHOP")
    assert {k: v for k, v in stored["limits"].items() if v is not None} == {
        "weekly_volume_limit": 500000
    }
    assert stored["restrictions"]["allowed_card_brands"] == ["visa", "mastercard"]
    assert stored["credentials"]["security_key"] == masked  # the blank kept the stored key
    tested = await browser.post(f"{url}/test", data={"csrf_token": csrf})
    assert "Connection OK" in (await browser.get(tested.headers["location"])).text


async def test_a_refused_edit_stays_on_its_tab_with_the_error_at_the_field(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
) -> None:
    browser = await signed_in(Role.COMPANY_ADMIN)
    url = f"{LIST}/{account['id']}"
    csrf = csrf_of((await browser.get(url)).text)

    response = await browser.post(
        f"{url}/edit/restrictions",
        data={
            "csrf_token": csrf,
            "restrictions.allowed_countries": "US",
            "restrictions.blocked_countries": "US",
        },
    )

    assert response.status_code == 400
    assert 'data-tab="restrictions"' in response.text
    assert "both allowed and blocked" in response.text
    stored = (await client.get(f"{API}/merchant-accounts/{account['id']}", headers=headers)).json()
    assert stored["restrictions"]["allowed_countries"] == []
    assert (await browser.post(f"{url}/edit/nope", data={"csrf_token": csrf})).status_code == 404


async def test_roles_and_scope(
    client: httpx.AsyncClient, account: dict[str, Any], signed_in: SignIn, sandboxes: str
) -> None:
    reader = await signed_in(Role.COMPANY_USER)
    page = await reader.get(LIST)
    assert page.status_code == 200
    forbidden = await reader.post(LIST, data=account_form(csrf_of(page.text), sandboxes))
    assert forbidden.status_code == 403
    test = await reader.post(
        f"{LIST}/{account['id']}/test", data={"csrf_token": csrf_of(page.text)}
    )
    assert test.status_code == 403

    outsider = await signed_in(Role.COMPANY_ADMIN, "b")
    assert (await outsider.get(f"{LIST}/{account['id']}")).status_code == 404
    assert f'data-row-id="{account["id"]}"' not in (await outsider.get(LIST)).text


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "bad\x00name"},
        {"limits.daily_transaction_limit": "9" * 40},
        {"limits.daily_volume_limit": "1e400"},
        {"restrictions.allowed_card_brands": "bogus"},
        {"fees.base_percentage": "abc"},
        {"provider_type": "nope"},
        {"credentials.security_key": "x" * 5000},
    ],
)
async def test_hostile_input_is_a_400_page_never_a_500(
    client: httpx.AsyncClient,
    signed_in: SignIn,
    world: World,
    sandboxes: str,
    overrides: dict[str, str],
) -> None:
    _, response = await add_account(signed_in, sandboxes, **overrides)

    assert response.status_code == 400
    assert "data-error-for=" in response.text or 'data-testid="form-errors"' in response.text
    assert await api_accounts(client, world) == []
