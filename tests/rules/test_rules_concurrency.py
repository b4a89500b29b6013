"""Concurrent changes to one company's rules: the rule-set row serializes them, so default
priorities never collide, one default rule survives and no version number is taken twice.
Runs on SQLite, and on PostgreSQL when AVNZ_TEST_DATABASE_URL is set."""

import asyncio

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.rules import cache
from avnz.rules.models import RoutingRule, RuleVersion
from avnz.tenancy.models import Role
from tests.factories import World
from tests.rules.support import BLOCK, RULES, create_rule

PARALLEL = 10


async def test_parallel_creates_get_distinct_priorities_and_one_default(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    bodies = [
        {"name": f"R{index}", "actions": [BLOCK], "is_default": True} for index in range(PARALLEL)
    ]
    responses = await asyncio.gather(
        *(client.post(RULES, json=body, headers=headers) for body in bodies)
    )
    assert [response.status_code for response in responses] == [201] * PARALLEL
    rows = list(await session.scalars(select(RoutingRule)))
    assert sorted(row.priority for row in rows) == [10 * (n + 1) for n in range(PARALLEL)]
    assert sum(row.is_default for row in rows) == 1
    assert await cache.rule_set_version(session, world.a.company.id) == PARALLEL


async def test_parallel_toggles_each_make_a_version(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    rule = await create_rule(client, headers)
    responses = await asyncio.gather(
        *(client.post(f"{RULES}/{rule['id']}/toggle", headers=headers) for _ in range(PARALLEL))
    )
    assert [response.status_code for response in responses] == [200] * PARALLEL
    numbers = await session.scalars(
        select(RuleVersion.version).where(RuleVersion.rule_id == rule["id"])
    )
    assert sorted(numbers) == list(range(1, PARALLEL + 2))
    row = await session.get(RoutingRule, rule["id"])
    assert row is not None and row.is_active is True  # an even number of flips
