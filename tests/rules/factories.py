"""Builders for rule tests: contexts with defaults, leaves from dicts, the compiled result checked
against the tester's explanation."""

from datetime import UTC, datetime
from typing import Any

from avnz.rules.compiler import compile_conditions, explain
from avnz.rules.conditions import Node, condition_types, parse_conditions
from avnz.rules.context import RuleContext

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


def context(**overrides: Any) -> RuleContext:
    values: dict[str, Any] = {"amount": 1000, "currency": "USD", "moment": NOON}
    values.update(overrides)
    return RuleContext(**values)


def leaf(kind: str, field: str, operator: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "field": field, "operator": operator, "value": value, **extra}


def group(logic: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"type": "group", "logic": logic, "children": list(children)}


def nodes(*items: dict[str, Any]) -> list[Node]:
    return parse_conditions({"conditions": list(items)})


def matches(item: dict[str, Any], ctx: RuleContext) -> bool:
    """The compiled result, after checking the tester's explanation (no short circuit) agrees."""
    tree = nodes(item)
    compiled = compile_conditions(tree)(ctx)
    assert compiled == explain(tree, ctx)[0]
    return compiled


def fields_of(kind: str) -> list[str]:
    """The field names a condition type declares."""
    return [spec.name for spec in condition_types()[kind].FIELDS]


def operators_of(kind: str, field: str) -> frozenset[str]:
    """The operators a condition field takes."""
    return condition_types()[kind].spec(field).operators
