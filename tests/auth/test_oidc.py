"""Tokens from an external IdP (Auth0-style), verified against its JWKS fetched over HTTP."""

import time

import jwt
import pytest

from avnz.tenancy.models import Role
from tests.auth import forge
from tests.auth.helpers import API, assert_error, me
from tests.auth.idp import AUDIENCE, IdentityProvider, RsaKey

AUTH0_ID = "auth0|123"


PLATFORM = f"{API}/admin/integrations/platform"


async def _identity_integration(client, world) -> dict | None:
    listed = await client.get(
        PLATFORM,
        params={"category": "AUTHENTICATION"},
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert listed.status_code == 200, listed.text
    found = listed.json()["data"]
    return found[0] if found else None


async def _patch_org(client, world, oidc: dict):
    """Trust the IdP: its settings go into the organization's Auth0 integration (created the
    first time, changed after that)."""
    settings = {k: v for k, v in oidc.items() if k != "provider"}
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    existing = await _identity_integration(client, world)
    if existing is None:
        body = {"provider": "AUTH0", "name": "Auth0", "settings": settings}
        return await client.post(PLATFORM, json=body, headers=headers)
    return await client.patch(
        f"{PLATFORM}/{existing['id']}", json={"settings": settings}, headers=headers
    )


async def _org_settings(client, world) -> dict:
    integration = await _identity_integration(client, world)
    assert integration is not None
    settings: dict = integration["settings"]
    return settings


async def _trust_and_link(client, world, oidc: dict):
    """Configure the organization's IdP and link a company user to AUTH0_ID; returns the user."""
    configured = await _patch_org(client, world, oidc)
    assert configured.status_code in (200, 201), configured.text
    user = world.a.users[Role.COMPANY_USER]
    linked = await client.patch(
        f"{API}/users/{user.id}",
        json={"auth0_id": AUTH0_ID},
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert linked.status_code == 200, linked.text
    return user


@pytest.fixture
async def linked_user(client, world, idp: IdentityProvider):
    """The organization trusts the IdP and a company user is linked to AUTH0_ID."""
    return await _trust_and_link(client, world, idp.oidc_settings())


async def test_a_valid_idp_token_signs_in_the_linked_user(client, idp, linked_user):
    response = await me(client, idp.token(AUTH0_ID))
    assert response.status_code == 200
    assert response.json()["id"] == linked_user.id
    assert response.json()["kind"] == "user"
    assert response.json()["role"] == "COMPANY_USER"
    assert idp.hits == 1


def wrong_audience(idp: IdentityProvider) -> str:
    return idp.token(AUTH0_ID, aud="https://other.api")


def wrong_issuer(idp: IdentityProvider) -> str:
    return idp.token(AUTH0_ID, iss="https://evil.example.com/")


def expired(idp: IdentityProvider) -> str:
    an_hour_ago = int(time.time()) - 3600
    return idp.token(AUTH0_ID, iat=an_hour_ago, exp=an_hour_ago + 600)


def alg_none(idp: IdentityProvider) -> str:
    return forge.unsigned(idp.claims(AUTH0_ID), kid=idp.signing_key.kid)


def hs256_confusion(idp: IdentityProvider) -> str:
    key = idp.signing_key
    return forge.hs256_with_public_key(
        idp.claims(AUTH0_ID), kid=key.kid, public_key=key.private_key.public_key()
    )


def unknown_kid(idp: IdentityProvider) -> str:
    return idp.token(AUTH0_ID, key=RsaKey.generate("never-published"))


def forged_signature(idp: IdentityProvider) -> str:
    """Someone else's key claiming the IdP's key id."""
    return idp.token(AUTH0_ID, key=RsaKey.generate(idp.signing_key.kid))


def unlinked_sub(idp: IdentityProvider) -> str:
    return idp.token("auth0|nobody")


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (wrong_audience, "invalid_audience"),
        (wrong_issuer, "invalid_issuer"),
        (expired, "token_expired"),
        (alg_none, "invalid_algorithm"),
        (hs256_confusion, "invalid_algorithm"),
        (unknown_kid, "unknown_key"),
        (forged_signature, "invalid_signature"),
        (unlinked_sub, "unknown_user"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
async def test_a_flawed_idp_token_is_rejected(client, idp, linked_user, make_token, code):
    assert_error(await me(client, make_token(idp)), 401, code)


async def test_a_token_from_an_untrusted_idp_is_rejected(client, world, idp):
    # Nothing is configured: the issuer is unknown even though the IdP itself is genuine.
    assert_error(await me(client, idp.token(AUTH0_ID)), 401, "invalid_issuer")
    assert idp.hits == 0


async def test_a_rotated_key_is_fetched_once_the_refetch_interval_allows(
    client, idp, linked_user, runtime, monkeypatch
):
    assert (await me(client, idp.token(AUTH0_ID))).status_code == 200
    new_key = idp.rotate()
    token = idp.token(AUTH0_ID, key=new_key)

    # Within the refetch interval an unknown kid does not reach the IdP (no amplification).
    assert_error(await me(client, token), 401, "unknown_key")
    assert idp.hits == 1

    monkeypatch.setattr(runtime.jwks, "refetch_interval", 0)
    response = await me(client, token)

    assert response.status_code == 200
    assert response.json()["id"] == linked_user.id
    assert idp.hits == 2
    assert jwt.get_unverified_header(token)["kid"] == new_key.kid


BAD_SETTINGS = [
    ({"algorithms": ["HS256"]}, "settings.algorithms.0"),
    ({"issuer": "not a url"}, "settings.issuer"),
    ({"audience": ""}, "settings.audience"),
]


@pytest.mark.parametrize(("change", "param"), BAD_SETTINGS, ids=[p for _, p in BAD_SETTINGS])
async def test_bad_oidc_settings_are_refused_and_change_nothing(
    client, world, idp, linked_user, change, param
):
    before = await _org_settings(client, world)

    response = await _patch_org(client, world, idp.oidc_settings(**change))

    error = assert_error(response, 400, "invalid_settings")
    assert error["param"] == param
    assert await _org_settings(client, world) == before
    assert (await me(client, idp.token(AUTH0_ID))).status_code == 200


async def test_an_issuer_is_matched_with_or_without_its_trailing_slash(client, world, idp):
    # Okta's org server and Google send `iss` without a "/"; the URL type adds one to a bare host.
    bare_issuer = idp.issuer.rstrip("/")
    await _trust_and_link(client, world, idp.oidc_settings(issuer=bare_issuer))
    for iss in (bare_issuer, bare_issuer + "/"):
        response = await me(client, idp.token(AUTH0_ID, iss=iss))
        assert response.status_code == 200, iss


async def test_an_audience_list_that_names_this_api_is_accepted(client, idp, linked_user):
    # Auth0 adds its /userinfo audience when the openid scope was requested.
    token = idp.token(AUTH0_ID, aud=[AUDIENCE, idp.issuer + "userinfo"])
    assert (await me(client, token)).status_code == 200


async def test_an_unreachable_idp_is_a_401_not_a_crash(client, idp, linked_user):
    idp.stop()
    assert_error(await me(client, idp.token(AUTH0_ID)), 401, "jwks_unavailable")
