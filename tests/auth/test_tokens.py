"""Every way an access token can be wrong gets a 401 on /auth/me that says which way.

Each forged token starts from the claims of a valid one and changes one thing only.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from avnz.auth.tokens import ALGORITHM
from avnz.core import clock
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.auth import forge
from tests.auth.helpers import ME, assert_error, me

Claims = dict[str, Any]


def sign(runtime: Runtime, claims: Claims, *, kid: str | None = None) -> str:
    """Sign claims with the app's own private key, as the app would."""
    active = runtime.keyset.active
    return jwt.encode(claims, active.private_key, ALGORITHM, headers={"kid": kid or active.kid})


def expired(runtime: Runtime, claims: Claims) -> str:
    """A token the app issued an hour ago (15-minute lifetime)."""
    clock.set_source(lambda: datetime.now(UTC) - timedelta(hours=1))
    try:
        return runtime.keyset.issue_access_token(
            issuer=claims["iss"],
            subject=claims["sub"],
            session_id=claims["sid"],
            ttl=timedelta(minutes=15),
            claims={"role": claims["role"], "org": claims["org"]},
        )
    finally:
        clock.reset()


def wrong_audience(runtime: Runtime, claims: Claims) -> str:
    return sign(runtime, {**claims, "aud": "someone-else"})


def wrong_issuer(runtime: Runtime, claims: Claims) -> str:
    return sign(runtime, {**claims, "iss": "https://evil.example.com"})


def alg_none(runtime: Runtime, claims: Claims) -> str:
    return forge.unsigned(claims, kid=runtime.keyset.active.kid)


def unknown_kid(runtime: Runtime, claims: Claims) -> str:
    return sign(runtime, claims, kid="not-a-key-we-have")


def tampered(runtime: Runtime, claims: Claims) -> str:
    """A company user's signed token with its payload promoted to organization admin."""
    promoted = {**claims, "role": Role.ORGANIZATION_ADMIN.value}
    return forge.with_payload(sign(runtime, claims), promoted)


def hs256_confusion(runtime: Runtime, claims: Claims) -> str:
    active = runtime.keyset.active
    return forge.hs256_with_public_key(claims, kid=active.kid, public_key=active.public_key)


def garbage(runtime: Runtime, claims: Claims) -> str:
    return "not.a.jwt"


Forger = Callable[[Runtime, Claims], str]


@pytest.fixture
def valid_claims(world) -> Claims:
    return forge.claims_of(world.a.tokens[Role.COMPANY_USER])


async def test_resigned_claims_are_accepted(client, runtime, valid_claims):
    # The control for the table below: the forging starts from a token the app accepts.
    response = await me(client, sign(runtime, valid_claims))
    assert response.status_code == 200
    assert response.json()["id"] == valid_claims["sub"]


@pytest.mark.parametrize(
    ("forger", "code"),
    [
        (expired, "token_expired"),
        (wrong_audience, "invalid_audience"),
        (wrong_issuer, "invalid_issuer"),
        (alg_none, "invalid_algorithm"),
        (unknown_kid, "unknown_key"),
        (tampered, "invalid_signature"),
        (hs256_confusion, "invalid_algorithm"),
        (garbage, "invalid_token"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
async def test_flawed_token_is_rejected(client, runtime, valid_claims, forger: Forger, code):
    error = assert_error(await me(client, forger(runtime, valid_claims)), 401, code)
    assert error["type"] == "authentication_error"


async def test_missing_authorization_header_is_rejected(client, world):
    response = await client.get(ME)
    assert_error(response, 401, "missing_credentials")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_non_bearer_scheme_is_rejected(client, world):
    token = world.a.tokens[Role.COMPANY_USER]
    response = await client.get(ME, headers={"Authorization": f"Basic {token}"})
    assert_error(response, 401, "missing_credentials")
