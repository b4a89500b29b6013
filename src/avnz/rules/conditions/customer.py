"""Customer conditions: type, account age (days), lifetime value, risk level, chargeback rate
and segments. Risk levels compare in order low < medium < high < critical. `in_segment` `in`
matches a customer in any listed segment, `not_in` one in none of them, `all` one in all of them.
"""

from typing import ClassVar

from avnz.rules.conditions import values
from avnz.rules.conditions.base import EQ, LISTS, NUM, Condition, FieldSpec, Predicate
from avnz.rules.context import RuleContext

RISK_LEVELS = ("low", "medium", "high", "critical")  # in increasing order


def _risk(context: RuleContext) -> int | None:
    level = context.customer.risk_level
    return RISK_LEVELS.index(level) if level in RISK_LEVELS else None


def _type(context: RuleContext) -> str | None:
    kind = context.customer.type
    return kind.lower() if kind else None


class CustomerCondition(Condition):
    NAME: ClassVar[str] = "customer"
    LABEL: ClassVar[str] = "Customer"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("type", EQ, values.lower, _type, label="Customer type"),
        FieldSpec(
            "account_age", NUM, values.integer(0), lambda c: c.customer.account_age_days, "int"
        ),
        FieldSpec(
            "lifetime_value", NUM, values.integer(0), lambda c: c.customer.lifetime_value, "int"
        ),
        FieldSpec(
            "risk_level",
            EQ | {"gte", "lte"},
            values.index_of(RISK_LEVELS),
            _risk,
            input="choice",
            choices=RISK_LEVELS,
            domain=frozenset(range(len(RISK_LEVELS))),
        ),
        FieldSpec(
            "chargeback_rate", NUM, values.rate, lambda c: c.customer.chargeback_rate, "rate"
        ),
        FieldSpec("in_segment", LISTS, values.text, many=True),
    )

    def compile(self) -> Predicate:
        if self.field != "in_segment":
            return super().compile()
        wanted = frozenset(self.value)
        if self.operator == "in":
            return lambda c: not wanted.isdisjoint(c.customer.segments)
        if self.operator == "not_in":
            return lambda c: wanted.isdisjoint(c.customer.segments)
        return lambda c: wanted <= c.customer.segments
