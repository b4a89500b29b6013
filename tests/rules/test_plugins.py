"""A condition type and an action declared here alone, registered for one test and removed after
it, reach everything that lists or runs conditions and actions: the rule API's OpenAPI schema
and validation, the builder's lists, the rule text and the engine."""

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI

from avnz.rules import actions, conditions
from avnz.rules.actions.base import Action, ActionInput, Directive, Names, Reason
from avnz.rules.conditions import values
from avnz.rules.conditions.base import EQ, Condition, FieldSpec
from avnz.rules.context import RuleContext
from avnz.rules.engine import RuleSet, compile_rule, decide
from avnz.rules.schedule import zone_of
from avnz.tenancy.models import Role
from avnz.web.pages import rule_view
from tests.factories import World
from tests.rules.factories import context
from tests.rules.support import RULES

PARITIES = ("even", "odd")


def _parity(context: RuleContext) -> str:
    return PARITIES[context.amount % 2]


class ParityCondition(Condition):
    NAME: ClassVar[str] = "parity"
    LABEL: ClassVar[str] = "Parity"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec(
            "amount_parity",
            EQ,
            values.choice(PARITIES, str.lower),
            _parity,
            input="choice",
            choices=PARITIES,
        ),
    )


class Stamp(Action):
    NAME: ClassVar[str] = "stamp"
    LABEL: ClassVar[str] = "Stamp"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (ActionInput("mark", "text", "Mark"),)
    mark: Reason

    def apply(self, directive: Directive, context: RuleContext) -> None:
        directive.metadata["stamp"] = self.mark

    def describe(self, names: Names) -> str:
        return f"Stamp {self.mark}"


EVEN = {"type": "parity", "field": "amount_parity", "operator": "equals", "value": "EVEN"}
STAMP = {"type": "stamp", "mark": "even"}


@pytest.fixture
def plugins(app: FastAPI) -> Iterator[None]:
    # The test app lives for the session and keeps the OpenAPI document it made first: forget
    # it on both sides, so that this test and the later ones see the registries as they are.
    app.openapi_schema = None
    conditions.register(ParityCondition)
    actions.register(Stamp)
    yield
    conditions.unregister(ParityCondition.NAME)
    actions.unregister(Stamp.NAME)
    app.openapi_schema = None


def _rule(**fields: Any) -> SimpleNamespace:
    stored = {"conditions": [EVEN], "actions": [STAMP], "schedule": None, "ab_test": None}
    stored.update(fields)
    return SimpleNamespace(
        id="rule_plugin", name="Plugin", version=1, priority=10, is_default=False, **stored
    )


@pytest.mark.usefixtures("plugins")
def test_a_rule_with_the_new_condition_and_action_matches_and_acts() -> None:
    rule_set = RuleSet("co_1", 1, "UTC", zone_of("UTC"), (compile_rule(_rule()),))
    even = decide(rule_set, context(amount=1000), transaction_key="pay_1", customer_key=None)
    assert even is not None and even.directive.metadata == {"stamp": "even"}
    assert decide(rule_set, context(amount=999), transaction_key="pay_2", customer_key=None) is None


@pytest.mark.usefixtures("plugins")
def test_the_new_declarations_validate() -> None:
    with pytest.raises(conditions.InvalidConditions) as bad_value:
        conditions.parse_conditions({"conditions": [{**EVEN, "value": "three"}]})
    assert [path for path, _ in bad_value.value.errors] == ["conditions.0.value"]
    with pytest.raises(actions.InvalidActions) as bad_mark:
        actions.parse_actions([{"type": "stamp", "mark": "  "}])
    assert [path for path, _ in bad_mark.value.errors] == ["actions.0.mark"]


def test_removed_plugins_no_longer_validate(plugins: None) -> None:
    conditions.unregister(ParityCondition.NAME)
    actions.unregister(Stamp.NAME)
    try:
        with pytest.raises(conditions.InvalidConditions):
            conditions.parse_conditions({"conditions": [EVEN]})
        with pytest.raises(actions.InvalidActions):
            actions.parse_actions([STAMP])
    finally:  # the fixture removes them again
        conditions.register(ParityCondition)
        actions.register(Stamp)


@pytest.mark.usefixtures("plugins")
def test_the_builder_lists_them_and_the_rule_text_describes_them() -> None:
    reference = rule_view.builder_reference([], [])
    assert reference["types"]["parity"] == "Parity"
    assert reference["catalog"]["parity"]["amount_parity"] == {
        "label": "Amount parity",
        "input": "choice",
        "operators": ["equals", "not_equals", "in", "not_in"],
        "options": ["even", "odd"],
        "params": [],
    }
    assert reference["actions"]["stamp"] == [
        {"name": "mark", "input": "text", "label": "Mark", "options": [], "default": None}
    ]
    assert reference["action_labels"]["stamp"] == "Stamp"
    assert rule_view.leaf_words({**EVEN, "value": "even"}) == "Amount parity is even"
    assert rule_view.action_words(STAMP, {}) == "Stamp even"


@pytest.mark.usefixtures("plugins")
async def test_the_rule_api_documents_and_accepts_them(
    client: httpx.AsyncClient, world: World
) -> None:
    schemas = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    assert schemas["ParityCondition"]["properties"]["field"]["const"] == "amount_parity"
    assert schemas["Stamp"]["properties"]["type"]["const"] == "stamp"
    headers = world.headers(Role.COMPANY_ADMIN)
    body = {"name": "Even stamp", "conditions": [EVEN], "actions": [STAMP]}
    created = await client.post(RULES, json=body, headers=headers)
    assert created.status_code == 201, created.text
    refused = await client.post(
        RULES, json={**body, "actions": [{"type": "stamp"}]}, headers=headers
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "actions.0.mark"
