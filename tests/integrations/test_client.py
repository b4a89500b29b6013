"""Client integrations: own and platform mode, the rules of each, defaults, the catalogue of
what a client may add, and who may see or change what."""

import pytest

from avnz.tenancy.models import Role
from tests.integrations.factories import (
    CLIENT,
    OPENAI_KEY,
    UNREACHABLE,
    client_admin,
    create_client_integration,
    create_platform,
    org_admin,
    own_body,
)


async def test_own_mode_is_masked_and_the_first_of_a_category_is_the_default(client, world):
    headers = client_admin(world)
    first = await create_client_integration(client, headers, own_body())
    assert first["id"].startswith("cint_")
    assert first["client_id"] == world.a.client.id  # a client admin's own client by default
    assert first["company_id"] is None
    assert (first["mode"], first["category"], first["is_default"]) == ("own", "AI_ML", True)
    assert first["credentials"] == {"api_key": "••••" + OPENAI_KEY[-4:]}
    assert first["usage_this_month"] == [] and first["is_verified"] is False
    assert OPENAI_KEY not in str(first)

    second = await create_client_integration(
        client, headers, own_body("OLLAMA", name="Local", credentials={}, settings={})
    )
    assert second["is_default"] is False
    made_default = await client.patch(f"{CLIENT}/{second['id']}/default", headers=headers)
    assert made_default.status_code == 200
    assert made_default.json()["is_default"] is True
    first_now = await client.get(f"{CLIENT}/{first['id']}", headers=headers)
    assert first_now.json()["is_default"] is False

    third = await create_client_integration(
        client, headers, own_body(name="Takes over", is_default=True)
    )
    assert third["is_default"] is True
    listed = await client.get(CLIENT, params={"category": "AI_ML"}, headers=headers)
    defaults = [i["id"] for i in listed.json()["data"] if i["is_default"]]
    assert defaults == [third["id"]]


