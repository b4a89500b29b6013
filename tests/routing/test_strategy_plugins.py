"""A strategy is one declaration: one declared here alone, registered for a test and removed
after it, reaches everything that lists or runs strategies: the pools' OpenAPI schema and
validation (its settings model included), the dashboard's choices and help, the rule action
`route_to_pool`, and `plan_route`, which picks with it."""

import random
from collections.abc import Iterator, Sequence
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from pydantic import Field

from avnz.routing import strategies
from avnz.routing.decisions.service import RoutingContext, UnknownStrategy, plan_route
from avnz.routing.strategies.base import (
    Candidate,
    Pick,
    Strategy,
    StrategyConfig,
    StrategyContext,
    settings_of,
)
from avnz.rules import actions
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from avnz.web.pages import pool_view
from tests.factories import World
from tests.routing.factories import create_account

POOLS = "/api/v1/account-pools"


class LastInLineConfig(StrategyConfig):
    skip: int = Field(default=0, ge=0, le=10, description="Accounts to pass over from the end.")


class LastInLine(Strategy):
    """LAST_IN_LINE: the account last in failover order, minus `skip` (a test's strategy)."""

    name: ClassVar[str] = "last_in_line"
    label: ClassVar[str] = "Last in line"
    summary: ClassVar[str] = "The account last in failover order, as a test asks."
    config: ClassVar[type[StrategyConfig]] = LastInLineConfig

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        ordered = sorted(candidates, key=lambda c: c.order)
        skip = settings_of(context.config, LastInLineConfig).skip
        return Pick(ordered[max(0, len(ordered) - 1 - skip)], 1.0)


@pytest.fixture
def last_in_line(app: FastAPI) -> Iterator[Strategy]:
    # The test app lives for the session and keeps the OpenAPI document it made first: forget
    # it on both sides, so that this test and the later ones see the registry as it is.
    app.openapi_schema = None
    strategy = strategies.register(LastInLine())
    try:
        yield strategy
    finally:
        strategies.unregister(LastInLine.name)
        app.openapi_schema = None


@pytest.mark.usefixtures("last_in_line")
async def test_the_pool_api_documents_and_validates_it(
    client: httpx.AsyncClient, world: World
) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for model in ("PoolCreate", "PoolUpdate"):
        assert "last_in_line" in str(schemas[model]["properties"]["strategy"]), model
    listing = next(
        p for p in document["paths"][POOLS]["get"]["parameters"] if p["name"] == "strategy"
    )
    assert "last_in_line" in str(listing["schema"])
    headers = world.headers(Role.COMPANY_ADMIN)
    bad = await client.post(
        POOLS,
        json={"name": "Last", "strategy": "last_in_line", "configuration": {"skip": 11}},
        headers=headers,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "configuration.skip"


@pytest.mark.usefixtures("last_in_line")
def test_the_dashboard_and_the_rules_offer_it() -> None:
    choices = {s.name: s.label for s in pool_view.strategy_choices()}
    assert choices["last_in_line"] == "Last in line"
    assert pool_view.strategy_help()["last_in_line"] == LastInLine.summary
    [route] = actions.parse_actions(
        [{"type": "route_to_pool", "pool_id": "pool_1", "strategy": "last_in_line"}]
    )
    assert route.describe({}) == "Route to pool pool_1 using last_in_line"


async def test_a_pool_with_it_routes_by_it(
    client: httpx.AsyncClient, runtime: Runtime, world: World, last_in_line: Strategy
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    accounts = [await create_account(client, headers, None, name=f"MID {i}") for i in range(3)]
    created = await client.post(
        POOLS,
        json={"name": "Last", "strategy": "last_in_line", "configuration": {"skip": 1}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    pool = created.json()
    for priority, account in enumerate(accounts):
        added = await client.post(
            f"{POOLS}/{pool['id']}/accounts",
            json={"merchant_account_id": account["id"], "priority": priority},
            headers=headers,
        )
        assert added.status_code == 201, added.text
    context = RoutingContext(
        company_id=world.a.company.id, amount=1000, currency="USD", pool_id=pool["id"]
    )
    async with runtime.sessions() as session:
        route = await plan_route(session, context)
    assert route.strategy == "last_in_line"
    # The pick (second from the end, `skip` 1), then the others in failover order.
    assert [p.account.id for p in route.accounts] == [
        accounts[1]["id"],
        accounts[0]["id"],
        accounts[2]["id"],
    ]
    # A pool left with a strategy no longer registered is refused with a reason, not a 500.
    strategies.unregister(last_in_line.name)
    try:
        async with runtime.sessions() as session:
            with pytest.raises(UnknownStrategy, match="last_in_line"):
                await plan_route(session, context)
    finally:
        strategies.register(last_in_line)


async def test_once_removed_it_is_refused(client: httpx.AsyncClient, world: World) -> None:
    strategies.register(LastInLine())
    strategies.unregister(LastInLine.name)
    refused = await client.post(
        POOLS,
        json={"name": "Last", "strategy": "last_in_line"},
        headers=world.headers(Role.COMPANY_ADMIN),
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "strategy"
    assert "last_in_line" not in strategies.STRATEGIES
