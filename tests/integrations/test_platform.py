"""Platform integrations: create, read masked, change, share, delete; and the 400s that name the
field without repeating its value."""

import json

import pytest
from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.integrations.models import PlatformIntegration, credentials_aad
from avnz.security.keyring import DecryptionError
from avnz.tenancy.models import Role
from tests.integrations.factories import (
    ANTHROPIC_KEY,
    CLIENT,
    PLATFORM,
    TWILIO,
    UNREACHABLE,
    client_admin,
    create_client_integration,
    create_platform,
    org_admin,
    platform_body,
)
from tests.integrations.providers import DATADOG_KEY

STRIPE_KEY = "sk_test_51Hq8Wd3Lz6Xc1Vb4Nm7Kj2Pf5"


async def test_create_stores_ciphertext_and_answers_masked(client, world, runtime, session):
    created = await create_platform(client, world, "ANTHROPIC", description="Claude")

    assert created["id"].startswith("pint_")
    assert created["category"] == "AI_ML"
    assert created["credentials"] == {"api_key": "••••" + ANTHROPIC_KEY[-4:]}
    assert created["settings"] == {"base_url": UNREACHABLE}
    assert created["created_by"] == world.org_admin.id
    assert created["status"] == "active" and created["environment"] == "sandbox"
    for response in (
        await client.get(f"{PLATFORM}/{created['id']}", headers=org_admin(world)),
        await client.get(PLATFORM, headers=org_admin(world)),
    ):
        assert response.status_code == 200
        assert ANTHROPIC_KEY not in response.text
        assert "••••" + ANTHROPIC_KEY[-4:] in response.text

    row = await session.get(PlatformIntegration, created["id"])
    assert row is not None and row.credentials_ciphertext is not None
    assert ANTHROPIC_KEY not in row.credentials_ciphertext
    plaintext = runtime.keyring.decrypt(row.credentials_ciphertext, aad=credentials_aad(row))
    assert json.loads(plaintext) == {"api_key": ANTHROPIC_KEY}
    # Bound to its row and tenant: the same ciphertext under another id does not open.
    moved = {"id": "pint_other", "organization_id": row.organization_id}
    with pytest.raises(DecryptionError):
        runtime.keyring.decrypt(row.credentials_ciphertext, aad=credentials_aad(moved))

    entries = (
        await session.scalars(select(AuditLog).where(AuditLog.resource_id == created["id"]))
    ).all()
    assert [(e.action, e.resource) for e in entries] == [("CREATE", "platform_integration")]
    stored = json.dumps([e.new_value for e in entries])
    assert ANTHROPIC_KEY not in stored and "credentials_ciphertext" not in stored


@pytest.mark.parametrize(
    ("provider", "credentials", "param", "fragment"),
    [
        ("STRIPE", {"secret_key": "pk_live_notasecretkey000"}, "credentials.secret_key", "format"),
        ("STRIPE", {}, "credentials.secret_key", "is required"),
        ("NMI", {"security_key": "k" * 20, "pin": "1234"}, "credentials.pin", "not a known"),
        ("TWILIO", {**TWILIO, "auth_token": "short"}, "credentials.auth_token", "format"),
        ("AUTHORIZE_NET", {"api_login_id": "x", "transaction_key": "tooShort9"}, None, "16"),
        ("NMI", {"security_key": 12345}, "credentials.security_key", "type string"),
    ],
    ids=["pattern", "required", "unknown-field", "twilio-token", "min-length", "type"],
)
async def test_schema_errors_name_the_field_and_never_its_value(
    client, world, provider, credentials, param, fragment
):
    body = platform_body(provider, credentials=credentials)
    response = await client.post(PLATFORM, json=body, headers=org_admin(world))

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_credentials"
    assert error["param"] == (param or "credentials.transaction_key")
    assert error["message"].startswith(error["param"])
    assert fragment in error["message"]
    for value in credentials.values():
        if isinstance(value, str) and len(value) >= 4:
            assert value not in response.text


