"""The auth integration: an organization's active Auth0/Okta/Cognito integration holds the OIDC
settings that sign its users in; changing it takes effect once it commits."""

from collections.abc import Iterator

import pytest

from avnz.core.ids import new_id
from avnz.integrations.models import (
    IntegrationCategory,
    IntegrationProvider,
    IntegrationStatus,
    PlatformIntegration,
)
from avnz.tenancy.models import Organization, Role
from tests.auth.idp import AUDIENCE, IdentityProvider
from tests.integrations.factories import API, PLATFORM, org_admin

SUB = "auth0|integration-user"


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.start()
    yield provider
    provider.stop()


def _identity(issuer: str, provider: str = "AUTH0", **overrides) -> dict:
    return {
        "provider": provider,
        "name": provider.title(),
        "settings": {"issuer": issuer, "audience": AUDIENCE},
        **overrides,
    }


async def _me(client, token: str):
    return await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_the_identity_integration_signs_users_in_until_it_is_switched_off(client, world, idp):
    headers = org_admin(world)
    created = await client.post(PLATFORM, json=_identity(idp.issuer), headers=headers)
    assert created.status_code == 201, created.text
    user = world.a.users[Role.CLIENT_USER]
    linked = await client.patch(f"{API}/users/{user.id}", json={"auth0_id": SUB}, headers=headers)
    assert linked.status_code == 200

    signed_in = await _me(client, idp.token(SUB))
    assert signed_in.status_code == 200 and signed_in.json()["id"] == user.id

    off = await client.patch(
        f"{PLATFORM}/{created.json()['id']}", json={"status": "inactive"}, headers=headers
    )
    assert off.status_code == 200
    refused = await _me(client, idp.token(SUB))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_issuer"

    on = await client.patch(
        f"{PLATFORM}/{created.json()['id']}", json={"status": "active"}, headers=headers
    )
    assert on.status_code == 200
    assert (await _me(client, idp.token(SUB))).status_code == 200
    deleted = await client.delete(f"{PLATFORM}/{created.json()['id']}", headers=headers)
    assert deleted.status_code == 200
    assert (await _me(client, idp.token(SUB))).status_code == 401


async def test_one_active_identity_provider_per_organization(client, world):
    headers = org_admin(world)
    first = await client.post(
        PLATFORM, json=_identity("https://acme.us.auth0.com/"), headers=headers
    )
    assert first.status_code == 201
    second = await client.post(
        PLATFORM, json=_identity("https://acme.okta.com/", "OKTA"), headers=headers
    )
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "identity_provider_exists"
    standby = await client.post(
        PLATFORM,
        json=_identity("https://acme.okta.com/", "OKTA", status="inactive"),
        headers=headers,
    )
    assert standby.status_code == 201
    activate = await client.patch(
        f"{PLATFORM}/{standby.json()['id']}", json={"status": "active"}, headers=headers
    )
    assert activate.status_code == 409


async def test_two_organizations_cannot_share_an_issuer(client, world, runtime):
    issuer = "https://tenant.example-idp.com/"
    async with runtime.sessions.begin() as writer:
        other = Organization(id=new_id("org"), name="Other platform", slug="other-platform")
        writer.add(other)
        await writer.flush()
        writer.add(
            PlatformIntegration(
                id=new_id("pint"),
                organization_id=other.id,
                provider=IntegrationProvider.AUTH0,
                category=IntegrationCategory.AUTHENTICATION,
                name="Auth0",
                settings={"issuer": issuer, "audience": "x"},
                status=IntegrationStatus.ACTIVE,
            )
        )
    response = await client.post(
        PLATFORM, json=_identity(issuer.rstrip("/")), headers=org_admin(world)
    )
    assert response.status_code == 409
    assert response.json()["error"]["param"] == "settings.issuer"
    assert response.json()["error"]["code"] == "issuer_in_use"


async def test_identity_settings_are_validated_like_oidc_settings(client, world):
    response = await client.post(
        PLATFORM,
        json=_identity("https://acme.us.auth0.com/", settings={"audience": AUDIENCE}),
        headers=org_admin(world),
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "settings.issuer"
    assert "is required" in response.json()["error"]["message"]
