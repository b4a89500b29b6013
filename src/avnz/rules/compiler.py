"""Compile a validated condition tree once into a plain `(context) -> bool` callable.

Groups become closures over a tuple of their children's predicates and stop at the first child
that decides them (AND at a false, OR at a true); leaves are their condition's own compiled
`predicate` (constants pre-processed: sets for `in`, parsed ranges and dates, tier bounds).
`explain`, what the tester shows, runs the same leaf predicates without the short circuit.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from avnz.rules.conditions import Group, Node
from avnz.rules.conditions.base import Predicate
from avnz.rules.context import RuleContext


def _always(context: RuleContext) -> bool:
    return True


def _all(parts: tuple[Predicate, ...]) -> Predicate:
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda context: first(context) and second(context)

    def every(context: RuleContext) -> bool:
        # A loop, not all(<generator>): no generator frame per call on the hot path.
        for part in parts:  # noqa: SIM110
            if not part(context):
                return False
        return True

    return every


def _any(parts: tuple[Predicate, ...]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda context: first(context) or second(context)

    def some(context: RuleContext) -> bool:
        for part in parts:  # noqa: SIM110
            if part(context):
                return True
        return False

    return some


def compile_node(node: Node) -> Predicate:
    """One node (group or leaf) as a predicate."""
    if isinstance(node, Group):
        parts = tuple(compile_node(child) for child in node.children)
        return _all(parts) if node.logic == "AND" else _any(parts)
    return node.predicate


def compile_conditions(nodes: Sequence[Node]) -> Predicate:
    """A rule's conditions (combined with AND; none matches everything) as one predicate."""
    return _all(tuple(compile_node(node) for node in nodes))


@dataclass(frozen=True, slots=True)
class NodeResult:
    """One node's result for a context, with its path as validation errors name it."""

    path: str
    type: str
    result: bool
    field: str | None = None
    operator: str | None = None
    value: Any = None  # the leaf's value as JSON (lists for ranges and sets)
    children: tuple["NodeResult", ...] = ()


def _explain(node: Node, path: str, context: RuleContext) -> NodeResult:
    if isinstance(node, Group):
        children = tuple(
            _explain(child, f"{path}.children.{index}", context)
            for index, child in enumerate(node.children)
        )
        results = [child.result for child in children]
        result = all(results) if node.logic == "AND" else any(results)
        return NodeResult(path, "group", result, operator=node.logic, children=children)
    result = node.predicate(context)
    value = node.model_dump(mode="json")["value"]
    return NodeResult(path, node.type, result, node.field, node.operator, value)


def explain(nodes: Sequence[Node], context: RuleContext) -> tuple[bool, tuple[NodeResult, ...]]:
    """Every node's result (no short circuit), and the rule's: what `/test` shows."""
    results = tuple(
        _explain(node, f"conditions.{index}", context) for index, node in enumerate(nodes)
    )
    return all(result.result for result in results), results
