"""`/customers` over the API: create, read, change and delete; validation that names the field;
uniqueness of email and external id; filters and pagination; audit entries."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.commerce.models import Customer
from avnz.tenancy.models import Role
from tests.commerce.factories import API, address, create_customer, customer_body
from tests.factories import World

URL = f"{API}/customers"


def _admin(world: World) -> dict[str, str]:
    return world.headers(Role.ORGANIZATION_ADMIN)


# --- create ----------------------------------------------------------------------------------


async def test_create_normalizes_and_returns_the_customer(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        URL,
        json=customer_body(
            None,
            email="  Ada.Lovelace@EXAMPLE.com ",
            phone="+1 (512) 555-0100",
            billing_address=address(country="us"),
            shipping_address=address(line1="2 Side St", line2="Apt 4"),
            type="vip",
            risk_level="medium",
            segments=["VIP-Gold", "eu", "vip-gold"],
            custom_fields={"favorite_scent": "rose", "skin": {"type": "dry"}},
            external_id="shop-42",
        ),
        headers=world.headers(Role.COMPANY_USER),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("cus_") and body["object"] == "customer"
    assert body["company_id"] == world.a.company.id
    assert body["client_id"] == world.a.client.id
    assert body["organization_id"] == world.organization.id
    assert body["email"] == "ada.lovelace@example.com"
    assert body["billing_address"]["country"] == "US"
    assert body["shipping_address"]["line2"] == "Apt 4"
    assert body["type"] == "vip" and body["risk_level"] == "medium"
    assert body["segments"] == ["vip-gold", "eu"]
    assert body["custom_fields"] == {"favorite_scent": "rose", "skin": {"type": "dry"}}
    assert body["status"] == "active" and body["external_id"] == "shop-42"
    assert (body["lifetime_value"], body["payments_count"], body["chargeback_count"]) == (0, 0, 0)
    assert body["chargeback_rate"] == "0.0000"
    assert body["currency"] is None and body["deleted_at"] is None


async def test_defaults_of_a_minimal_customer(client: httpx.AsyncClient, world: World) -> None:
    body = await create_customer(client, _admin(world), world.a.company.id, name=None)
    assert body["name"] is None
    assert (body["type"], body["risk_level"], body["status"]) == ("new", "low", "active")
    assert body["segments"] == [] and body["custom_fields"] == {}
    assert body["billing_address"] is None and body["shipping_address"] is None


async def test_create_writes_an_audit_entry_in_the_same_transaction(
    client: httpx.AsyncClient, world: World, session: Any
) -> None:
    created = await create_customer(client, _admin(world), world.a.company.id)
    entries = (
        await session.scalars(select(AuditLog).where(AuditLog.resource_id == created["id"]))
    ).all()
    assert [(e.action, e.resource, e.company_id) for e in entries] == [
        ("CREATE", "customer", world.a.company.id)
    ]
    assert entries[0].new_value["email"] == "ada@example.com"


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"billing_address": address(country="XX")}, "billing_address.country"),
        ({"shipping_address": address(country="USA")}, "shipping_address.country"),
        ({"billing_address": {"city": "Austin", "country": "US"}}, "billing_address.line1"),
        ({"billing_address": address(planet="Mars")}, "billing_address.planet"),
        ({"phone": "call me"}, "phone"),
        ({"type": "gold"}, "type"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"status": "deleted"}, "status"),
        ({"segments": ["has space"]}, "segments.0"),
        ({"segments": ["s"] * 51}, "segments"),
        ({"custom_fields": {"blob": "x" * 20_000}}, "custom_fields"),
        ({"custom_fields": {f"k{i}": i for i in range(101)}}, "custom_fields"),
        ({"custom_fields": ["not", "an", "object"]}, "custom_fields"),
        ({"currency": "ZZZ"}, "currency"),
        ({"lifetime_value": 100_000}, "lifetime_value"),
        ({"chargeback_rate": "0"}, "chargeback_rate"),
        ({"name": "\x00"}, "name"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    client: httpx.AsyncClient, world: World, overrides: dict[str, Any], param: str
) -> None:
    response = await client.post(
        URL, json=customer_body(world.a.company.id, **overrides), headers=_admin(world)
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_company_is_required_above_company_level(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(URL, json=customer_body(None), headers=_admin(world))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "company_id"


async def test_email_is_unique_per_company_whatever_its_case(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = _admin(world)
    await create_customer(client, headers, world.a.company.id, email="ada@example.com")
    duplicate = await client.post(
        URL, json=customer_body(world.a.company.id, email="ADA@Example.COM"), headers=headers
    )
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["error"]["code"] == "duplicate"
    assert duplicate.json()["error"]["param"] == "email"
    # Another brand has its own customers.
    await create_customer(client, headers, world.a.other_company.id, email="ada@example.com")


async def test_external_id_is_unique_per_company(client: httpx.AsyncClient, world: World) -> None:
    headers = _admin(world)
    await create_customer(client, headers, world.a.company.id, external_id="x-1")
    duplicate = await client.post(
        URL,
        json=customer_body(world.a.company.id, email="other@example.com", external_id="x-1"),
        headers=headers,
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["param"] == "external_id"


async def test_a_deleted_customer_frees_its_email(client: httpx.AsyncClient, world: World) -> None:
    headers = _admin(world)
    first = await create_customer(client, headers, world.a.company.id)
    deleted = await client.delete(f"{URL}/{first['id']}", headers=headers)
    assert deleted.status_code == 200
    second = await create_customer(client, headers, world.a.company.id)
    assert second["id"] != first["id"]


# --- read, update, delete --------------------------------------------------------------------


async def test_get_update_and_delete(client: httpx.AsyncClient, world: World, session: Any) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_customer(client, headers, None, segments=["eu"])
    url = f"{URL}/{created['id']}"

    fetched = await client.get(url, headers=headers)
    assert fetched.status_code == 200 and fetched.json() == created

    patched = await client.patch(
        url,
        json={
            "email": "Countess@Example.com",
            "segments": ["vip"],
            "status": "blocked",
            "risk_level": "high",
            "shipping_address": address(country="gb", city="London"),
        },
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["email"] == "countess@example.com"
    assert body["segments"] == ["vip"] and body["status"] == "blocked"
    assert body["risk_level"] == "high" and body["shipping_address"]["country"] == "GB"
    assert body["name"] == created["name"]  # absent fields stay

    deleted = await client.delete(url, headers=headers)
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "deleted" and deleted.json()["deleted_at"] is not None
    for method in ("GET", "PATCH", "DELETE"):
        gone = await client.request(
            method, url, json={"name": "x"} if method == "PATCH" else None, headers=headers
        )
        assert gone.status_code == 404, method

    actions = (
        await session.scalars(
            select(AuditLog.action)
            .where(AuditLog.resource_id == created["id"])
            .order_by(AuditLog.id)
        )
    ).all()
    assert actions == ["CREATE", "UPDATE", "DELETE"]
    row = await session.scalar(select(Customer).where(Customer.id == created["id"]))
    assert row is not None and row.deleted_at is not None  # soft: the row stays


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"email": None}, "email"),
        ({"segments": None}, "segments"),
        ({"status": "deleted"}, "status"),
        ({"email": "nope"}, "email"),
        ({"billing_address": address(country="ZZ")}, "billing_address.country"),
        ({"payments_count": 3}, "payments_count"),
    ],
)
async def test_bad_patches_are_400s_naming_the_field(
    client: httpx.AsyncClient, world: World, patch: dict[str, Any], param: str
) -> None:
    created = await create_customer(client, _admin(world), world.a.company.id)
    response = await client.patch(f"{URL}/{created['id']}", json=patch, headers=_admin(world))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_patching_to_a_taken_email_is_a_409(client: httpx.AsyncClient, world: World) -> None:
    headers = _admin(world)
    await create_customer(client, headers, world.a.company.id, email="taken@example.com")
    other = await create_customer(client, headers, world.a.company.id, email="free@example.com")
    response = await client.patch(
        f"{URL}/{other['id']}", json={"email": "TAKEN@example.com"}, headers=headers
    )
    assert response.status_code == 409 and response.json()["error"]["param"] == "email"
    unchanged = await client.get(f"{URL}/{other['id']}", headers=headers)
    assert unchanged.json()["email"] == "free@example.com"


# --- lists -----------------------------------------------------------------------------------


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get(URL, params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def test_filters(client: httpx.AsyncClient, world: World) -> None:
    headers = _admin(world)
    company = world.a.company.id
    ada = await create_customer(
        client, headers, company, email="ada@example.com", segments=["vip", "eu"], type="vip"
    )
    bob = await create_customer(
        client,
        headers,
        company,
        email="bob@example.com",
        name="Bob Builder",
        segments=["vip_x"],
        risk_level="high",
        external_id="ext-bob",
    )
    cat = await create_customer(
        client, headers, company, email="cat@shop.example", name="Cat", status="blocked"
    )
    dan = await create_customer(client, headers, world.a.other_company.id, email="dan@e.com")
    await client.delete(f"{URL}/{dan['id']}", headers=headers)

    assert await _ids(client, headers) == [cat["id"], bob["id"], ada["id"]]
    assert await _ids(client, headers, company_id=company) == [cat["id"], bob["id"], ada["id"]]
    assert await _ids(client, headers, status="blocked") == [cat["id"]]
    assert await _ids(client, headers, status="active") == [bob["id"], ada["id"]]
    assert await _ids(client, headers, status="deleted") == [dan["id"]]
    assert await _ids(client, headers, type="vip") == [ada["id"]]
    assert await _ids(client, headers, type="new") == [cat["id"], bob["id"]]
    assert await _ids(client, headers, risk_level="high") == [bob["id"]]
    # A segment matches whole names only ("vip" is not "vip_x"), in any case.
    assert await _ids(client, headers, segment="VIP") == [ada["id"]]
    assert await _ids(client, headers, segment="vip_x") == [bob["id"]]
    assert await _ids(client, headers, segment="vi") == []
    assert await _ids(client, headers, email="BOB@example.com") == [bob["id"]]
    assert await _ids(client, headers, external_id="ext-bob") == [bob["id"]]
    assert await _ids(client, headers, search="builder") == [bob["id"]]
    assert await _ids(client, headers, search="shop.example") == [cat["id"]]
    assert await _ids(client, headers, search="%") == []


async def test_bad_filters_are_400s(client: httpx.AsyncClient, world: World) -> None:
    for params, param in (
        ({"type": "gold"}, "type"),
        ({"segment": "no spaces"}, "segment"),
        ({"limit": 0}, "limit"),
    ):
        response = await client.get(URL, params=params, headers=_admin(world))
        assert response.status_code == 400, params
        assert response.json()["error"]["param"] == param


async def test_cursor_pagination_walks_every_customer_once(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = _admin(world)
    made = [
        (await create_customer(client, headers, world.a.company.id, email=f"c{i}@example.com"))[
            "id"
        ]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"starting_after": cursor} if cursor else {})}
        page = (await client.get(URL, params=params, headers=headers)).json()
        seen += [item["id"] for item in page["data"]]
        pages += 1
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert pages == 3
    assert seen == list(reversed(made))
