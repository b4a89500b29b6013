"""Company API keys: shown once, stored as a digest, limited to their permissions, revocable."""

import hashlib

from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.auth.models import ApiKey
from avnz.tenancy.models import Role
from tests.auth.helpers import API, assert_error, bearer, db_all, db_scalar, me

KEYS = f"{API}/api-keys"
READ_ONLY = ["customers:read", "transactions:read"]


async def _create(client, world, *, role=Role.CLIENT_ADMIN, **overrides):
    body = {"company_id": world.a.company.id, "name": "Shop backend", "permissions": READ_ONLY}
    return await client.post(KEYS, json={**body, **overrides}, headers=world.headers(role))


async def _created(client, world, **overrides) -> dict:
    response = await _create(client, world, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_the_secret_once(client, world):
    key = await _created(client, world)
    secret = key["secret"]
    assert secret.startswith("sk_test_")
    assert key["mode"] == "test"
    assert key["display_prefix"] == secret[:12]
    assert key["last4"] == secret[-4:]
    assert key["company_id"] == world.a.company.id
    headers = world.headers(Role.CLIENT_ADMIN)
    shown = await client.get(f"{KEYS}/{key['id']}", headers=headers)
    listed = await client.get(KEYS, headers=headers)
    assert shown.status_code == listed.status_code == 200
    assert "secret" not in shown.json()
    assert [k["id"] for k in listed.json()["data"]] == [key["id"]]
    assert secret not in shown.text + listed.text


async def test_live_mode_keys_have_the_live_prefix(client, world):
    key = await _created(client, world, mode="live")
    assert key["secret"].startswith("sk_live_")
    assert key["mode"] == "live"


async def test_only_a_sha256_digest_is_stored(client, world, runtime):
    key = await _created(client, world)
    secret = key["secret"]
    rows = await db_all(runtime, select(ApiKey.__table__).where(ApiKey.id == key["id"]))
    assert len(rows) == 1
    row = rows[0]._mapping
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not [column for column, value in row.items() if secret in str(value)]
    audit_rows = await db_all(runtime, select(AuditLog.__table__))
    assert audit_rows
    assert not [r for r in audit_rows if secret in str(tuple(r))]


async def test_a_key_authenticates_with_its_own_permissions_only(client, world):
    key = await _created(client, world)
    response = await me(client, key["secret"])
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "api_key"
    assert body["id"] == key["id"]
    assert body["permissions"] == READ_ONLY
    assert body["company_id"] == world.a.company.id
    assert body["role"] is None
    # Its creator may manage keys; the key itself was not given settings:read.
    assert_error(await client.get(KEYS, headers=bearer(key["secret"])), 403, "permission_denied")


async def test_a_key_cannot_get_permissions_its_creator_lacks(client, world, runtime):
    # Company admins manage settings but not billing.
    response = await _create(
        client, world, role=Role.COMPANY_ADMIN, permissions=["settings:read", "billing:write"]
    )
    error = assert_error(response, 403, "permission_denied")
    assert error["param"] == "permissions"
    assert await db_scalar(runtime, select(ApiKey.id)) is None


async def test_a_company_admin_cannot_create_keys_for_another_brand(client, world):
    response = await _create(
        client, world, role=Role.COMPANY_ADMIN, company_id=world.a.other_company.id
    )
    assert_error(response, 404, "resource_missing")


async def test_a_revoked_key_stops_working_at_once(client, world):
    key = await _created(client, world)
    assert (await me(client, key["secret"])).status_code == 200  # now in the lookup cache

    revoked = await client.delete(f"{KEYS}/{key['id']}", headers=world.headers(Role.CLIENT_ADMIN))

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert_error(await me(client, key["secret"]), 401, "invalid_api_key")


async def test_use_is_recorded_in_last_used_at(client, world):
    key = await _created(client, world)
    url, headers = f"{KEYS}/{key['id']}", world.headers(Role.CLIENT_ADMIN)
    assert (await client.get(url, headers=headers)).json()["last_used_at"] is None
    assert (await me(client, key["secret"])).status_code == 200
    assert (await client.get(url, headers=headers)).json()["last_used_at"] is not None


async def test_another_agency_cannot_see_or_revoke_a_key(client, world):
    key = await _created(client, world)
    url = f"{KEYS}/{key['id']}"
    for role in (Role.COMPANY_USER, Role.COMPANY_ADMIN):
        headers = world.headers(role, "b")
        assert_error(await client.get(url, headers=headers), 404, "resource_missing")
        assert (await client.get(KEYS, headers=headers)).json()["data"] == []
    outsider = world.headers(Role.COMPANY_ADMIN, "b")
    assert_error(await client.delete(url, headers=outsider), 404, "resource_missing")
    assert (await me(client, key["secret"])).status_code == 200


async def test_a_key_cannot_log_out(client, world):
    key = await _created(client, world)
    response = await client.post(f"{API}/auth/logout", headers=bearer(key["secret"]))
    assert_error(response, 400, "no_session")


async def test_an_unknown_key_is_rejected(client, world):
    assert_error(await me(client, "sk_test_" + "x" * 40), 401, "invalid_api_key")
