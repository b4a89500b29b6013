"""Create/read/update/delete of the hierarchy through the API, with the rules each obeys."""

from sqlalchemy import select

from avnz.auth.models import ApiKey, AuthSession
from avnz.tenancy.models import Client, Company, Role, User, UserStatus

API = "/api/v1"


async def test_org_admin_creates_client_with_derived_slug(client, world):
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    response = await client.post(
        f"{API}/clients", json={"name": "Bright Growth Co."}, headers=headers
    )
    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "bright-growth-co"
    assert body["status"] == "active"
    assert body["organization_id"] == world.organization.id
    assert body["created_by"] == world.org_admin.id
    assert body["id"].startswith("cli_")


async def test_duplicate_slug_is_a_409_and_creates_nothing(client, world, session):
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    response = await client.post(
        f"{API}/clients", json={"name": "Copy", "slug": world.a.client.slug}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["param"] == "slug"
    names = (await session.scalars(select(Client.name))).all()
    assert "Copy" not in names


async def test_company_slug_is_unique_within_its_client_only(client, world):
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    taken = world.a.company.slug
    same_client = await client.post(
        f"{API}/companies",
        json={"client_id": world.a.client.id, "name": "X", "slug": taken},
        headers=headers,
    )
    other_client = await client.post(
        f"{API}/companies",
        json={"client_id": world.b.client.id, "name": "X", "slug": taken},
        headers=headers,
    )
    assert same_client.status_code == 409
    assert other_client.status_code == 201


async def test_client_admin_creates_company_under_own_client_by_default(client, world):
    response = await client.post(
        f"{API}/companies",
        json={"name": "Fresh Brand", "timezone": "Europe/Paris"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert response.status_code == 201
    assert response.json()["client_id"] == world.a.client.id
    assert response.json()["timezone"] == "Europe/Paris"


async def test_unknown_timezone_is_rejected(client, world):
    response = await client.post(
        f"{API}/companies",
        json={"name": "Brand", "timezone": "Mars/Olympus"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "timezone"


async def test_company_admin_cannot_create_or_delete_companies(client, world):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await client.post(f"{API}/companies", json={"name": "Nope"}, headers=headers)
    deleted = await client.delete(f"{API}/companies/{world.a.company.id}", headers=headers)
    assert created.status_code == 403
    assert deleted.status_code == 403


async def test_company_admin_updates_own_company(client, world):
    response = await client.patch(
        f"{API}/companies/{world.a.company.id}",
        json={"name": "Renamed"},
        headers=world.headers(Role.COMPANY_ADMIN),
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["updated_by"] == world.a.users[Role.COMPANY_ADMIN].id


async def test_soft_deleted_company_disappears_and_its_keys_are_revoked(client, world, session):
    admin = world.headers(Role.CLIENT_ADMIN)
    key = await client.post(
        f"{API}/api-keys",
        json={"company_id": world.a.company.id, "name": "server", "permissions": ["settings:read"]},
        headers=admin,
    )
    assert key.status_code == 201
    deleted = await client.delete(f"{API}/companies/{world.a.company.id}", headers=admin)
    assert deleted.status_code == 200
    assert deleted.json()["deleted_at"] is not None
    assert (
        await client.get(f"{API}/companies/{world.a.company.id}", headers=admin)
    ).status_code == 404
    listed = await client.get(f"{API}/companies", headers=admin)
    assert world.a.company.id not in {c["id"] for c in listed.json()["data"]}
    row = await session.get(Company, world.a.company.id)
    assert row is not None and row.deleted_at is not None
    stored = await session.get(ApiKey, key.json()["id"])
    assert stored is not None and stored.revoked_at is not None
    company_admin = await client.get(f"{API}/auth/me", headers=world.headers(Role.COMPANY_ADMIN))
    assert company_admin.status_code == 401
    user = await session.get(User, world.a.users[Role.COMPANY_ADMIN].id)
    assert user.status is UserStatus.DEACTIVATED


async def test_client_soft_delete_deactivates_users_and_ends_sessions(client, world, session):
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    response = await client.delete(f"{API}/clients/{world.a.client.id}", headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    users = (await session.scalars(select(User).where(User.client_id == world.a.client.id))).all()
    assert users and all(u.status is UserStatus.DEACTIVATED for u in users)
    live = await session.scalars(
        select(AuthSession).where(
            AuthSession.user_id.in_([u.id for u in users]), AuthSession.revoked_at.is_(None)
        )
    )
    assert live.all() == []
    me = await client.get(f"{API}/auth/me", headers=world.headers(Role.CLIENT_ADMIN))
    assert me.status_code == 401


async def test_client_status_changes_need_admin_clients(client, world):
    own = await client.patch(
        f"{API}/clients/{world.a.client.id}",
        json={"status": "suspended"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    rename = await client.patch(
        f"{API}/clients/{world.a.client.id}",
        json={"name": "Agency A Renamed"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    by_org = await client.patch(
        f"{API}/clients/{world.a.client.id}",
        json={"status": "suspended"},
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert own.status_code == 403
    assert rename.status_code == 200
    assert by_org.status_code == 200 and by_org.json()["status"] == "suspended"


async def test_department_crud_within_company(client, world):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await client.post(f"{API}/departments", json={"name": "Support"}, headers=headers)
    assert created.status_code == 201
    department = created.json()
    assert department["company_id"] == world.a.company.id
    duplicate = await client.post(f"{API}/departments", json={"name": "Support"}, headers=headers)
    assert duplicate.status_code == 409
    patched = await client.patch(
        f"{API}/departments/{department['id']}", json={"description": "Tier 1"}, headers=headers
    )
    assert patched.json()["description"] == "Tier 1"
    filtered = await client.get(
        f"{API}/departments", params={"company_id": world.a.company.id}, headers=headers
    )
    assert department["id"] in {d["id"] for d in filtered.json()["data"]}
    deleted = await client.delete(f"{API}/departments/{department['id']}", headers=headers)
    assert deleted.status_code == 204
    gone = await client.get(f"{API}/departments/{department['id']}", headers=headers)
    assert gone.status_code == 404


async def test_deleting_a_department_keeps_its_users(client, world, session):
    headers = world.headers(Role.CLIENT_ADMIN)
    invite = await client.post(
        f"{API}/users/invite",
        json={
            "email": "agent@a.example.com",
            "name": "Agent",
            "role": "COMPANY_USER",
            "company_id": world.a.company.id,
            "department_id": world.a.department.id,
        },
        headers=headers,
    )
    assert invite.status_code == 201
    assert invite.json()["user"]["department_id"] == world.a.department.id
    response = await client.delete(f"{API}/departments/{world.a.department.id}", headers=headers)
    assert response.status_code == 204
    user = await session.get(User, invite.json()["user"]["id"])
    assert user is not None and user.department_id is None


async def test_invite_places_user_by_role(client, world):
    headers = world.headers(Role.CLIENT_ADMIN)
    response = await client.post(
        f"{API}/users/invite",
        json={"email": "New.Person@A.example.com", "name": "New", "role": "CLIENT_USER"},
        headers=headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "new.person@a.example.com"
    assert body["user"]["status"] == "invited"
    assert body["user"]["client_id"] == world.a.client.id
    assert body["user"]["company_id"] is None
    assert len(body["invite_token"]) >= 32
    assert body["invite_token"] in body["accept_url"]


async def test_invite_rejects_duplicate_email_and_foreign_department(client, world):
    headers = world.headers(Role.CLIENT_ADMIN)
    duplicate = await client.post(
        f"{API}/users/invite",
        json={"email": world.a.users[Role.CLIENT_USER].email, "name": "Dup", "role": "CLIENT_USER"},
        headers=headers,
    )
    foreign = await client.post(
        f"{API}/users/invite",
        json={
            "email": "x@a.example.com",
            "name": "X",
            "role": "COMPANY_USER",
            "company_id": world.a.other_company.id,
            "department_id": world.a.department.id,
        },
        headers=headers,
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["param"] == "email"
    assert foreign.status_code == 400
    assert foreign.json()["error"]["param"] == "department_id"


async def test_nobody_grants_a_role_above_their_own(client, world):
    for role, target in [
        (Role.CLIENT_ADMIN, "ORGANIZATION_ADMIN"),
        (Role.COMPANY_ADMIN, "CLIENT_ADMIN"),
        (Role.COMPANY_ADMIN, "CLIENT_USER"),
    ]:
        response = await client.post(
            f"{API}/users/invite",
            json={"email": f"{target.lower()}@x.example.com", "name": "X", "role": target},
            headers=world.headers(role),
        )
        assert response.status_code == 403, (role, target)
        assert response.json()["error"]["param"] == "role"


async def test_user_update_rules(client, world):
    admin = world.headers(Role.CLIENT_ADMIN)
    target = world.a.users[Role.CLIENT_USER]
    promoted = await client.patch(
        f"{API}/users/{target.id}", json={"role": "CLIENT_ADMIN"}, headers=admin
    )
    demoted_level = await client.patch(
        f"{API}/users/{target.id}", json={"role": "COMPANY_USER"}, headers=admin
    )
    self_change = await client.patch(
        f"{API}/users/{world.a.users[Role.CLIENT_ADMIN].id}",
        json={"status": "suspended"},
        headers=admin,
    )
    bad_status = await client.patch(
        f"{API}/users/{target.id}", json={"status": "deactivated"}, headers=admin
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "CLIENT_ADMIN"
    assert demoted_level.status_code == 400
    assert self_change.status_code == 403
    assert bad_status.status_code == 400


async def test_suspending_a_user_ends_their_sessions(client, world):
    target_headers = world.headers(Role.CLIENT_USER)
    assert (await client.get(f"{API}/auth/me", headers=target_headers)).status_code == 200
    response = await client.patch(
        f"{API}/users/{world.a.users[Role.CLIENT_USER].id}",
        json={"status": "suspended"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert response.status_code == 200
    assert (await client.get(f"{API}/auth/me", headers=target_headers)).status_code == 401


async def test_user_soft_delete(client, world, session):
    admin = world.headers(Role.CLIENT_ADMIN)
    target = world.a.users[Role.COMPANY_USER]
    response = await client.delete(f"{API}/users/{target.id}", headers=admin)
    assert response.status_code == 200
    assert response.json()["status"] == "deactivated"
    assert (await client.get(f"{API}/users/{target.id}", headers=admin)).status_code == 404
    row = await session.get(User, target.id)
    assert row is not None and row.deleted_at is not None
    themselves = await client.delete(
        f"{API}/users/{world.a.users[Role.CLIENT_ADMIN].id}", headers=admin
    )
    assert themselves.status_code == 403


async def test_user_list_filters(client, world):
    admin = world.headers(Role.ORGANIZATION_ADMIN)
    by_role = await client.get(f"{API}/users", params={"role": "COMPANY_ADMIN"}, headers=admin)
    assert {u["email"] for u in by_role.json()["data"]} == {
        world.a.users[Role.COMPANY_ADMIN].email,
        world.b.users[Role.COMPANY_ADMIN].email,
    }
    by_email = await client.get(
        f"{API}/users",
        params={"email": world.b.users[Role.CLIENT_USER].email.upper()},
        headers=admin,
    )
    assert [u["id"] for u in by_email.json()["data"]] == [world.b.users[Role.CLIENT_USER].id]
    bad = await client.get(f"{API}/users", params={"role": "KING"}, headers=admin)
    assert bad.status_code == 400


async def test_organization_patch_validates_and_keeps_settings(client, world):
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    path = f"{API}/organizations/{world.organization.id}"
    ok = await client.patch(
        path, json={"billing_email": "billing@platform.example.com"}, headers=headers
    )
    bad = await client.patch(path, json={"billing_email": "not-an-email"}, headers=headers)
    assert ok.status_code == 200
    assert ok.json()["billing_email"] == "billing@platform.example.com"
    assert bad.status_code == 400
    again = await client.get(path, headers=headers)
    assert again.json()["billing_email"] == "billing@platform.example.com"


async def test_oidc_settings_are_refused_on_the_organization_they_moved_to_integrations(
    client, world
):
    # Issuer uniqueness and the rest now live in tests/integrations/test_identity.py.
    response = await client.patch(
        f"{API}/organizations/{world.organization.id}",
        json={"settings": {"oidc": {"issuer": "https://tenant.example-idp.com/", "audience": "a"}}},
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("moved_to_integrations", "settings.oidc")
    assert "/admin/integrations/platform" in error["message"]
