"""Invite acceptance: an admin invites, the invitee sets a password once, then logs in."""

import asyncio
from datetime import timedelta

from sqlalchemy import select

from avnz.auth.models import Invite
from avnz.core import clock
from avnz.security.passwords import token_digest
from avnz.tenancy.models import Role, User
from tests.auth.helpers import API, assert_error, db_scalar, login, me

EMAIL = "new.person@a.example.com"
NEW_PASSWORD = "a-brand-new-password"


async def _invite(client, world) -> dict:
    response = await client.post(
        f"{API}/users/invite",
        json={
            "email": EMAIL,
            "name": "New Person",
            "role": "COMPANY_USER",
            "company_id": world.a.company.id,
        },
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _accept(client, token: str, password: str = NEW_PASSWORD):
    return await client.post(
        f"{API}/auth/accept-invite", json={"token": token, "password": password}
    )


async def _status(runtime, user_id: str) -> str:
    return await db_scalar(runtime, select(User.status).where(User.id == user_id))


async def test_accepted_invite_activates_the_user_who_can_then_log_in(client, world, runtime):
    invite = await _invite(client, world)
    assert invite["user"]["status"] == "invited"
    assert_error(await login(client, EMAIL, NEW_PASSWORD), 401, "invalid_credentials")

    accepted = await _accept(client, invite["invite_token"])

    assert accepted.status_code == 200
    assert accepted.json() == {"user_id": invite["user"]["id"], "email": EMAIL, "status": "active"}
    logged_in = await login(client, EMAIL, NEW_PASSWORD)
    assert logged_in.status_code == 200
    me_body = (await me(client, logged_in.json()["access_token"])).json()
    assert me_body["id"] == invite["user"]["id"]
    assert me_body["company_id"] == world.a.company.id


async def test_only_the_digest_of_an_invite_token_is_stored(client, world, runtime):
    invite = await _invite(client, world)
    stored = await db_scalar(runtime, select(Invite.token_hash))
    assert stored == token_digest(invite["invite_token"])


async def test_an_invite_token_works_once(client, world):
    invite = await _invite(client, world)
    assert (await _accept(client, invite["invite_token"])).status_code == 200

    again = await _accept(client, invite["invite_token"], "an-attackers-password")

    assert_error(again, 400, "invalid_invite")
    assert (await login(client, EMAIL, NEW_PASSWORD)).status_code == 200
    assert_error(await login(client, EMAIL, "an-attackers-password"), 401, "invalid_credentials")


async def test_an_expired_invite_is_rejected(client, world, runtime):
    invite = await _invite(client, world)
    eight_days_later = clock.now() + timedelta(days=8)
    clock.set_source(lambda: eight_days_later)
    assert_error(await _accept(client, invite["invite_token"]), 400, "invalid_invite")
    assert await _status(runtime, invite["user"]["id"]) == "invited"


async def test_an_unknown_invite_token_is_rejected(client, world):
    assert_error(await _accept(client, "made-up-token"), 400, "invalid_invite")


async def test_a_short_password_is_a_validation_error_and_keeps_the_invite(client, world, runtime):
    invite = await _invite(client, world)

    short = await _accept(client, invite["invite_token"], "too-short")

    error = assert_error(short, 400, "validation_failed")
    assert error["param"] == "password"
    assert "too-short" not in short.text
    assert await _status(runtime, invite["user"]["id"]) == "invited"
    assert (await _accept(client, invite["invite_token"])).status_code == 200


async def test_concurrent_acceptances_of_one_invite_let_exactly_one_through(client, world):
    invite = await _invite(client, world)
    passwords = [f"password-number-{i}" for i in range(4)]

    results = await asyncio.gather(*(_accept(client, invite["invite_token"], p) for p in passwords))

    assert sorted(r.status_code for r in results) == [200, 400, 400, 400]
    winner = passwords[[r.status_code for r in results].index(200)]
    for password in passwords:
        expected = 200 if password == winner else 401
        assert (await login(client, EMAIL, password)).status_code == expected
