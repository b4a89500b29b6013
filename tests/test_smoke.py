from avnz.tenancy.models import Role


async def test_org_admin_lists_both_agencies(client, world):
    response = await client.get("/api/v1/clients", headers=world.headers(Role.ORGANIZATION_ADMIN))
    assert response.status_code == 200
    assert {c["id"] for c in response.json()["data"]} == {world.a.client.id, world.b.client.id}
