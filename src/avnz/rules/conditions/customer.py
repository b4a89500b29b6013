"""Customer conditions: type, account age (days), lifetime value, risk level, chargeback rate
and segments. Risk levels compare in order low < medium < high < critical. `in_segment` `in`
matches a customer in any listed segment, `not_in` one in none of them, `all` one in all of them.
"""

from typing import Any

from avnz.rules.conditions.base import Predicate, from_getter, plain
from avnz.rules.context import RuleContext
from avnz.rules.schema import RISK_LEVELS, CustomerCondition


def _risk(context: RuleContext) -> int | None:
    level = context.customer.risk_level
    return RISK_LEVELS.index(level) if level in RISK_LEVELS else None


def compile(leaf: CustomerCondition) -> Predicate:
    """The leaf as a predicate, built once."""
    field, operator, value = leaf.field, leaf.operator, leaf.value
    if field == "in_segment":
        wanted = frozenset(value)
        if operator == "in":
            return lambda c: not wanted.isdisjoint(c.customer.segments)
        if operator == "not_in":
            return lambda c: wanted.isdisjoint(c.customer.segments)
        return lambda c: wanted <= c.customer.segments
    if field == "risk_level":
        return from_getter(_risk, operator, value)
    if field == "type":
        return from_getter(
            lambda c: c.customer.type.lower() if c.customer.type else None, operator, value
        )
    attribute = {
        "account_age": "account_age_days",
        "lifetime_value": "lifetime_value",
        "chargeback_rate": "chargeback_rate",
    }[field]
    return from_getter(lambda c: getattr(c.customer, attribute), operator, value)


def extract(leaf: CustomerCondition, context: RuleContext) -> Any:
    """The value the leaf looks at, computed from scratch."""
    customer = context.customer
    if leaf.field == "type":
        return customer.type.lower() if customer.type is not None else None
    if leaf.field == "account_age":
        return customer.account_age_days
    if leaf.field == "lifetime_value":
        return customer.lifetime_value
    if leaf.field == "chargeback_rate":
        return customer.chargeback_rate
    if leaf.field == "risk_level":
        return _risk(context)
    return customer.segments


def evaluate(leaf: CustomerCondition, context: RuleContext) -> bool:
    """The leaf's result for one context, without compiling."""
    actual = extract(leaf, context)
    if leaf.field == "in_segment":
        hits = [segment in actual for segment in leaf.value]
        if leaf.operator == "in":
            return any(hits)
        if leaf.operator == "not_in":
            return not any(hits)
        return all(hits)
    return plain(actual, leaf.operator, leaf.value)