async def test_the_rules_of_each_mode(client, world):
    headers = client_admin(world)
    shared = await create_platform(client, world, "ANTHROPIC", is_shared_with_clients=True)
    private = await create_platform(client, world, "ANTHROPIC", name="Internal only")
    twilio = await create_platform(client, world, "TWILIO", is_shared_with_clients=True)
    platform_mode = {"provider": "ANTHROPIC", "name": "Claude", "mode": "platform"}
    cases = [
        (own_body(credentials=None), 400, "credentials"),
        (own_body(platform_integration_id=shared["id"]), 400, "platform_integration_id"),
        (own_body("DATADOG", credentials={"api_key": "0" * 32}), 400, "provider"),
        (own_body(company_id=world.a.company.id), 400, "company_id"),
        (platform_mode, 400, "platform_integration_id"),
        ({**platform_mode, "platform_integration_id": private["id"]}, 404, None),
        ({**platform_mode, "platform_integration_id": twilio["id"]}, 400, None),
        (
            {**platform_mode, "platform_integration_id": shared["id"], "credentials": {}},
            400,
            "credentials",
        ),
        (
            {
                **platform_mode,
                "platform_integration_id": shared["id"],
                "settings": {"base_url": "http://attacker.example"},
            },
            400,
            "settings.base_url",
        ),
    ]
    for body, status, param in cases:
        response = await client.post(CLIENT, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == (param or "platform_integration_id")

    used = await create_client_integration(
        client,
        headers,
        {
            **platform_mode,
            "platform_integration_id": shared["id"],
            "settings": {"model": "claude-sonnet"},
        },
    )
    assert used["credentials"] is None
    assert used["platform_integration_id"] == shared["id"]
    assert used["environment"] == shared["environment"]
    for change in ({"credentials": {"api_key": "sk-ant-x"}}, {"environment": "production"}):
        refused = await client.patch(f"{CLIENT}/{used['id']}", json=change, headers=headers)
        assert refused.status_code == 400, refused.text


async def test_a_payment_gateway_needs_a_brand_of_the_client(client, world):
    headers = client_admin(world)
    missing = await client.post(CLIENT, json=own_body("NMI"), headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "company_id"
    other_agency = await client.post(
        CLIENT, json=own_body("NMI", company_id=world.b.company.id), headers=headers
    )
    assert other_agency.status_code == 404
    assert other_agency.json()["error"]["param"] == "company_id"
    mismatch = await client.post(
        CLIENT,
        json=own_body("NMI", client_id=world.a.client.id, company_id=world.b.company.id),
        headers=org_admin(world),
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["param"] == "company_id"


async def test_organization_admins_name_the_client(client, world):
    response = await client.post(CLIENT, json=own_body(), headers=org_admin(world))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "client_id"
    made = await create_client_integration(
        client, org_admin(world), own_body(client_id=world.b.client.id)
    )
    assert made["client_id"] == world.b.client.id
    only_b = await client.get(
        CLIENT, params={"client_id": world.b.client.id}, headers=org_admin(world)
    )
    assert [i["id"] for i in only_b.json()["data"]] == [made["id"]]


async def test_available_lists_what_a_client_may_add_with_the_platforms_offers(client, world):
    shared = await create_platform(client, world, "ANTHROPIC", is_shared_with_clients=True)
    await create_platform(client, world, "ANTHROPIC", name="Not offered")
    response = await client.get(f"{CLIENT}/available", headers=world.headers(Role.CLIENT_USER))
    assert response.status_code == 200
    catalogue = {item["definition"]["provider"]: item for item in response.json()["data"]}
    assert {"NMI", "STRIPE", "SMTP", "KLAVIYO", "ANTHROPIC"} <= set(catalogue)
    assert not {"AUTH0", "DATADOG", "AWS_SES"} & set(catalogue)
    offers = catalogue["ANTHROPIC"]["platform_options"]
    assert [(o["id"], o["client_pricing"]) for o in offers] == [
        (shared["id"], {"percent": "0.5", "flat_minor": 10})
    ]
    assert "credentials" not in offers[0]
    assert catalogue["NMI"]["platform_options"] == []


async def test_updates_change_what_they_name(client, world):
    headers = client_admin(world)
    created = await create_client_integration(client, headers, own_body(priority=3))
    response = await client.patch(
        f"{CLIENT}/{created['id']}",
        json={
            "credentials": {"api_key": "sk-new-" + "q" * 20},
            "settings": {"base_url": UNREACHABLE, "model": "local-7b"},
            "priority": 9,
            "description": "Fallback model",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["credentials"] == {"api_key": "••••qqqq"}
    assert body["settings"]["model"] == "local-7b"
    assert (body["priority"], body["description"]) == (9, "Fallback model")
    assert body["updated_by"] == world.a.users[Role.CLIENT_ADMIN].id
    inactive = await client.patch(
        f"{CLIENT}/{created['id']}", json={"status": "inactive"}, headers=headers
    )
    assert inactive.json()["status"] == "inactive"
    refused = await client.patch(f"{CLIENT}/{created['id']}/default", headers=headers)
    assert refused.status_code == 400


async def test_delete_hides_the_integration_and_erases_its_credentials(client, world):
    headers = client_admin(world)
    created = await create_client_integration(client, headers, own_body())
    deleted = await client.delete(f"{CLIENT}/{created['id']}", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json()["credentials"] == {} and deleted.json()["deleted_at"] is not None
    assert (await client.get(f"{CLIENT}/{created['id']}", headers=headers)).status_code == 404
    assert (await client.delete(f"{CLIENT}/{created['id']}", headers=headers)).status_code == 404
    listed = await client.get(CLIENT, headers=headers)
    assert listed.json()["data"] == []


async def test_client_users_read_but_cannot_write(client, world):
    created = await create_client_integration(client, client_admin(world), own_body())
    reader = world.headers(Role.CLIENT_USER)
    assert (await client.get(f"{CLIENT}/{created['id']}", headers=reader)).status_code == 200
    assert (await client.get(f"{CLIENT}/{created['id']}/usage", headers=reader)).status_code == 200
    for method, url, body in (
        ("POST", CLIENT, own_body()),
        ("PATCH", f"{CLIENT}/{created['id']}", {"name": "Mine now"}),
        ("DELETE", f"{CLIENT}/{created['id']}", None),
        ("POST", f"{CLIENT}/{created['id']}/test", None),
        ("PATCH", f"{CLIENT}/{created['id']}/default", None),
    ):
        response = await client.request(method, url, json=body, headers=reader)
        assert response.status_code == 403, (method, url)
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("role", [Role.COMPANY_ADMIN, Role.COMPANY_USER])
async def test_company_level_users_have_no_integrations(client, world, role):
    created = await create_client_integration(client, client_admin(world), own_body())
    for url in (CLIENT, f"{CLIENT}/{created['id']}", f"{CLIENT}/available"):
        response = await client.get(url, headers=world.headers(role))
        assert response.status_code == 403, url


async def test_another_agencys_integration_is_missing(client, world):
    created = await create_client_integration(client, client_admin(world), own_body())
    other = client_admin(world, "b")
    for method, path, body in (
        ("GET", "", None),
        ("PATCH", "", {"name": "Taken"}),
        ("DELETE", "", None),
        ("POST", "/test", None),
        ("PATCH", "/default", None),
        ("GET", "/usage", None),
    ):
        response = await client.request(
            method, f"{CLIENT}/{created['id']}{path}", json=body, headers=other
        )
        assert response.status_code == 404, (method, path, response.text)
    listed = await client.get(CLIENT, headers=other)
    assert listed.json()["data"] == []
    still = await client.get(f"{CLIENT}/{created['id']}", headers=client_admin(world))
    assert still.json()["name"] == created["name"]
