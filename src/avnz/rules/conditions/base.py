"""Operators shared by the evaluators: compiled (constants pre-processed) and plain."""

from collections.abc import Callable
from typing import Any

from avnz.rules.context import RuleContext

Predicate = Callable[[RuleContext], bool]
Getter = Callable[[RuleContext], Any]
Test = Callable[[Any], bool]


def compile_op(operator: str, value: Any) -> Test:
    """A test of one actual value against the leaf's value, built once."""
    if operator in ("equals", "is"):
        return lambda actual: bool(actual == value)
    if operator == "not_equals":
        return lambda actual: bool(actual != value)
    if operator == "in":
        members = frozenset(value)
        return lambda actual: actual in members
    if operator == "not_in":
        members = frozenset(value)
        return lambda actual: actual not in members
    if operator == "gt":
        return lambda actual: bool(actual > value)
    if operator == "gte":
        return lambda actual: bool(actual >= value)
    if operator == "lt":
        return lambda actual: bool(actual < value)
    if operator == "lte":
        return lambda actual: bool(actual <= value)
    if operator == "between":
        low, high = value
        return lambda actual: bool(low <= actual <= high)
    raise ValueError(f"unknown operator {operator!r}")


def apply_op(operator: str, actual: Any, value: Any) -> bool:
    """The same test as `compile_op`, computed from scratch: the interpreter's version."""
    if operator in ("equals", "is"):
        return bool(actual == value)
    if operator == "not_equals":
        return bool(actual != value)
    if operator == "in":
        return any(actual == item for item in value)
    if operator == "not_in":
        return all(actual != item for item in value)
    if operator == "gt":
        return bool(value < actual)
    if operator == "gte":
        return not actual < value
    if operator == "lt":
        return bool(value > actual)
    if operator == "lte":
        return not actual > value
    if operator == "between":
        return bool(value[0] <= actual and actual <= value[1])
    raise ValueError(f"unknown operator {operator!r}")


def from_getter(getter: Getter, operator: str, value: Any) -> Predicate:
    """A predicate that is false when the context lacks the value, else the operator's test."""
    test = compile_op(operator, value)

    def predicate(context: RuleContext) -> bool:
        actual = getter(context)
        return actual is not None and test(actual)

    return predicate


def plain(actual: Any, operator: str, value: Any) -> bool:
    """The interpreter's evaluation of one leaf: an unknown value never matches."""
    return actual is not None and apply_op(operator, actual, value)
