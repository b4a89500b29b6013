"""Bodies over `max_body_bytes` are refused with 413 whether or not they declare their size."""

import json
from collections.abc import AsyncIterator

from sqlalchemy import func, select

from avnz.tenancy.models import Department, Role
from tests.security.helpers import API, asgi_client, assert_error

MAX_BODY = 2048


def oversized_department(world) -> bytes:
    body = {"company_id": world.a.company.id, "name": "Too big", "description": "x" * 1000}
    body["metadata"] = {f"k{i}": "y" * 100 for i in range(20)}  # pushes it past MAX_BODY
    raw = json.dumps(body).encode()
    assert len(raw) > MAX_BODY
    return raw


async def chunks(raw: bytes, size: int = 256) -> AsyncIterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


async def department_count(session) -> int:
    return await session.scalar(select(func.count()).select_from(Department))


async def test_declared_oversized_body_is_413_and_creates_nothing(make_app, world, session):
    before = await department_count(session)
    headers = {**world.headers(Role.CLIENT_ADMIN), "Content-Type": "application/json"}
    async with asgi_client(make_app(max_body_bytes=MAX_BODY)) as client:
        response = await client.post(
            f"{API}/departments", content=oversized_department(world), headers=headers
        )
    assert_error(response, 413, "payload_too_large")
    assert await department_count(session) == before


async def test_chunked_oversized_body_without_length_is_413(make_app, world, session):
    before = await department_count(session)
    headers = {**world.headers(Role.CLIENT_ADMIN), "Content-Type": "application/json"}
    async with asgi_client(make_app(max_body_bytes=MAX_BODY)) as client:
        request = client.build_request(
            "POST",
            f"{API}/departments",
            content=chunks(oversized_department(world)),
            headers=headers,
        )
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        response = await client.send(request)
    assert_error(response, 413, "payload_too_large")
    assert await department_count(session) == before


async def test_body_under_the_limit_is_accepted(make_app, world):
    body = {"company_id": world.a.company.id, "name": "Small enough"}
    async with asgi_client(make_app(max_body_bytes=MAX_BODY)) as client:
        response = await client.post(
            f"{API}/departments",
            content=chunks(json.dumps(body).encode(), 8),
            headers={**world.headers(Role.CLIENT_ADMIN), "Content-Type": "application/json"},
        )
    assert response.status_code == 201
