"""`/test` really connects: gateway sandboxes, an SMTP server with logins and stand-ins of the
HTTP providers, all over loopback. The answer is {success, message, latency_ms}, it is recorded
on the integration, and it never contains a secret."""

import pytest

from avnz.gateways import registry
from tests.integrations.conftest import SMTP_PASSWORD, SMTP_USER
from tests.integrations.factories import (
    CLIENT,
    PLATFORM,
    UNREACHABLE,
    client_admin,
    create_client_integration,
    create_platform,
    org_admin,
)
from tests.integrations.providers import (
    ANTHROPIC_KEY,
    AWS,
    AWS_REGION,
    DATADOG_KEY,
    KLAVIYO_KEY,
    OPENAI_KEY,
    SENTRY_TOKEN,
    TWILIO,
)
from tests.support.live_server import free_port, live_server

GATEWAY_PROVIDERS = {
    "payflow": "PAYPAL_PAYFLOW",
    "nmi": "NMI",
    "authorize_net": "AUTHORIZE_NET",
    "stripe": "STRIPE",
}


def _other(char: str) -> str:
    if char in "0123456789abcdef":  # stays hex, for keys with a hex pattern
        return "1" if char == "0" else "0"
    return "R" if char == "Q" else "Q"


def _wrong(credentials: dict[str, str]) -> dict[str, str]:
    """The same shape (it passes the schema), other values."""
    return {k: v[:-1] + _other(v[-1]) for k, v in credentials.items() if v}


