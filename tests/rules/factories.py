"""Builders for rule tests: contexts with defaults, leaves from dicts, both evaluations at once."""

from datetime import UTC, datetime
from typing import Any

from avnz.rules.compiler import compile_conditions
from avnz.rules.context import RuleContext
from avnz.rules.interpreter import interpret
from avnz.rules.schema import Node, parse_conditions

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
    """The compiled result, after checking the interpreter agrees."""
    tree = nodes(item)
    compiled = compile_conditions(tree)(ctx)
    assert compiled == interpret(tree, ctx)
    return compiled