async def test_settings_are_checked_against_their_schema(client, world):
    headers = org_admin(world)
    cases = [
        ({"base_url": "ftp://files"}, "settings.base_url"),
        ({"base_url": UNREACHABLE, "colour": "red"}, "settings.colour"),
    ]
    for settings, param in cases:
        response = await client.post(
            PLATFORM, json=platform_body(settings=settings), headers=headers
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == param
        assert response.json()["error"]["code"] == "invalid_settings"
    smtp = await client.post(
        PLATFORM,
        json={
            "provider": "SMTP",
            "name": "Mail",
            "credentials": {"username": "u", "password": "p"},
            "settings": {"host": "mail.example.com", "port": 70000},
        },
        headers=headers,
    )
    assert smtp.json()["error"]["param"] == "settings.port"
    assert "at most 65535" in smtp.json()["error"]["message"]


async def test_a_production_gateway_cannot_point_elsewhere(client, world):
    body = platform_body("NMI", environment="production")
    response = await client.post(PLATFORM, json=body, headers=org_admin(world))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "settings.base_url"
    sandbox = await client.post(PLATFORM, json=platform_body("NMI"), headers=org_admin(world))
    assert sandbox.status_code == 201


async def test_bad_input_is_a_400_never_a_500(client, world):
    headers = org_admin(world)
    for body in (
        {},
        {"provider": "NOPE", "name": "x"},
        {"provider": "NMI", "name": "x", "credentials": "a string"},
        {"provider": "NMI", "name": "x", "credentials": {"security_key": "x" * 20}, "extra": 1},
        {**platform_body(), "client_pricing": {"percent": "-1"}},
    ):
        response = await client.post(PLATFORM, json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()["error"]) == {"type", "code", "message", "param", "request_id"}
    raw_bodies = (
        b'{"provider": "OPENAI_COMPATIBLE", "name": "x", "credentials": {"api_key": "a\\ud800b"}}',
        b'{"provider": "OLLAMA", "name": "x", "settings": {"model": "m\\udfff"}}',
        b'{"provider": "OLLAMA", "name": "x", "credentials": {"api_key": "a\\u0000b"}}',
    )
    for raw in raw_bodies:
        response = await client.post(
            PLATFORM, content=raw, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (raw, response.text)
        assert response.json()["error"]["param"] in ("credentials", "settings")
    missing = await client.get(f"{PLATFORM}/pint_nope", headers=headers)
    assert missing.status_code == 404


async def test_update_merges_credentials_and_replaces_settings(client, world, runtime, session):
    created = await create_platform(
        client,
        world,
        "TWILIO",
        settings={"from_number": "+15005550006", "base_url": UNREACHABLE},
    )
    new_token = "a7b3" * 8
    response = await client.patch(
        f"{PLATFORM}/{created['id']}",
        json={
            "credentials": {"auth_token": new_token},
            "settings": {"from_number": "+15005550001"},
            "name": "Twilio (main)",
        },
        headers=org_admin(world),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Twilio (main)"
    assert body["settings"] == {"from_number": "+15005550001"}
    assert body["credentials"] == {
        "account_sid": "••••" + TWILIO["account_sid"][-4:],
        "auth_token": "••••" + new_token[-4:],
    }
    row = await session.get(PlatformIntegration, created["id"])
    assert json.loads(
        runtime.keyring.decrypt(row.credentials_ciphertext, aad=credentials_aad(row))
    ) == {"account_sid": TWILIO["account_sid"], "auth_token": new_token}

    # A merge that leaves the credentials invalid is refused and changes nothing.
    refused = await client.patch(
        f"{PLATFORM}/{created['id']}",
        json={"credentials": {"account_sid": None}},
        headers=org_admin(world),
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "credentials.account_sid"
    again = await client.get(f"{PLATFORM}/{created['id']}", headers=org_admin(world))
    assert again.json()["credentials"] == body["credentials"]


async def test_a_null_removes_an_optional_credential(client, world):
    created = await create_platform(
        client, world, "DATADOG", credentials={"api_key": DATADOG_KEY, "application_key": "e" * 40}
    )
    assert set(created["credentials"]) == {"api_key", "application_key"}
    response = await client.patch(
        f"{PLATFORM}/{created['id']}",
        json={"credentials": {"application_key": None}},
        headers=org_admin(world),
    )
    assert response.status_code == 200
    assert set(response.json()["credentials"]) == {"api_key"}


async def test_lists_filter_and_paginate(client, world):
    ai = await create_platform(client, world, "ANTHROPIC")
    sms = await create_platform(client, world, "TWILIO")
    monitoring = await create_platform(client, world, "SENTRY")
    headers = org_admin(world)

    page = await client.get(PLATFORM, params={"limit": 2}, headers=headers)
    assert [i["id"] for i in page.json()["data"]] == [monitoring["id"], sms["id"]]
    assert page.json()["has_more"] is True
    rest = await client.get(
        PLATFORM, params={"starting_after": page.json()["next_cursor"]}, headers=headers
    )
    assert [i["id"] for i in rest.json()["data"]] == [ai["id"]]
    for params, expected in (
        ({"category": "SMS"}, [sms["id"]]),
        ({"provider": "SENTRY"}, [monitoring["id"]]),
        ({"status": "inactive"}, []),
    ):
        found = await client.get(PLATFORM, params=params, headers=headers)
        assert [i["id"] for i in found.json()["data"]] == expected


async def test_sharing_needs_a_platform_offer_and_sets_a_price(client, world):
    headers = org_admin(world)
    sentry = await create_platform(client, world, "SENTRY")
    refused = await client.patch(
        f"{PLATFORM}/{sentry['id']}/sharing", json={"is_shared_with_clients": True}, headers=headers
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "not_platform_offered"

    claude = await create_platform(client, world, "ANTHROPIC")
    assert claude["is_shared_with_clients"] is False and claude["client_pricing"] is None
    shared = await client.patch(
        f"{PLATFORM}/{claude['id']}/sharing", json={"is_shared_with_clients": True}, headers=headers
    )
    assert shared.status_code == 200
    assert shared.json()["client_pricing"] == {"percent": "0.5", "flat_minor": 10}
    priced = await client.patch(
        f"{PLATFORM}/{claude['id']}/sharing",
        json={"is_shared_with_clients": True, "client_pricing": {"percent": 1.25, "flat_minor": 5}},
        headers=headers,
    )
    assert priced.json()["client_pricing"] == {"percent": "1.25", "flat_minor": 5}
    bad = await client.patch(
        f"{PLATFORM}/{claude['id']}/sharing",
        json={"is_shared_with_clients": True, "client_pricing": {"percent": "101"}},
        headers=headers,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "client_pricing.percent"


async def test_an_integration_clients_use_can_be_neither_unshared_nor_deleted(client, world):
    headers = org_admin(world)
    platform = await create_platform(client, world, "ANTHROPIC", is_shared_with_clients=True)
    used = await create_client_integration(
        client,
        client_admin(world),
        {
            "provider": "ANTHROPIC",
            "name": "Claude via platform",
            "mode": "platform",
            "platform_integration_id": platform["id"],
        },
    )
    for method, url, body in (
        ("DELETE", f"{PLATFORM}/{platform['id']}", None),
        ("PATCH", f"{PLATFORM}/{platform['id']}/sharing", {"is_shared_with_clients": False}),
    ):
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "integration_in_use"

    removed = await client.delete(f"{CLIENT}/{used['id']}", headers=client_admin(world))
    assert removed.status_code == 200
    deleted = await client.delete(f"{PLATFORM}/{platform['id']}", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json()["deleted_at"] is not None
    assert deleted.json()["credentials"] == {}
    assert (await client.get(f"{PLATFORM}/{platform['id']}", headers=headers)).status_code == 404
    listed = await client.get(PLATFORM, headers=headers)
    assert platform["id"] not in [i["id"] for i in listed.json()["data"]]


@pytest.mark.parametrize("role", [Role.CLIENT_ADMIN, Role.COMPANY_ADMIN, Role.CLIENT_USER])
async def test_only_the_organization_manages_platform_integrations(client, world, role):
    platform = await create_platform(client, world)
    headers = world.headers(role)
    for method, url in (
        ("GET", PLATFORM),
        ("POST", PLATFORM),
        ("GET", f"{PLATFORM}/{platform['id']}"),
        ("PATCH", f"{PLATFORM}/{platform['id']}"),
        ("DELETE", f"{PLATFORM}/{platform['id']}"),
        ("POST", f"{PLATFORM}/{platform['id']}/test"),
    ):
        response = await client.request(
            method, url, json=platform_body() if method != "GET" else None, headers=headers
        )
        assert response.status_code == 403, (method, url, response.text)
