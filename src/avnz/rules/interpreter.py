"""A plain recursive interpreter of a condition tree: the reference the compiler is tested against.

Not for the payment path: it re-reads the tree and recomputes every constant on each call.
"""

from collections.abc import Sequence

from avnz.rules.conditions import REGISTRY
from avnz.rules.context import RuleContext
from avnz.rules.schema import Group, Node


def interpret_node(node: Node, context: RuleContext) -> bool:
    """One node's result, evaluated from the tree."""
    if isinstance(node, Group):
        results = [interpret_node(child, context) for child in node.children]
        return all(results) if node.logic == "AND" else any(results)
    return REGISTRY[node.type].evaluate(node, context)


def interpret(nodes: Sequence[Node], context: RuleContext) -> bool:
    """A rule's conditions (combined with AND) evaluated from the tree."""
    return all(interpret_node(node, context) for node in nodes)
