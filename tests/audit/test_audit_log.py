"""Every API change leaves one audit row, in the same transaction, with secrets masked."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from avnz.audit.models import AuditLog
from avnz.tenancy.models import Role

API = "/api/v1"


async def _entries(session, **filters):
    stmt = select(AuditLog).filter_by(**filters).order_by(AuditLog.id)
    return list((await session.scalars(stmt)).all())


async def test_create_update_delete_each_write_one_row(client, world, session):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await client.post(
        f"{API}/departments", json={"name": "Billing"}, headers={**headers, "User-Agent": "ua/1"}
    )
    department_id = created.json()["id"]
    await client.patch(
        f"{API}/departments/{department_id}", json={"name": "Billing 2"}, headers=headers
    )
    await client.delete(f"{API}/departments/{department_id}", headers=headers)

    rows = await _entries(session, resource="department", resource_id=department_id)
    assert [r.action for r in rows] == ["CREATE", "UPDATE", "DELETE"]
    create, update, delete = rows
    assert create.previous_value is None and create.new_value["name"] == "Billing"
    assert update.previous_value["name"] == "Billing" and update.new_value["name"] == "Billing 2"
    assert delete.previous_value["name"] == "Billing 2" and delete.new_value is None
    actor = world.a.users[Role.COMPANY_ADMIN]
    assert {r.user_id for r in rows} == {actor.id}
    assert create.user_email == actor.email
    assert create.user_agent == "ua/1"
    assert create.ip_address == "127.0.0.1"
    assert create.request_id == created.headers["x-request-id"]
    assert (create.organization_id, create.client_id, create.company_id) == (
        world.organization.id,
        world.a.client.id,
        world.a.company.id,
    )


async def test_failed_request_writes_no_audit_row(client, world, session):
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    before = await session.scalar(select(func.count()).select_from(AuditLog))
    response = await client.post(
        f"{API}/clients", json={"name": "Dup", "slug": world.a.client.slug}, headers=headers
    )
    assert response.status_code == 409
    after = await session.scalar(select(func.count()).select_from(AuditLog))
    assert after == before


async def test_secrets_are_masked_in_audit_values(client, world, session):
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    response = await client.patch(
        f"{API}/clients/{world.a.client.id}",
        json={
            "metadata": {
                "api_key": "sk_live_abcdefghijklmnop1234",
                "card_number": "4111111111111111",
                "note": "card 4242 4242 4242 4242 on file",
            }
        },
        headers=headers,
    )
    assert response.status_code == 200
    (row,) = await _entries(session, resource="client", action="UPDATE")
    stored = str(row.new_value)
    for secret in ("sk_live_abcdefghijklmnop1234", "4111111111111111", "4242 4242 4242 4242"):
        assert secret not in stored
    assert row.new_value["metadata"]["card_number"] == "411111******1111"
    assert row.new_value["metadata"]["api_key"].endswith("1234")


async def test_user_rows_never_hold_password_hashes(client, world, session):
    invited = await client.post(
        f"{API}/users/invite",
        json={"email": "new@a.example.com", "name": "New", "role": "CLIENT_USER"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    token = invited.json()["invite_token"]
    accepted = await client.post(
        f"{API}/auth/accept-invite", json={"token": token, "password": "a-long-password-1"}
    )
    assert accepted.status_code == 200
    rows = await _entries(session, resource="user", resource_id=invited.json()["user"]["id"])
    assert [r.action for r in rows] == ["CREATE", "UPDATE"]
    for row in rows:
        assert "password_hash" not in (row.new_value or {})
        assert "a-long-password-1" not in str(row.new_value)


async def _audit_page(client, headers, **params):
    response = await client.get(f"{API}/admin/audit-logs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_list_filters_and_scope(client, world):
    org = world.headers(Role.ORGANIZATION_ADMIN)
    await client.post(
        f"{API}/departments", json={"name": "A dept"}, headers=world.headers(Role.COMPANY_ADMIN)
    )
    await client.post(
        f"{API}/departments",
        json={"name": "B dept"},
        headers=world.headers(Role.COMPANY_ADMIN, "b"),
    )
    await client.patch(f"{API}/clients/{world.a.client.id}", json={"name": "A2"}, headers=org)

    everything = await _audit_page(client, org)
    assert len(everything["data"]) == 3
    departments = await _audit_page(client, org, resource="department")
    assert {e["new_value"]["name"] for e in departments["data"]} == {"A dept", "B dept"}
    by_user = await _audit_page(client, org, user_id=world.org_admin.id)
    assert [e["resource"] for e in by_user["data"]] == ["client"]
    updates = await _audit_page(client, org, action="UPDATE")
    assert [e["resource_id"] for e in updates["data"]] == [world.a.client.id]

    agency_b = await _audit_page(client, world.headers(Role.CLIENT_ADMIN, "b"))
    assert [e["new_value"]["name"] for e in agency_b["data"]] == ["B dept"]


async def test_date_range_filter(client, world):
    org = world.headers(Role.ORGANIZATION_ADMIN)
    await client.patch(f"{API}/clients/{world.a.client.id}", json={"name": "A3"}, headers=org)
    now = datetime.now(UTC)
    inside = await _audit_page(
        client,
        org,
        since=(now - timedelta(minutes=5)).isoformat(),
        until=(now + timedelta(minutes=5)).isoformat(),
    )
    future = await _audit_page(client, org, since=(now + timedelta(hours=1)).isoformat())
    assert len(inside["data"]) == 1
    assert future["data"] == []
    naive = await client.get(
        f"{API}/admin/audit-logs", params={"since": "2026-01-01T00:00:00"}, headers=org
    )
    assert naive.status_code == 400 and naive.json()["error"]["param"] == "since"


async def test_pagination_of_audit_entries(client, world):
    org = world.headers(Role.ORGANIZATION_ADMIN)
    for index in range(5):
        await client.patch(
            f"{API}/clients/{world.a.client.id}", json={"name": f"N{index}"}, headers=org
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"starting_after": cursor} if cursor else {})}
        page = await _audit_page(client, org, **params)
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen, reverse=True)  # newest first


async def test_get_one_entry_and_cross_tenant_404(client, world):
    await client.post(
        f"{API}/departments",
        json={"name": "B only"},
        headers=world.headers(Role.COMPANY_ADMIN, "b"),
    )
    org = world.headers(Role.ORGANIZATION_ADMIN)
    entry_id = (await _audit_page(client, org))["data"][0]["id"]
    own = await client.get(
        f"{API}/admin/audit-logs/{entry_id}", headers=world.headers(Role.CLIENT_ADMIN, "b")
    )
    other = await client.get(
        f"{API}/admin/audit-logs/{entry_id}", headers=world.headers(Role.CLIENT_ADMIN, "a")
    )
    assert own.status_code == 200 and own.json()["id"] == entry_id
    assert other.status_code == 404
    # The chain is shown, so an auditor can follow it from the API.
    assert own.json()["seq"] >= 1 and re.fullmatch(r"[0-9a-f]{64}", own.json()["hash"])
    assert re.fullmatch(r"[0-9a-f]{64}", own.json()["prev_hash"])
