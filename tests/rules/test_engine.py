"""The engine: first match in priority order with the default rule last, schedules, A/B arms,
a stored rule that no longer parses, and the compiled cache, including its invalidation across
two app instances sharing one database."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.app import create_app
from avnz.config import Settings
from avnz.rules.cache import RuleCache
from avnz.rules.context import RuleContext
from avnz.rules.engine import RuleSet, compile_rule, decide, evaluation_order
from avnz.rules.models import Arm, RoutingRule
from avnz.rules.schedule import zone_of
from avnz.rules.service import bump_rule_set
from avnz.rules.variants import choose_arm
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.rules.support import GERMANY, RULES, create_rule
from tests.support.payments import pay

FRIDAY_NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TAG = {"type": "add_metadata", "metadata": {"k": "v"}}


def row(name: str, priority: int, **fields: Any) -> RoutingRule:
    values: dict[str, Any] = {
        "conditions": [],
        "actions": [TAG],
        "schedule": None,
        "ab_test": None,
        "is_default": False,
        **fields,
    }
    return RoutingRule(id=f"rule_{name}", name=name, priority=priority, version=1, **values)


def rule_set(*rows: RoutingRule) -> RuleSet:
    compiled = tuple(compile_rule(r) for r in evaluation_order(rows))
    return RuleSet("co_1", 1, "UTC", zone_of("UTC"), compiled)


def context(**fields: Any) -> RuleContext:
    return RuleContext(**{"amount": 1999, "currency": "USD", "moment": FRIDAY_NOON, **fields})


def first(rules: RuleSet, **fields: Any) -> str | None:
    match = decide(rules, context(**fields), transaction_key="pay_1", customer_key=None)
    return match.rule.name if match else None


def test_the_first_matching_rule_by_priority_wins() -> None:
    rules = rule_set(
        row("catch_all", 30),
        row("german", 10, conditions=[GERMANY]),
        row("also_german", 20, conditions=[GERMANY]),
    )
    assert first(rules, country="DE") == "german"
    assert first(rules, country="FR") == "catch_all"


def test_the_default_rule_runs_last_whatever_its_priority() -> None:
    rules = rule_set(row("default", 1, is_default=True), row("german", 50, conditions=[GERMANY]))
    assert [rule.name for rule in rules.rules] == ["german", "default"]
    assert first(rules, country="DE") == "german"
    assert first(rules, country="US") == "default"


def test_no_match_means_default_routing() -> None:
    assert first(rule_set(row("german", 10, conditions=[GERMANY])), country="US") is None


def test_a_rule_out_of_its_schedule_is_skipped() -> None:
    weekend = {"days_of_week": ["sat", "sun"]}
    rules = rule_set(row("weekend", 10, schedule=weekend), row("always", 20))
    assert first(rules) == "always"  # a Friday
    assert first(rules, moment=datetime(2026, 11, 28, 12, tzinfo=UTC)) == "weekend"


def test_the_arm_decides_which_actions_run() -> None:
    variant = {"type": "add_metadata", "metadata": {"k": "variant"}}
    ab = {"share": 0.5, "split_by": "transaction", "actions": [variant]}
    rules = rule_set(row("split", 10, ab_test=ab))
    for key in ("pay_a", "pay_b", "pay_c", "pay_d", "pay_e", "pay_f"):
        match = decide(rules, context(), transaction_key=key, customer_key=None)
        assert match is not None
        assert match.arm is choose_arm("rule_split", key, 0.5)
        assert match.directive.metadata == {
            "k": match.arm.value if match.arm is Arm.VARIANT else "v"
        }


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5, 0.9])
def test_ab_shares_hold_over_many_transactions(share: float) -> None:
    arms = [choose_arm("rule_x", f"pay_{n}", share) for n in range(20_000)]
    observed = arms.count(Arm.VARIANT) / len(arms)
    assert abs(observed - share) < 0.015  # 20,000 draws: several standard deviations


def test_splitting_by_customer_keeps_a_customer_in_one_arm() -> None:
    ab = {"share": 0.5, "split_by": "customer", "actions": [TAG]}
    rules = rule_set(row("split", 10, ab_test=ab))
    for customer in ("cus_1", "cus_2", "cus_3", "cus_4"):
        matches = [
            decide(rules, context(), transaction_key=f"pay_{n}", customer_key=customer)
            for n in range(20)
        ]
        assert {match.arm for match in matches if match} == {
            choose_arm("rule_split", customer, 0.5)
        }


def test_arms_differ_between_rules() -> None:
    """Each rule hashes its own id in: two tests do not split the same transactions alike."""
    keys = [f"pay_{n}" for n in range(2000)]
    one = [choose_arm("rule_a", key, 0.5) for key in keys]
    two = [choose_arm("rule_b", key, 0.5) for key in keys]
    agreement = sum(a is b for a, b in zip(one, two, strict=True)) / len(keys)
    assert 0.45 < agreement < 0.55


async def test_the_cache_recompiles_only_when_the_rule_set_moves(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    company = world.a.company
    await create_rule(client, headers, conditions=[GERMANY])
    cache = RuleCache()
    compiled = await cache.rule_set(session, company.id, company.timezone)
    assert [rule.name for rule in compiled.rules] == ["Rule"]
    assert await cache.rule_set(session, company.id, company.timezone) is compiled
    await create_rule(client, headers, name="Second")
    await session.rollback()
    again = await cache.rule_set(session, company.id, company.timezone)
    assert again is not compiled
    assert [rule.name for rule in again.rules] == ["Rule", "Second"]


async def test_a_stored_rule_that_no_longer_parses_is_skipped(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    broken = await create_rule(client, headers, name="Broken")
    await create_rule(client, headers, name="Fine", actions=[TAG])
    async with runtime.sessions.begin() as writer:
        await writer.execute(
            update(RoutingRule)
            .where(RoutingRule.id == broken["id"])
            .values(actions=[{"type": "teleport"}])
        )
        await bump_rule_set(writer, world.a.company.id)
    async with runtime.sessions() as reader:
        compiled = await RuleCache().rule_set(reader, world.a.company.id, "UTC")
    assert [rule.name for rule in compiled.rules] == ["Fine"]


@pytest.fixture
async def second_instance(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another app on the same database, with its own runtime and so its own rule cache."""
    other = Runtime.build(settings)
    transport = httpx.ASGITransport(app=create_app(runtime=other))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await other.close()


async def test_a_change_through_one_instance_reaches_the_other_at_once(
    client: httpx.AsyncClient,
    second_instance: httpx.AsyncClient,
    world: World,
    account: dict[str, Any],
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    german = {"billing_address": {"country": "DE"}}
    rule = await create_rule(client, headers, name="No DE", conditions=[GERMANY])
    blocked = await pay(second_instance, headers, **german)
    assert blocked.status_code == 402  # the second instance compiled the rule

    toggled = await client.post(f"{RULES}/{rule['id']}/toggle", headers=headers)
    assert toggled.json()["is_active"] is False
    allowed = await pay(second_instance, headers, **german)
    assert allowed.status_code == 201, allowed.text  # its cached compilation was dropped

    await client.post(f"{RULES}/{rule['id']}/toggle", headers=headers)
    assert (await pay(second_instance, headers, **german)).status_code == 402