async def _test(client, url: str, headers) -> dict:
    response = await client.post(f"{url}/test", headers=headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    assert set(body) == {"success", "message", "latency_ms"}
    return body


@pytest.mark.parametrize("gateway", sorted(registry.GATEWAYS))
async def test_a_gateway_is_tested_through_its_connector_against_the_sandbox(
    client, world, gateway
):
    good = dict(registry.GATEWAYS[gateway].sandbox_credentials)
    headers = org_admin(world)
    with live_server(registry.GATEWAYS[gateway].create_sandbox()) as url:
        created = await create_platform(
            client,
            world,
            GATEWAY_PROVIDERS[gateway],
            credentials=good,
            settings={"base_url": url},
        )
        item = f"{PLATFORM}/{created['id']}"
        passed = await _test(client, item, headers)
        await client.patch(item, json={"credentials": _wrong(good)}, headers=headers)
        failed = await _test(client, item, headers)

    name = registry.GATEWAYS[gateway].connector.display_name
    assert passed == {**passed, "success": True, "message": f"{name} accepted the credentials."}
    assert passed["latency_ms"] > 0
    assert failed["success"] is False
    assert "refused the credentials" in failed["message"], failed
    schema = registry.GATEWAYS[gateway].connector.credentials_schema["properties"]
    secret_fields = [name for name in good if schema[name].get("writeOnly")]
    assert secret_fields
    for name in secret_fields:
        assert good[name] not in str(failed) and _wrong(good)[name] not in str(failed)
    recorded = (await client.get(item, headers=headers)).json()
    assert recorded["last_tested_at"] is not None
    assert recorded["last_test_result"]["success"] is False
    assert recorded["last_test_result"]["message"] == failed["message"]


async def test_an_unreachable_gateway_is_a_failed_test_not_an_error(client, world):
    created = await create_platform(client, world, "NMI")  # base_url: nothing listens there
    body = await _test(client, f"{PLATFORM}/{created['id']}", org_admin(world))
    assert body["success"] is False
    assert body["message"].startswith("Could not reach NMI"), body


async def test_a_client_gateway_test_marks_it_verified(client, world):
    headers = client_admin(world)
    good = dict(registry.GATEWAYS["stripe"].sandbox_credentials)
    with live_server(registry.GATEWAYS["stripe"].create_sandbox()) as url:
        created = await create_client_integration(
            client,
            headers,
            {
                "provider": "STRIPE",
                "name": "Stripe A1",
                "company_id": world.a.company.id,
                "credentials": good,
                "settings": {"base_url": url},
            },
        )
        body = await _test(client, f"{CLIENT}/{created['id']}", headers)
    assert body["success"] is True, body
    after = (await client.get(f"{CLIENT}/{created['id']}", headers=headers)).json()
    assert after["is_verified"] is True
    assert after["last_test_result"]["success"] is True


def _smtp_body(port: int, password: str) -> dict:
    return {
        "provider": "SMTP",
        "name": "Brand mail",
        "credentials": {"username": SMTP_USER, "password": password},
        "settings": {"host": "127.0.0.1", "port": port, "starttls": False, "timeout_seconds": 5},
    }


async def test_smtp_is_tested_by_logging_in_to_a_real_server(client, world, smtp_server):
    headers = client_admin(world)
    created = await create_client_integration(
        client, headers, _smtp_body(smtp_server.port, SMTP_PASSWORD)
    )
    passed = await _test(client, f"{CLIENT}/{created['id']}", headers)
    assert passed["success"] is True, passed
    assert passed["message"] == f"Logged in to 127.0.0.1:{smtp_server.port}."

    await client.patch(
        f"{CLIENT}/{created['id']}",
        json={"credentials": {"password": "Wrong-password-1"}},
        headers=headers,
    )
    failed = await _test(client, f"{CLIENT}/{created['id']}", headers)
    assert failed["success"] is False
    assert "refused the username or password (SMTP 535)" in failed["message"]
    assert SMTP_PASSWORD not in str(failed) and "Wrong-password-1" not in str(failed)
    after = (await client.get(f"{CLIENT}/{created['id']}", headers=headers)).json()
    assert after["is_verified"] is False


async def test_smtp_without_a_server_fails_cleanly(client, world):
    port = free_port()
    created = await create_client_integration(
        client, client_admin(world), _smtp_body(port, SMTP_PASSWORD)
    )
    body = await _test(client, f"{CLIENT}/{created['id']}", client_admin(world))
    assert body["success"] is False
    assert body["message"] == f"Could not connect to 127.0.0.1:{port} (ConnectionRefusedError)."


async def test_smtp_starttls_against_a_server_without_it_is_reported(client, world, smtp_server):
    body = _smtp_body(smtp_server.port, SMTP_PASSWORD)
    body["settings"]["starttls"] = True
    created = await create_client_integration(client, client_admin(world), body)
    result = await _test(client, f"{CLIENT}/{created['id']}", client_admin(world))
    assert result["success"] is False
    assert "STARTTLS" in result["message"]


HTTP_CASES = [
    ("ANTHROPIC", {"api_key": ANTHROPIC_KEY}, {}, "/v1/models"),
    ("KLAVIYO", {"private_api_key": KLAVIYO_KEY}, {}, "/api/accounts/"),
    ("TWILIO", TWILIO, {}, f"/2010-04-01/Accounts/{TWILIO['account_sid']}.json"),
    ("DATADOG", {"api_key": DATADOG_KEY}, {}, "/api/v1/validate"),
    ("SENTRY", {"auth_token": SENTRY_TOKEN}, {}, "/api/0/organizations/"),
    ("OPENAI_COMPATIBLE", {"api_key": OPENAI_KEY}, {}, "/models"),
    ("AWS_SES", AWS, {"region": AWS_REGION}, "/v2/email/account"),
    ("AWS_SNS", AWS, {"region": AWS_REGION}, "/"),
    ("AWS_BEDROCK", AWS, {"region": AWS_REGION}, "/foundation-models"),
    ("CLOUDWATCH", AWS, {"region": AWS_REGION}, "/"),
]


@pytest.mark.parametrize(
    ("provider", "credentials", "extra_settings", "path"),
    HTTP_CASES,
    ids=[c[0] for c in HTTP_CASES],
)
async def test_an_http_provider_is_tested_with_one_authenticated_call(
    client, world, providers, provider, credentials, extra_settings, path
):
    fake, url = providers
    headers = org_admin(world)
    created = await create_platform(
        client,
        world,
        provider,
        credentials=credentials,
        settings={**extra_settings, "base_url": url},
    )
    item = f"{PLATFORM}/{created['id']}"
    passed = await _test(client, item, headers)
    assert passed["success"] is True, passed
    assert passed["message"].endswith("accepted the credentials (HTTP 200).")
    assert [seen.path for seen in fake.seen] == [path]

    wrong = _wrong(credentials)
    changed = await client.patch(item, json={"credentials": wrong}, headers=headers)
    assert changed.status_code == 200, changed.text
    failed = await _test(client, item, headers)
    assert failed["success"] is False
    assert "refused the credentials (HTTP 40" in failed["message"], failed
    for secret in (*credentials.values(), *wrong.values()):
        assert secret not in str(failed)


async def test_ollama_needs_no_key_and_a_dead_endpoint_fails(client, world, providers):
    fake, url = providers
    headers = org_admin(world)
    created = await create_platform(
        client, world, "OLLAMA", credentials={}, settings={"base_url": url}
    )
    passed = await _test(client, f"{PLATFORM}/{created['id']}", headers)
    assert passed["success"] is True
    assert "authorization" not in fake.seen[0].headers

    await client.patch(
        f"{PLATFORM}/{created['id']}", json={"settings": {"base_url": UNREACHABLE}}, headers=headers
    )
    failed = await _test(client, f"{PLATFORM}/{created['id']}", headers)
    assert failed["success"] is False
    assert failed["message"] == "Could not reach 127.0.0.1:9 (ConnectError)."


async def test_a_platform_mode_integration_is_tested_with_the_platforms_credentials(
    client, world, providers
):
    fake, url = providers
    platform = await create_platform(
        client,
        world,
        "ANTHROPIC",
        settings={"base_url": url},
        is_shared_with_clients=True,
    )
    used = await create_client_integration(
        client,
        client_admin(world),
        {
            "provider": "ANTHROPIC",
            "name": "Claude (platform)",
            "mode": "platform",
            "platform_integration_id": platform["id"],
        },
    )
    body = await _test(client, f"{CLIENT}/{used['id']}", client_admin(world))
    assert body["success"] is True
    assert fake.seen[-1].headers["x-api-key"] == ANTHROPIC_KEY


async def test_an_identity_provider_is_tested_through_discovery_and_its_jwks(
    client, world, providers
):
    fake, url = providers
    headers = org_admin(world)
    created = await create_platform(
        client,
        world,
        provider="OKTA",
        credentials={},
        settings={"issuer": f"{url}/", "audience": "api://avnz"},
    )
    passed = await _test(client, f"{PLATFORM}/{created['id']}", headers)
    assert passed == {
        **passed,
        "success": True,
        "message": "Found the issuer's discovery document and 1 signing key(s).",
    }
    assert [s.path for s in fake.seen] == ["/.well-known/openid-configuration", "/jwks"]

    fake.issuer_override = "https://someone-else.example.com/"
    failed = await _test(client, f"{PLATFORM}/{created['id']}", headers)
    assert failed["success"] is False
    assert failed["message"] == "The discovery document names another issuer."
