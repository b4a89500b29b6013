"""`Idempotency-Key` over HTTP, on `POST /payment-methods` (storing a card creates an object)."""

import asyncio

import pytest
from sqlalchemy import func, select

from avnz.idempotency import IdempotencyKey
from avnz.payments.models import PaymentMethod
from avnz.tenancy.models import Role

API = "/api/v1/payment-methods"
VISA = "4111111111111111"


def body(number=VISA, **card):
    return {"card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvv": "123", **card}}


def keyed(headers, key):
    return {**headers, "Idempotency-Key": key}


async def cards(session):
    await session.rollback()
    return await session.scalar(select(func.count()).select_from(PaymentMethod))


async def test_the_same_key_twice_stores_one_card_and_replays_the_answer(client, world, session):
    headers = keyed(world.headers(Role.COMPANY_ADMIN), "order-1001-card")
    first = await client.post(API, json=body(), headers=headers)
    second = await client.post(API, json=body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await cards(session) == 1


async def test_concurrent_copies_store_one_card_and_get_identical_answers(client, world, session):
    headers = keyed(world.headers(Role.COMPANY_ADMIN), "checkout-7f3a")
    responses = await asyncio.gather(
        *(client.post(API, json=body(), headers=headers) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 49
    assert await cards(session) == 1


async def test_the_same_key_with_another_body_is_422(client, world, session):
    headers = keyed(world.headers(Role.COMPANY_ADMIN), "order-1002")
    assert (await client.post(API, json=body(), headers=headers)).status_code == 201
    other = await client.post(API, json=body("5555555555554444"), headers=headers)
    assert other.status_code == 422
    error = other.json()["error"]
    assert (error["code"], error["param"]) == ("idempotency_key_reused", "Idempotency-Key")
    assert "5555" not in other.text
    assert await cards(session) == 1


async def test_json_layout_is_not_another_body(client, world):
    headers = keyed(world.headers(Role.COMPANY_ADMIN), "order-1003")
    headers["Content-Type"] = "application/json"
    compact = '{"card":{"number":"4111111111111111","exp_month":12,"exp_year":2030}}'
    spaced = '{ "card": { "exp_year": 2030, "exp_month": 12, "number": "4111111111111111" } }'
    first = await client.post(API, content=compact, headers=headers)
    second = await client.post(API, content=spaced, headers=headers)
    assert first.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"


async def test_a_refused_card_is_a_stored_answer_too(client, world, session):
    headers = keyed(world.headers(Role.COMPANY_ADMIN), "order-1004")
    bad = body("4111111111111112")
    first = await client.post(API, json=bad, headers=headers)
    second = await client.post(API, json=bad, headers=headers)
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()
    assert first.json()["error"]["param"] == "card.number"
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await cards(session) == 0


async def test_without_a_key_each_request_stores_a_card(client, world, session):
    headers = world.headers(Role.COMPANY_ADMIN)
    for _ in range(2):
        assert (await client.post(API, json=body(), headers=headers)).status_code == 201
    assert await cards(session) == 2
    assert (await session.scalars(select(IdempotencyKey))).all() == []


async def test_keys_belong_to_the_caller(client, world, session):
    for role in (Role.COMPANY_ADMIN, Role.COMPANY_USER):
        response = await client.post(
            API, json=body(), headers=keyed(world.headers(role), "shared-key")
        )
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert await cards(session) == 2


@pytest.mark.parametrize("key", ["", "k" * 256, "bad\x7fkey"], ids=["empty", "long", "control"])
async def test_a_malformed_key_is_a_400_naming_the_header(client, world, session, key):
    headers = keyed(world.headers(Role.COMPANY_ADMIN), key)
    response = await client.post(API, json=body(), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert await cards(session) == 0
