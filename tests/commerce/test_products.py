"""`/products` over the API: the catalog's lifecycle, subscription fields that must agree, sku
uniqueness, filters and pagination."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.tenancy.models import Role
from tests.commerce.factories import API, create_product, product_body
from tests.factories import World

URL = f"{API}/products"


def _admin(world: World) -> dict[str, str]:
    return world.headers(Role.ORGANIZATION_ADMIN)


async def test_create_a_subscription_product(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        URL,
        json=product_body(
            None,
            sku="CLUB-M",
            name="Skin club",
            description="Monthly box",
            price=1999,
            currency="eur",
            is_subscription=True,
            interval="monthly",
            trial_days=14,
            metadata={"box": "standard"},
        ),
        headers=world.headers(Role.COMPANY_USER),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("prd_") and body["object"] == "product"
    assert body["company_id"] == world.a.company.id
    assert (body["sku"], body["price"], body["currency"]) == ("CLUB-M", 1999, "EUR")
    assert (body["is_subscription"], body["interval"], body["trial_days"]) == (
        True,
        "monthly",
        14,
    )
    assert body["active"] is True and body["metadata"] == {"box": "standard"}


async def test_defaults_of_a_one_off_product(client: httpx.AsyncClient, world: World) -> None:
    body = await create_product(client, _admin(world), world.a.company.id)
    assert body["is_subscription"] is False and body["interval"] is None
    assert body["trial_days"] == 0 and body["active"] is True and body["description"] is None


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"is_subscription": True}, "interval"),
        ({"interval": "monthly"}, "interval"),
        ({"trial_days": 7}, "trial_days"),
        ({"is_subscription": True, "interval": "weekly"}, "interval"),
        ({"is_subscription": True, "interval": "yearly", "trial_days": -1}, "trial_days"),
        ({"price": -1}, "price"),
        ({"price": 10**13}, "price"),
        ({"price": 19.99}, "price"),
        ({"price": "1999"}, "price"),
        ({"currency": "US"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"sku": ""}, "sku"),
        ({"sku": "has space"}, "sku"),
        ({"sku": "x" * 65}, "sku"),
        ({"name": ""}, "name"),
        ({"metadata": {"x": "y" * 501}}, "metadata.x"),
        ({"total": 5}, "total"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    client: httpx.AsyncClient, world: World, overrides: dict[str, Any], param: str
) -> None:
    response = await client.post(
        URL, json=product_body(world.a.company.id, **overrides), headers=_admin(world)
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_sku_is_unique_per_company_until_deleted(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = _admin(world)
    first = await create_product(client, headers, world.a.company.id, sku="SERUM-30")
    duplicate = await client.post(
        URL, json=product_body(world.a.company.id, sku="SERUM-30"), headers=headers
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] | {"message": None, "request_id": None} == {
        "type": "conflict_error",
        "code": "duplicate",
        "message": None,
        "param": "sku",
        "request_id": None,
    }
    await create_product(client, headers, world.a.other_company.id, sku="SERUM-30")
    assert (await client.delete(f"{URL}/{first['id']}", headers=headers)).status_code == 200
    await create_product(client, headers, world.a.company.id, sku="SERUM-30")


async def test_update_checks_the_merged_subscription_fields(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = _admin(world)
    product = await create_product(client, headers, world.a.company.id)
    url = f"{URL}/{product['id']}"

    half = await client.patch(url, json={"is_subscription": True}, headers=headers)
    assert half.status_code == 400 and half.json()["error"]["param"] == "interval"
    whole = await client.patch(
        url,
        json={"is_subscription": True, "interval": "yearly", "trial_days": 30},
        headers=headers,
    )
    assert whole.status_code == 200, whole.text
    assert (whole.json()["interval"], whole.json()["trial_days"]) == ("yearly", 30)

    back = await client.patch(url, json={"is_subscription": False}, headers=headers)
    assert back.status_code == 400 and back.json()["error"]["param"] == "interval"
    one_off = await client.patch(
        url, json={"is_subscription": False, "interval": None, "trial_days": 0}, headers=headers
    )
    assert one_off.status_code == 200, one_off.text
    assert one_off.json()["interval"] is None


async def test_update_and_delete(client: httpx.AsyncClient, world: World, session: Any) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    product = await create_product(client, headers, None)
    url = f"{URL}/{product['id']}"

    for patch, param in (({"price": None}, "price"), ({"active": None}, "active")):
        refused = await client.patch(url, json=patch, headers=headers)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param
    patched = await client.patch(
        url, json={"price": 2499, "active": False, "category": "serums"}, headers=headers
    )
    assert patched.status_code == 200
    assert (patched.json()["price"], patched.json()["active"]) == (2499, False)
    assert patched.json()["category"] == "serums"
    assert (await client.get(url, headers=headers)).json() == patched.json()

    deleted = await client.delete(url, headers=headers)
    assert deleted.status_code == 200 and deleted.json()["deleted_at"] is not None
    assert (await client.get(url, headers=headers)).status_code == 404
    actions = (
        await session.scalars(
            select(AuditLog.action)
            .where(AuditLog.resource_id == product["id"], AuditLog.resource == "product")
            .order_by(AuditLog.id)
        )
    ).all()
    assert actions == ["CREATE", "UPDATE", "DELETE"]


async def test_filters_and_pagination(client: httpx.AsyncClient, world: World) -> None:
    headers = _admin(world)
    company = world.a.company.id
    serum = await create_product(client, headers, company, sku="SERUM", category="skincare")
    club = await create_product(
        client,
        headers,
        company,
        sku="CLUB",
        name="Skin Club",
        category="boxes",
        is_subscription=True,
        interval="monthly",
    )
    old = await create_product(
        client, headers, company, sku="OLD", name="Toner", category="skincare", active=False
    )
    elsewhere = await create_product(client, headers, world.b.company.id, sku="SERUM")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(URL, params={"limit": 100, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]]

    assert await ids(company_id=company) == [old["id"], club["id"], serum["id"]]
    assert await ids(category="skincare", company_id=company) == [old["id"], serum["id"]]
    assert await ids(active="false") == [old["id"]]
    assert await ids(is_subscription="true") == [club["id"]]
    assert await ids(sku="SERUM") == [elsewhere["id"], serum["id"]]
    assert await ids(search="skin club") == [club["id"]]
    assert await ids(search="ser", company_id=company) == [serum["id"]]

    first = (await client.get(URL, params={"limit": 2}, headers=headers)).json()
    assert first["has_more"] is True and len(first["data"]) == 2
    rest = (
        await client.get(
            URL, params={"limit": 2, "starting_after": first["next_cursor"]}, headers=headers
        )
    ).json()
    assert rest["has_more"] is False
    assert [p["id"] for p in first["data"] + rest["data"]] == [
        elsewhere["id"],
        old["id"],
        club["id"],
        serum["id"],
    ]
    # A company user sees its own brand's catalog only.
    own = await client.get(URL, headers=world.headers(Role.COMPANY_USER))
    assert [p["id"] for p in own.json()["data"]] == [old["id"], club["id"], serum["id"]]
