"""Integrations for tests: request bodies, creation through the API, and credentials that pass
each provider's schema."""

from typing import Any

import httpx

from avnz.gateways import registry
from avnz.tenancy.models import Role
from tests.factories import World
from tests.integrations.providers import ANTHROPIC_KEY, OPENAI_KEY, SENTRY_TOKEN, TWILIO

API = "/api/v1"
PLATFORM = f"{API}/admin/integrations/platform"
CLIENT = f"{API}/integrations"
# A loopback port nothing listens on (discard): a connection test fails fast, before sending.
UNREACHABLE = "http://127.0.0.1:9"

NMI_SANDBOX = dict(registry.GATEWAYS["nmi"].sandbox_credentials)


def org_admin(world: World) -> dict[str, str]:
    return world.headers(Role.ORGANIZATION_ADMIN)


def client_admin(world: World, agency: str = "a") -> dict[str, str]:
    return world.headers(Role.CLIENT_ADMIN, agency)


def platform_body(provider: str = "ANTHROPIC", **overrides: Any) -> dict[str, Any]:
    defaults: dict[str, dict[str, Any]] = {
        "ANTHROPIC": {
            "credentials": {"api_key": ANTHROPIC_KEY},
            "settings": {"base_url": UNREACHABLE},
        },
        "TWILIO": {"credentials": TWILIO, "settings": {"base_url": UNREACHABLE}},
        "SENTRY": {"credentials": {"auth_token": SENTRY_TOKEN}, "settings": {}},
        "NMI": {"credentials": NMI_SANDBOX, "settings": {"base_url": UNREACHABLE}},
    }
    body = {
        "provider": provider,
        "name": f"Platform {provider.lower()}",
        **defaults.get(provider, {}),
    }
    return {**body, **overrides}


async def create_platform(
    client: httpx.AsyncClient, world: World, provider: str = "ANTHROPIC", **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        PLATFORM, json=platform_body(provider, **overrides), headers=org_admin(world)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def own_body(provider: str = "OPENAI_COMPATIBLE", **overrides: Any) -> dict[str, Any]:
    defaults: dict[str, dict[str, Any]] = {
        "OPENAI_COMPATIBLE": {
            "credentials": {"api_key": OPENAI_KEY},
            "settings": {"base_url": UNREACHABLE},
        },
        "NMI": {"credentials": NMI_SANDBOX, "settings": {"base_url": UNREACHABLE}},
    }
    body = {"provider": provider, "name": f"Own {provider.lower()}", "mode": "own"}
    return {**body, **defaults.get(provider, {}), **overrides}


async def create_client_integration(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(CLIENT, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
