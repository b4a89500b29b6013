"""Rule analytics: hits and outcomes counted per UTC day and A/B arm by single upserts that
lose nothing under concurrency (SQLite here, PostgreSQL when AVNZ_TEST_DATABASE_URL is set);
the `/analytics` range rules; the rule-set version raised by concurrent changes without loss."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import select

from avnz.core import clock
from avnz.rules import analytics, cache
from avnz.rules.models import RoutingRule, RuleDailyStats
from avnz.rules.service import bump_rule_set
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.rules.support import RULES, create_rule

MORNING = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
PARALLEL = 20


async def _hit(runtime: Runtime, rule_id: str, arm: str, at: datetime) -> None:
    async with runtime.sessions.begin() as session:
        await analytics.record_payment(
            session, rule_id=rule_id, arm=arm, at=at, hit=True, succeeded=None
        )


async def _outcome(runtime: Runtime, rule_id: str, at: datetime, succeeded: bool) -> None:
    async with runtime.sessions.begin() as session:
        await analytics.record_payment(
            session, rule_id=rule_id, arm="control", at=at, hit=False, succeeded=succeeded
        )


async def _stats(runtime: Runtime, rule_id: str) -> dict[tuple[date, str], tuple[int, int, int]]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(RuleDailyStats).where(RuleDailyStats.rule_id == rule_id)
        )
        return {(r.day, r.arm.value): (r.hits, r.successes, r.failures) for r in rows}


async def test_parallel_hits_and_outcomes_are_all_counted(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    rule = await create_rule(client, world.headers(Role.COMPANY_ADMIN))
    moments = [MORNING + timedelta(seconds=index) for index in range(PARALLEL)]
    await asyncio.gather(*(_hit(runtime, rule["id"], "control", at) for at in moments))
    await asyncio.gather(
        *(_outcome(runtime, rule["id"], MORNING, index % 4 != 0) for index in range(PARALLEL))
    )
    assert await _stats(runtime, rule["id"]) == {(MORNING.date(), "control"): (20, 15, 5)}
    async with runtime.sessions() as session:
        row = await session.get(RoutingRule, rule["id"])
        assert row is not None
        assert (row.hit_count, row.last_hit_at) == (PARALLEL, moments[-1])


async def test_an_earlier_hit_recorded_late_keeps_the_last_hit(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    rule = await create_rule(client, world.headers(Role.COMPANY_ADMIN))
    await _hit(runtime, rule["id"], "variant", MORNING)
    await _hit(runtime, rule["id"], "control", MORNING - timedelta(days=1))
    async with runtime.sessions() as session:
        row = await session.get(RoutingRule, rule["id"])
        assert row is not None and row.last_hit_at == MORNING
    assert await _stats(runtime, rule["id"]) == {
        (MORNING.date(), "variant"): (1, 0, 0),
        (MORNING.date() - timedelta(days=1), "control"): (1, 0, 0),
    }


async def test_parallel_rule_set_bumps_are_all_counted(runtime: Runtime, world: World) -> None:
    company = world.a.company.id

    async def bump() -> int:
        async with runtime.sessions.begin() as session:
            return await bump_rule_set(session, company)

    results = await asyncio.gather(*(bump() for _ in range(PARALLEL)))
    assert sorted(results) == list(range(1, PARALLEL + 1))
    async with runtime.sessions() as session:
        assert await cache.rule_set_version(session, company) == PARALLEL


async def test_analytics_per_day_and_arm(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    rule = await create_rule(
        client, headers, ab_test={"share": 0.5, "actions": [{"type": "block", "reason": "B"}]}
    )
    clock.set_source(lambda: MORNING)
    for arm in ("control", "control", "variant"):
        await _hit(runtime, rule["id"], arm, MORNING)
    await _outcome(runtime, rule["id"], MORNING, True)
    await _outcome(runtime, rule["id"], MORNING, False)
    await _outcome(runtime, rule["id"], MORNING, True)

    response = await client.get(f"{RULES}/{rule['id']}/analytics", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["since"], body["until"]) == ("2026-10-22", "2026-11-20")
    assert len(body["days"]) == 30
    assert body["days"][-1] == {
        "day": "2026-11-20",
        "hits": 3,
        "successes": 2,
        "failures": 1,
        "success_rate": 0.6667,
    }
    assert body["days"][0]["success_rate"] is None
    arms = {arm["arm"]: (arm["hits"], arm["successes"], arm["failures"]) for arm in body["arms"]}
    assert arms == {"control": (2, 2, 1), "variant": (1, 0, 0)}
    assert body["hit_count"] == 3

    narrow = await client.get(
        f"{RULES}/{rule['id']}/analytics",
        params={"since": "2026-11-21", "until": "2026-11-22"},
        headers=headers,
    )
    assert [day["hits"] for day in narrow.json()["days"]] == [0, 0]
    detail = (await client.get(f"{RULES}/{rule['id']}", headers=headers)).json()
    assert detail["analytics"]["days"][-1]["hits"] == 3


async def test_analytics_range_is_checked(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    rule = await create_rule(client, headers)
    url = f"{RULES}/{rule['id']}/analytics"
    for params in [
        {"since": "2026-11-02", "until": "2026-11-01"},
        {"since": "2025-01-01", "until": "2026-01-02"},
    ]:
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "since"
    year = await client.get(
        url, params={"since": "2025-01-01", "until": "2026-01-01"}, headers=headers
    )
    assert len(year.json()["days"]) == 366
    garbage = await client.get(url, params={"since": "yesterday"}, headers=headers)
    assert garbage.status_code == 400
