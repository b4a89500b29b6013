"""Email + password login, and the JWKS that lets anyone verify the tokens it returns."""

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from avnz.auth.tokens import AUDIENCE
from avnz.core import clock
from avnz.tenancy.models import Role, User, UserStatus
from tests.auth.forge import claims_of
from tests.auth.helpers import API, assert_error, db_scalar, email_of, login, me, tokens
from tests.factories import add_user


async def test_login_returns_tokens_and_the_access_token_works(client, world):
    body = await tokens(client, email_of(world, Role.COMPANY_USER))
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    response = await me(client, body["access_token"])
    assert response.status_code == 200
    user = world.a.users[Role.COMPANY_USER]
    assert response.json()["id"] == user.id
    assert response.json()["kind"] == "user"
    assert response.json()["role"] == "COMPANY_USER"
    assert response.json()["company_id"] == world.a.company.id


async def test_email_is_matched_case_insensitively(client, world):
    response = await login(client, "  " + email_of(world, Role.CLIENT_ADMIN).upper())
    assert response.status_code == 200


async def test_wrong_password_and_unknown_email_get_the_same_answer(client, world):
    wrong_password = await login(client, email_of(world, Role.CLIENT_ADMIN), "not-the-password")
    unknown_email = await login(client, "nobody@example.com")
    first = assert_error(wrong_password, 401, "invalid_credentials")
    second = assert_error(unknown_email, 401, "invalid_credentials")
    assert first["message"] == second["message"]
    assert first["type"] == "authentication_error"


@pytest.mark.parametrize(
    "status", [UserStatus.INVITED, UserStatus.SUSPENDED, UserStatus.DEACTIVATED]
)
async def test_only_active_users_can_log_in(client, world, runtime, status):
    # The password is right, so the status alone is what refuses the login.
    async with runtime.sessions.begin() as session:
        add_user(
            session,
            organization=world.organization,
            role=Role.CLIENT_USER,
            email="someone@a.example.com",
            client=world.a.client,
            status=status,
        )
    assert_error(await login(client, "someone@a.example.com"), 401, "invalid_credentials")


async def test_suspending_a_user_ends_their_sessions_and_logins(client, world):
    user = world.a.users[Role.COMPANY_USER]
    suspended = await client.patch(
        f"{API}/users/{user.id}",
        json={"status": "suspended"},
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert suspended.status_code == 200
    assert_error(await login(client, user.email), 401, "invalid_credentials")
    assert_error(await me(client, world.a.tokens[Role.COMPANY_USER]), 401, "session_revoked")


async def test_login_records_last_login_at(client, world, runtime):
    user = world.a.users[Role.CLIENT_USER]
    last_login = select(User.last_login_at).where(User.id == user.id)
    assert await db_scalar(runtime, last_login) is None
    before = clock.now()
    await tokens(client, user.email)
    recorded = await db_scalar(runtime, last_login)
    assert before - timedelta(seconds=1) <= recorded <= clock.now()


async def test_a_failed_login_does_not_touch_last_login_at(client, world, runtime):
    user = world.a.users[Role.CLIENT_USER]
    await login(client, user.email, "not-the-password")
    assert await db_scalar(runtime, select(User.last_login_at).where(User.id == user.id)) is None


async def test_jwks_publishes_the_key_that_verifies_issued_tokens(client, world, settings):
    access_token = (await tokens(client, email_of(world, Role.CLIENT_ADMIN)))["access_token"]
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    kid = jwt.get_unverified_header(access_token)["kid"]
    published = {key["kid"]: key for key in response.json()["keys"]}
    assert kid in published
    assert "d" not in published[kid]  # the public half only
    key = jwt.PyJWK(published[kid])
    claims = jwt.decode(
        access_token,
        key=key.key,
        algorithms=[published[kid]["alg"]],
        audience=AUDIENCE,
        issuer=settings.token_issuer,
    )
    assert claims == claims_of(access_token)
    assert claims["sub"] == world.a.users[Role.CLIENT_ADMIN].id
