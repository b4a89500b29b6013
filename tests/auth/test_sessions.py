"""Rotating refresh tokens, reuse detection and logout: a session ends for all its tokens."""

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from avnz.auth.models import AuthSession, RefreshToken
from avnz.core import clock
from avnz.security.passwords import token_digest
from avnz.tenancy.models import Role
from tests.auth.forge import claims_of
from tests.auth.helpers import API, assert_error, bearer, db_scalar, email_of, me, refresh, tokens


async def _revoked_reason(runtime, access_token: str) -> str | None:
    session_id = claims_of(access_token)["sid"]
    stmt = select(AuthSession.revoked_reason).where(AuthSession.id == session_id)
    reason: str | None = await db_scalar(runtime, stmt)
    return reason


async def test_refresh_rotates_the_refresh_token(client, world):
    first = await tokens(client, email_of(world, Role.CLIENT_ADMIN))
    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["access_token"])["sid"] == claims_of(first["access_token"])["sid"]
    assert (await me(client, second["access_token"])).status_code == 200
    assert (await refresh(client, second["refresh_token"])).status_code == 200


async def test_only_the_digest_of_a_refresh_token_is_stored(client, world, runtime):
    body = await tokens(client, email_of(world, Role.CLIENT_ADMIN))
    stored = select(RefreshToken.token_hash).where(
        RefreshToken.token_hash == token_digest(body["refresh_token"])
    )
    assert await db_scalar(runtime, stored) is not None
    leaked = select(RefreshToken.id).where(RefreshToken.token_hash == body["refresh_token"])
    assert await db_scalar(runtime, leaked) is None


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(client, world, runtime):
    first = await tokens(client, email_of(world, Role.CLIENT_ADMIN))
    second = (await refresh(client, first["refresh_token"])).json()

    reused = await refresh(client, first["refresh_token"])

    assert_error(reused, 401, "refresh_token_reused")
    assert_error(await refresh(client, second["refresh_token"]), 401, "session_revoked")
    assert_error(await me(client, second["access_token"]), 401, "session_revoked")
    assert_error(await me(client, first["access_token"]), 401, "session_revoked")
    assert await _revoked_reason(runtime, first["access_token"]) == "refresh_reuse"


async def test_reuse_ends_only_the_session_it_belongs_to(client, world):
    user_email = email_of(world, Role.CLIENT_ADMIN)
    stolen = await tokens(client, user_email)
    other = await tokens(client, user_email)
    await refresh(client, stolen["refresh_token"])
    await refresh(client, stolen["refresh_token"])
    assert (await me(client, other["access_token"])).status_code == 200
    assert (await refresh(client, other["refresh_token"])).status_code == 200


async def test_logout_rejects_the_sessions_access_and_refresh_tokens(client, world, runtime):
    body = await tokens(client, email_of(world, Role.COMPANY_ADMIN))
    response = await client.post(f"{API}/auth/logout", headers=bearer(body["access_token"]))
    assert response.status_code == 204
    assert_error(await me(client, body["access_token"]), 401, "session_revoked")
    assert_error(await refresh(client, body["refresh_token"]), 401, "session_revoked")
    assert await _revoked_reason(runtime, body["access_token"]) == "logout"
    # Other logins of the same user carry on.
    assert (await me(client, world.a.tokens[Role.COMPANY_ADMIN])).status_code == 200


async def test_expired_refresh_token_is_rejected(client, world):
    body = await tokens(client, email_of(world, Role.CLIENT_USER))
    thirty_one_days_later = clock.now() + timedelta(days=31)
    clock.set_source(lambda: thirty_one_days_later)
    assert_error(await refresh(client, body["refresh_token"]), 401, "invalid_refresh_token")


async def test_unknown_refresh_token_is_rejected(client, world):
    assert_error(await refresh(client, "made-up-token"), 401, "invalid_refresh_token")


async def test_concurrent_refreshes_with_one_token_rotate_it_once(client, world, runtime):
    body = await tokens(client, email_of(world, Role.CLIENT_ADMIN))

    results = await asyncio.gather(*(refresh(client, body["refresh_token"]) for _ in range(4)))

    # One wins the rotation; the first loser looks like a replayed token and ends the session,
    # so later losers (depending on timing) find it already ended.
    assert sorted(r.status_code for r in results) == [200, 401, 401, 401]
    codes = {r.json()["error"]["code"] for r in results if r.status_code == 401}
    assert "refresh_token_reused" in codes
    assert codes <= {"refresh_token_reused", "session_revoked"}
    rotated = await db_scalar(
        runtime,
        select(func.count()).select_from(RefreshToken).where(RefreshToken.used_at.is_not(None)),
    )
    assert rotated == 1
    assert await _revoked_reason(runtime, body["access_token"]) == "refresh_reuse"
