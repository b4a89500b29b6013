"""`/settings/integrations` and `/admin/integrations`: what they show matches the API, the forms
generated from a provider's JSON Schema save through the same service (errors at the field, no
500), every POST needs the session's CSRF token, and roles see only what they may."""

import re
from typing import Any

import httpx
import pytest

from avnz.gateways.nmi.sandbox import SANDBOX_CREDENTIALS
from avnz.tenancy.models import Role
from tests.factories import World
from tests.support.payments import API
from tests.web.conftest import SignIn, csrf_of

CLIENT_PAGE = "/settings/integrations"
ADMIN_PAGE = "/admin/integrations"
NMI_KEY = SANDBOX_CREDENTIALS["security_key"]


def gateway_form(csrf: str, world: World, sandboxes: str, **overrides: str) -> dict[str, str]:
    """The add modal's fields for an NMI gateway of brand A1 at the NMI sandbox."""
    return {
        "csrf_token": csrf,
        "provider": "NMI",
        "name": "NMI main",
        "environment": "sandbox",
        "company_id": world.a.company.id,
        "credentials.security_key": NMI_KEY,
        "settings.base_url": f"{sandboxes}/nmi",
        **overrides,
    }


async def client_integrations(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/integrations", headers=world.headers(Role.CLIENT_ADMIN))
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def sidebar_of(html: str) -> str:
    found = re.search(r'<nav class="nav">.*?</nav>', html, re.S)
    assert found, "the page has no sidebar"
    return found.group(0)


def error_at(html: str, name: str) -> str:
    found = re.search(rf'data-error-for="{re.escape(name)}">([^<]*)<', html)
    assert found, f"no error shown at {name}"
    return found.group(1)


async def add_gateway(
    signed_in: SignIn, world: World, sandboxes: str, **overrides: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    browser = await signed_in(Role.CLIENT_ADMIN)
    csrf = csrf_of((await browser.get(CLIENT_PAGE)).text)
    response = await browser.post(
        CLIENT_PAGE, data=gateway_form(csrf, world, sandboxes, **overrides)
    )
    return browser, response


# --- /settings/integrations ------------------------------------------------------------------


async def test_an_empty_client_page_offers_the_providers_from_the_catalog(
    signed_in: SignIn,
) -> None:
    page = await (await signed_in(Role.CLIENT_ADMIN)).get(CLIENT_PAGE)

    assert page.status_code == 200
    assert "No integrations yet" in page.text
    assert 'data-testid="provider-NMI"' in page.text
    # The credential input comes from NMI's JSON Schema: a required password field.
    field = re.search(r'<input type="password" name="credentials\.security_key"[^>]*>', page.text)
    assert field and "required" in field.group(0)
    assert "Security key" in page.text
    assert 'data-testid="category-PAYMENT_GATEWAY"' in page.text
    assert 'data-testid="provider-OKTA"' not in page.text  # organization-only provider


async def test_adding_a_gateway_saves_tests_it_and_shows_what_the_api_shows(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    browser, response = await add_gateway(signed_in, world, sandboxes)

    assert response.status_code == 303
    assert response.headers["location"] == CLIENT_PAGE
    [row] = await client_integrations(client, world)
    assert (row["provider"], row["name"], row["is_default"]) == ("NMI", "NMI main", True)
    assert row["last_test_result"]["success"] is True
    assert row["is_verified"] is True
    page = await browser.get(CLIENT_PAGE)
    assert "Added NMI main." in page.text
    assert "NMI main: connection OK" in page.text
    assert row["credentials"]["security_key"] in page.text  # masked as the API shows it
    assert NMI_KEY not in page.text
    assert 'data-state="connected"' in page.text
    assert ">default<" in page.text
    # The message is shown once.
    assert "Added NMI main." not in (await browser.get(CLIENT_PAGE)).text
    # The gateway's brand got its merchant account, as through the API.
    accounts = await client.get(
        f"{API}/merchant-accounts", headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert [a["client_integration_id"] for a in accounts.json()["data"]] == [row["id"]]


async def test_a_refused_key_is_recorded_as_a_failed_test(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    browser, response = await add_gateway(
        signed_in, world, sandboxes, **{"credentials.security_key": "not-the-sandbox-key-0000"}
    )

    assert response.status_code == 303
    [row] = await client_integrations(client, world)
    assert row["last_test_result"]["success"] is False
    page = await browser.get(CLIENT_PAGE)
    assert 'data-state="error"' in page.text
    assert "NMI main: connection failed" in page.text
    assert "not-the-sandbox-key-0000" not in page.text


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("credentials.security_key", "", "credentials.security_key"),
        ("settings.base_url", "not a url", "settings.base_url"),
        ("name", "", "name"),
    ],
)
async def test_a_refused_form_shows_the_error_at_its_field_and_saves_nothing(
    client: httpx.AsyncClient,
    signed_in: SignIn,
    world: World,
    sandboxes: str,
    field: str,
    value: str,
    param: str,
) -> None:
    _, response = await add_gateway(signed_in, world, sandboxes, **{field: value})

    assert response.status_code == 400
    assert error_at(response.text, param)
    assert 'data-open-on-load="add-integration"' in response.text
    assert 'data-start-step="3"' in response.text  # back on the credentials step
    assert 'value="NMI main"' in response.text or field == "name"
    assert NMI_KEY not in response.text  # a secret is never filled in again
    assert await client_integrations(client, world) == []


async def test_an_unknown_provider_is_named_above_the_form(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    _, response = await add_gateway(signed_in, world, sandboxes, provider="NOPE")

    assert response.status_code == 400
    assert 'data-testid="form-errors"' in response.text
    assert "Choose a provider." in response.text
    assert await client_integrations(client, world) == []


async def test_a_post_without_the_sessions_csrf_token_changes_nothing(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    browser = await signed_in(Role.CLIENT_ADMIN)
    other = csrf_of((await (await signed_in(Role.CLIENT_ADMIN, "b")).get(CLIENT_PAGE)).text)

    for token in ("", other):
        response = await browser.post(CLIENT_PAGE, data=gateway_form(token, world, sandboxes))
        assert response.status_code == 403
        assert "The form has expired" in response.text

    assert await client_integrations(client, world) == []


async def test_editing_keeps_a_blank_secret_and_shows_errors_at_the_field(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    browser, _ = await add_gateway(signed_in, world, sandboxes)
    [row] = await client_integrations(client, world)
    edit_url = f"{CLIENT_PAGE}/{row['id']}"
    page = await browser.get(edit_url)
    assert f"{row['credentials']['security_key']} — leave blank to keep" in page.text
    csrf = csrf_of(page.text)
    form = {
        "csrf_token": csrf,
        "name": "NMI renamed",
        "status": "active",
        "environment": "sandbox",
        "credentials.security_key": "",
        "settings.base_url": f"{sandboxes}/nmi",
    }

    refused = await browser.post(edit_url, data={**form, "settings.base_url": "ftp://x"})
    assert refused.status_code == 400
    assert error_at(refused.text, "settings.base_url")
    saved = await browser.post(edit_url, data=form)
    assert saved.status_code == 303

    [after] = await client_integrations(client, world)
    assert after["name"] == "NMI renamed"
    assert after["credentials"] == row["credentials"]  # the blank kept the stored key
    tested = await browser.post(f"{edit_url}/test", data={"csrf_token": csrf})
    assert tested.status_code == 303
    assert "NMI renamed: connection OK" in (await browser.get(CLIENT_PAGE)).text


async def test_delete_needs_the_token_and_then_removes_the_integration(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    browser, _ = await add_gateway(signed_in, world, sandboxes)
    [row] = await client_integrations(client, world)
    url = f"{CLIENT_PAGE}/{row['id']}/delete"

    assert (await browser.post(url, data={})).status_code == 403
    assert len(await client_integrations(client, world)) == 1
    csrf = csrf_of((await browser.get(CLIENT_PAGE)).text)
    assert (await browser.post(url, data={"csrf_token": csrf})).status_code == 303
    assert await client_integrations(client, world) == []
    assert "Deleted NMI main." in (await browser.get(CLIENT_PAGE)).text


async def test_another_clients_integration_is_neither_listed_nor_found(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    await add_gateway(signed_in, world, sandboxes)
    [row] = await client_integrations(client, world)
    outsider = await signed_in(Role.CLIENT_ADMIN, "b")

    assert f'data-testid="integration-{row["id"]}"' not in (await outsider.get(CLIENT_PAGE)).text
    assert (await outsider.get(f"{CLIENT_PAGE}/{row['id']}")).status_code == 404


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "client_page", "admin_page"),
    [
        (Role.ORGANIZATION_ADMIN, 200, 200),
        (Role.CLIENT_ADMIN, 200, 403),
        (Role.CLIENT_USER, 200, 403),
        (Role.COMPANY_ADMIN, 403, 403),
        (Role.COMPANY_USER, 403, 403),
    ],
)
async def test_each_role_reaches_only_its_integration_pages(
    signed_in: SignIn, role: Role, client_page: int, admin_page: int
) -> None:
    browser = await signed_in(role)

    assert (await browser.get(CLIENT_PAGE)).status_code == client_page
    assert (await browser.get(ADMIN_PAGE)).status_code == admin_page
    sidebar = sidebar_of((await browser.get("/")).text)
    assert (f'href="{CLIENT_PAGE}"' in sidebar) is (client_page == 200)
    assert (f'href="{ADMIN_PAGE}"' in sidebar) is (admin_page == 200)


async def test_a_client_user_reads_but_cannot_add(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    reader = await signed_in(Role.CLIENT_USER)
    page = await reader.get(CLIENT_PAGE)
    assert 'data-testid="add-integration"' not in page.text

    response = await reader.post(
        CLIENT_PAGE, data=gateway_form(csrf_of(page.text), world, sandboxes)
    )

    assert response.status_code == 403
    assert await client_integrations(client, world) == []


# --- /admin/integrations ---------------------------------------------------------------------


async def test_an_org_admin_adds_tests_and_shares_a_platform_gateway(
    client: httpx.AsyncClient, signed_in: SignIn, world: World, sandboxes: str
) -> None:
    admin = await signed_in(Role.ORGANIZATION_ADMIN)
    page = await admin.get(ADMIN_PAGE)
    assert "No platform integrations yet" in page.text
    assert 'data-testid="provider-OKTA"' in page.text  # organization-only providers too
    csrf = csrf_of(page.text)
    form = {
        "csrf_token": csrf,
        "provider": "NMI",
        "name": "Platform NMI",
        "environment": "sandbox",
        "credentials.security_key": NMI_KEY,
        "settings.base_url": f"{sandboxes}/nmi",
    }

    assert (await admin.post(ADMIN_PAGE, data=form)).status_code == 303
    listed = await client.get(
        f"{API}/admin/integrations/platform", headers=world.headers(Role.ORGANIZATION_ADMIN)
    )
    [row] = listed.json()["data"]
    assert (
        await admin.post(f"{ADMIN_PAGE}/{row['id']}/test", data={"csrf_token": csrf})
    ).status_code == 303
    tested = (await admin.get(ADMIN_PAGE)).text
    assert "Platform NMI: connection OK" in tested
    assert re.search(r'data-testid="stat-connected">.*?class="stat-value">1<', tested, re.S)

    sharing = f"{ADMIN_PAGE}/{row['id']}/sharing"
    refused = await admin.post(
        sharing,
        data={"csrf_token": csrf, "is_shared_with_clients": "on", "client_pricing.percent": "150"},
    )
    assert refused.status_code == 400
    assert "client_pricing.percent" in refused.text
    shared = await admin.post(
        sharing,
        data={
            "csrf_token": csrf,
            "is_shared_with_clients": "on",
            "client_pricing.percent": "1.25",
            "client_pricing.flat_minor": "30",
        },
    )
    assert shared.status_code == 303
    stored = await client.get(
        f"{API}/admin/integrations/platform/{row['id']}",
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert stored.json()["client_pricing"] == {"percent": "1.25", "flat_minor": 30}

    # The client sees the platform gateway card with that price, and enables it.
    agency = await signed_in(Role.CLIENT_ADMIN)
    client_page = await agency.get(CLIENT_PAGE)
    assert f'data-testid="platform-offer-{row["id"]}"' in client_page.text
    assert "1.25 %" in client_page.text and "+ 30 minor units" in client_page.text
    enabled = await agency.post(
        CLIENT_PAGE,
        data={
            "csrf_token": csrf_of(client_page.text),
            "mode": "platform",
            "provider": "NMI",
            "platform_integration_id": row["id"],
            "name": "Platform NMI",
            "company_id": world.a.company.id,
        },
    )
    assert enabled.status_code == 303
    [mine] = await client_integrations(client, world)
    assert (mine["mode"], mine["platform_integration_id"]) == ("platform", row["id"])
    assert mine["last_test_result"]["success"] is True


async def test_a_refused_platform_integration_reopens_the_modal_with_the_error(
    client: httpx.AsyncClient, signed_in: SignIn, world: World
) -> None:
    admin = await signed_in(Role.ORGANIZATION_ADMIN)
    csrf = csrf_of((await admin.get(ADMIN_PAGE)).text)

    response = await admin.post(
        ADMIN_PAGE,
        data={
            "csrf_token": csrf,
            "provider": "ANTHROPIC",
            "name": "Claude",
            "credentials.api_key": "nope",
        },
    )

    assert response.status_code == 400
    assert "does not have the expected format" in error_at(response.text, "credentials.api_key")
    assert 'data-open-on-load="add-platform-integration"' in response.text
    listed = await client.get(
        f"{API}/admin/integrations/platform", headers=world.headers(Role.ORGANIZATION_ADMIN)
    )
    assert listed.json()["data"] == []


async def test_the_admin_catalog_renders_each_schema_type_as_its_input(signed_in: SignIn) -> None:
    page = (await (await signed_in(Role.ORGANIZATION_ADMIN)).get(ADMIN_PAGE)).text

    def smtp_input(name: str) -> str:
        smtp = re.search(r'<fieldset class="plain" data-provider="SMTP".*?</fieldset>', page, re.S)
        assert smtp, "the SMTP inputs are in the modal"
        found = re.search(rf'<(?:input|select)[^>]*name="{re.escape(name)}"[^>]*>', smtp.group(0))
        assert found, name
        return found.group(0)

    assert 'type="number"' in smtp_input("settings.port")
    assert 'value="587"' in smtp_input("settings.port")
    assert 'type="checkbox"' in smtp_input("settings.starttls")
    assert "checked" in smtp_input("settings.starttls")
    assert "checked" not in smtp_input("settings.use_tls")
    assert 'type="password"' in smtp_input("credentials.password")
    okta = re.search(r'data-provider="OKTA".*?</fieldset>', page, re.S)
    assert okta and '<select name="settings.algorithms" multiple' in okta.group(0)
    assert re.search(r'<option value="RS256"\s+selected>', okta.group(0))


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "bad\x00name"},
        {"credentials.security_key": "   "},
        {"settings.base_url": "http://" + "a" * 600},
        {"company_id": "com_not_mine"},
        {"environment": "moon"},
    ],
)
async def test_hostile_input_is_a_400_page_never_a_500(
    client: httpx.AsyncClient,
    signed_in: SignIn,
    world: World,
    sandboxes: str,
    overrides: dict[str, str],
) -> None:
    _, response = await add_gateway(signed_in, world, sandboxes, **overrides)

    assert response.status_code == 400
    assert "data-error-for=" in response.text or 'data-testid="form-errors"' in response.text
    assert await client_integrations(client, world) == []
