"""Cursor pagination through the API: every item once, newest first, bounded page sizes."""

import pytest

from avnz.tenancy.models import Role
from tests.security.helpers import API, assert_error

CREATED = 25
PAGE = 10


async def test_pages_cover_every_item_once_newest_first(client, world):
    headers = world.headers(Role.CLIENT_ADMIN)
    company_id = world.a.company.id
    created = set()
    for number in range(CREATED):
        response = await client.post(
            f"{API}/departments",
            json={"company_id": company_id, "name": f"Department {number:02d}"},
            headers=headers,
        )
        assert response.status_code == 201
        created.add(response.json()["id"])

    seen: list[str] = []
    sizes: list[int] = []
    params: dict[str, object] = {"limit": PAGE, "company_id": company_id}
    while True:
        page = (await client.get(f"{API}/departments", params=params, headers=headers)).json()
        assert page["object"] == "list"
        sizes.append(len(page["data"]))
        seen.extend(item["id"] for item in page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        assert page["next_cursor"] == page["data"][-1]["id"]
        params["starting_after"] = page["next_cursor"]

    expected = created | {world.a.department.id}  # the factory's department is in this company
    assert len(seen) == len(set(seen)), "an item appeared on two pages"
    assert set(seen) == expected
    assert sizes == [PAGE, PAGE, len(expected) - 2 * PAGE]
    assert seen == sorted(seen, reverse=True)


async def test_cursor_past_the_last_item_gives_an_empty_page(client, world):
    page = await client.get(
        f"{API}/departments",
        params={"starting_after": "dep_0"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert page.json() == {"object": "list", "data": [], "has_more": False, "next_cursor": None}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"starting_after": "x" * 65}]
)
async def test_out_of_range_paging_is_a_400(client, world, params):
    response = await client.get(
        f"{API}/departments", params=params, headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert_error(response, 400, "validation_failed", param=next(iter(params)))


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_bounds_are_inclusive(client, world, limit):
    response = await client.get(
        f"{API}/departments", params={"limit": limit}, headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert response.status_code == 200


async def _departments(client, world, count: int) -> list[str]:
    """`count` new departments of brand A1 plus the factory's, newest first."""
    headers = world.headers(Role.CLIENT_ADMIN)
    for number in range(count):
        response = await client.post(
            f"{API}/departments",
            json={"company_id": world.a.company.id, "name": f"Department {number:02d}"},
            headers=headers,
        )
        assert response.status_code == 201
    listed = await client.get(
        f"{API}/departments",
        params={"company_id": world.a.company.id, "limit": 100},
        headers=headers,
    )
    return [item["id"] for item in listed.json()["data"]]


async def test_ending_before_pages_back_to_the_first_item(client, world):
    everything = await _departments(client, world, 6)  # 7 ids, newest first
    headers = world.headers(Role.CLIENT_ADMIN)
    base = {"company_id": world.a.company.id, "limit": 3}
    pages: list[list[str]] = []
    cursor = everything[-1]  # from the oldest item, back towards the newest
    while True:
        page = (
            await client.get(
                f"{API}/departments", params={**base, "ending_before": cursor}, headers=headers
            )
        ).json()
        ids = [item["id"] for item in page["data"]]
        pages.append(ids)
        assert ids == sorted(ids, reverse=True)  # still newest first within the page
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        assert page["next_cursor"] == ids[0]
        cursor = page["next_cursor"]
    assert pages == [everything[3:6], everything[0:3]]


async def test_the_page_before_a_page_is_the_previous_page(client, world):
    everything = await _departments(client, world, 4)  # 5 ids
    headers = world.headers(Role.CLIENT_ADMIN)
    base = {"company_id": world.a.company.id, "limit": 2}
    second = (
        await client.get(
            f"{API}/departments", params={**base, "starting_after": everything[1]}, headers=headers
        )
    ).json()
    assert [item["id"] for item in second["data"]] == everything[2:4]
    back = (
        await client.get(
            f"{API}/departments",
            params={**base, "ending_before": second["data"][0]["id"]},
            headers=headers,
        )
    ).json()
    assert [item["id"] for item in back["data"]] == everything[0:2]
    assert back["has_more"] is False
    newest = await client.get(
        f"{API}/departments", params={**base, "ending_before": everything[0]}, headers=headers
    )
    assert newest.json()["data"] == [] and newest.json()["has_more"] is False


async def test_both_cursors_at_once_is_a_400(client, world):
    response = await client.get(
        f"{API}/departments",
        params={"starting_after": "dep_1", "ending_before": "dep_2"},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert_error(response, 400, "invalid_cursor", param="ending_before")
