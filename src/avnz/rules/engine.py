"""The rule engine: a company's active rules compiled once into plain callables, first match wins.

`decide` walks the compiled rules in priority order (the default rule, if any, last), skips
rules out of their schedule, stops at the first match, picks the A/B arm and runs that arm's
actions. No database here: `avnz.rules.cache` loads and caches the compiled rule sets.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from avnz.rules.actions import parse_actions, run_actions
from avnz.rules.actions.base import Action, Directive
from avnz.rules.compiler import NodeResult, compile_conditions, explain
from avnz.rules.conditions import Node, parse_conditions
from avnz.rules.conditions.base import Predicate
from avnz.rules.context import RuleContext
from avnz.rules.schedule import Schedule
from avnz.rules.variants import ABTest, Arm, choose_arm


class StoredRule(Protocol):
    """A rule as stored (the `routing_rules` row, or a draft shaped like one)."""

    id: Any
    name: str
    version: int
    priority: int
    is_default: bool
    conditions: Any
    actions: Any
    schedule: Any
    ab_test: Any


Stored = TypeVar("Stored", bound=StoredRule)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    name: str
    version: int
    priority: int
    is_default: bool
    nodes: tuple[Node, ...]
    matches: Predicate
    actions: tuple[Action, ...]
    schedule: Schedule | None = None
    ab_test: ABTest | None = None

    def in_force(self, context: RuleContext, zone: ZoneInfo) -> bool:
        return self.schedule is None or self.schedule.is_on(context.moment, zone)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A company's active rules at one rule-set version, in evaluation order."""

    company_id: str
    version: int
    timezone: str  # as the company stores it
    zone: ZoneInfo  # what it resolves to here (UTC when unknown)
    rules: tuple[CompiledRule, ...]

    def first_match(self, context: RuleContext) -> CompiledRule | None:
        zone = self.zone
        for rule in self.rules:
            if rule.matches(context) and rule.in_force(context, zone):
                return rule
        return None


@dataclass(frozen=True, slots=True)
class Match:
    """The rule that matched a transaction, the arm it ran and what its actions decided."""

    rule: CompiledRule
    arm: Arm
    directive: Directive

    @property
    def actions(self) -> tuple[Action, ...]:
        """The actions of the arm that ran."""
        if self.arm is Arm.VARIANT and self.rule.ab_test is not None:
            return tuple(self.rule.ab_test.actions)
        return self.rule.actions

    def explain(self, context: RuleContext) -> tuple[NodeResult, ...]:
        """Every condition's result for this transaction (computed only when asked)."""
        return explain(self.rule.nodes, context)[1]


def decide(
    rule_set: RuleSet, context: RuleContext, *, transaction_key: str, customer_key: str | None
) -> Match | None:
    """The first rule in force that matches `context`, with its arm's actions run; None when no
    rule matches (the payment then takes the company's default routing)."""
    rule = rule_set.first_match(context)
    if rule is None:
        return None
    arm = Arm.CONTROL
    if rule.ab_test is not None:
        by_customer = rule.ab_test.split_by == "customer" and customer_key is not None
        key = customer_key if by_customer and customer_key else transaction_key
        arm = choose_arm(rule.id, key, rule.ab_test.share)
    match = Match(rule, arm, Directive())
    path = "ab_test.actions" if arm is Arm.VARIANT else "actions"
    return replace(match, directive=run_actions(match.actions, context, rule_id=rule.id, path=path))


def compile_rule(row: StoredRule) -> CompiledRule:
    """A stored rule, parsed and compiled (raises InvalidConditions, InvalidActions or
    ValidationError when its stored JSON does not validate)."""
    nodes = tuple(parse_conditions({"conditions": row.conditions}))
    return CompiledRule(
        id=row.id,
        name=row.name,
        version=row.version,
        priority=row.priority,
        is_default=row.is_default,
        nodes=nodes,
        matches=compile_conditions(nodes),
        actions=tuple(parse_actions(row.actions)),
        schedule=Schedule.model_validate(row.schedule) if row.schedule else None,
        ab_test=ABTest.model_validate(row.ab_test) if row.ab_test else None,
    )


def evaluation_order(rows: Sequence[Stored]) -> list[Stored]:
    """Priority order (lower first, then id), the default rule last whatever its priority."""
    return sorted(rows, key=lambda row: (row.is_default, row.priority, row.id))
