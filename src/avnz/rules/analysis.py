"""What can be proved about condition trees without running them: what rule lint builds on.

Both questions are answered soundly, not completely: `never_matches` names a reason only when
no transaction can satisfy the conditions, and `covers` says True only when every transaction
one tree matches is matched by the other. Anything the analysis does not model (segments,
cross-field facts such as "a Saturday is a weekend") makes it answer "don't know": None, False.

The method: the AND of the nodes is expanded into its alternatives (one per choice of a child
in each OR group, up to `MAX_BRANCHES`); in each alternative the leaves that read the same value
(the same field; for amounts the same currency, for BIN ranges the same width) are merged into
one `Constraint` on that value, which is empty exactly when no value satisfies them all. Every
leaf needs its value to be known, so a constraint also says "the value is present".
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from avnz.rules.conditions import Group, Node
from avnz.rules.conditions.base import Condition as Leaf

MAX_BRANCHES = 256  # alternatives expanded before the analysis gives up (answers "don't know")
MAX_ENUMERATED = 1000  # integer ranges at most this wide are checked value by value

_BOOLEANS = frozenset({True, False})

Key = tuple[Any, ...]


class TooComplex(Exception):
    """More alternatives than the analysis expands."""


@dataclass(frozen=True, slots=True)
class Bound:
    value: Any
    inclusive: bool


@dataclass(frozen=True, slots=True)
class Constraint:
    """The values one field may take: within `members` (None: any), between the bounds, not in
    `excluded`; and present (a leaf never matches a missing value)."""

    members: frozenset[Any] | None = None
    low: Bound | None = None
    high: Bound | None = None
    excluded: frozenset[Any] = frozenset()
    integral: bool = False

    def meet(self, other: "Constraint") -> "Constraint":
        """The values both constraints allow."""
        if self.members is None:
            members = other.members
        else:
            members = self.members if other.members is None else self.members & other.members
        return Constraint(
            members,
            _tighter(self.low, other.low, lower=True),
            _tighter(self.high, other.high, lower=False),
            self.excluded | other.excluded,
            self.integral or other.integral,
        )

    def admits(self, value: Any) -> bool:
        in_members = self.members is None or value in self.members
        return in_members and value not in self.excluded and _within(value, self.low, self.high)

    def finite_values(self) -> frozenset[Any] | None:
        """Every allowed value when they are few enough to list, else None."""
        if self.members is not None:
            return frozenset(value for value in self.members if self.admits(value))
        if self.integral and self.low is not None and self.high is not None:
            first = self.low.value if self.low.inclusive else self.low.value + 1
            last = self.high.value if self.high.inclusive else self.high.value - 1
            if last - first < MAX_ENUMERATED:
                return frozenset(v for v in range(first, last + 1) if self.admits(v))
        return None

    def is_empty(self) -> bool:
        values = self.finite_values()
        if values is not None:
            return not values
        if self.low is None or self.high is None:
            return False
        if self.low.value == self.high.value:
            return not (self.low.inclusive and self.high.inclusive) or (
                self.low.value in self.excluded
            )
        return bool(self.low.value > self.high.value)

    def implies(self, other: "Constraint") -> bool:
        """Whether every value this constraint allows, `other` allows too."""
        values = self.finite_values()
        if values is not None:
            return all(other.admits(value) for value in values)
        if other.members is not None:
            return False
        return (
            all(not self.admits(value) for value in other.excluded)
            and _covers_bound(other.low, self.low, lower=True)
            and _covers_bound(other.high, self.high, lower=False)
        )


def _tighter(a: Bound | None, b: Bound | None, *, lower: bool) -> Bound | None:
    if a is None or b is None:
        return a or b
    if a.value == b.value:
        return Bound(a.value, a.inclusive and b.inclusive)
    return (a if a.value > b.value else b) if lower else (a if a.value < b.value else b)


def _within(value: Any, low: Bound | None, high: Bound | None) -> bool:
    above = low is None or value > low.value or (low.inclusive and value == low.value)
    below = high is None or value < high.value or (high.inclusive and value == high.value)
    return bool(above and below)


def _covers_bound(outer: Bound | None, inner: Bound | None, *, lower: bool) -> bool:
    """Whether the side `outer` of a range lets through everything the side `inner` does."""
    if outer is None:
        return True
    if inner is None:
        return False
    if outer.value == inner.value:
        return outer.inclusive or not inner.inclusive
    return bool(outer.value < inner.value) if lower else bool(outer.value > inner.value)


# --- one leaf as a constraint ----------------------------------------------------------------


def _domain(leaf: Leaf) -> frozenset[Any] | None:
    """Every value the leaf's field can take, when the field declares them: leaves on such a
    field become plain sets of values."""
    if leaf.operator == "is":
        return _BOOLEANS
    return leaf.spec(leaf.field).domain


def _circular(domain: frozenset[Any], start: Any, end: Any) -> frozenset[Any]:
    """The values of `between [start, end]`, running round when end < start (hours 22 to 2)."""
    if start <= end:
        return frozenset(value for value in domain if start <= value <= end)
    return frozenset(value for value in domain if value >= start or value <= end)


def _comparison(operator: str, value: Any, integral: bool) -> Constraint:
    if operator in ("equals", "is"):
        return Constraint(members=frozenset({value}), integral=integral)
    if operator == "not_equals":
        return Constraint(excluded=frozenset({value}), integral=integral)
    if operator == "in":
        return Constraint(members=frozenset(value), integral=integral)
    if operator == "not_in":
        return Constraint(excluded=frozenset(value), integral=integral)
    if operator == "between":
        return Constraint(low=Bound(value[0], True), high=Bound(value[1], True), integral=integral)
    inclusive = operator in ("gte", "lte")
    if operator in ("gt", "gte"):
        return Constraint(low=_bound(value, inclusive, integral, step=1), integral=integral)
    return Constraint(high=_bound(value, inclusive, integral, step=-1), integral=integral)


def _bound(value: Any, inclusive: bool, integral: bool, *, step: int) -> Bound:
    """A bound; on whole numbers always an inclusive one (`gt 5` is `gte 6`), so that bounds
    written either way compare."""
    if integral and not inclusive:
        return Bound(value + step, True)
    return Bound(value, inclusive)


def _constraint(leaf: Leaf) -> Constraint | None:
    """What the leaf asks of its value, or None for a leaf the analysis does not model."""
    spec = leaf.spec(leaf.field)
    if leaf.operator == "all" or spec.many:
        return None  # a set of values (segments), not one value
    span = leaf.span()
    if span is not None:
        low, high = span
        top = _bound(high, False, True, step=-1) if high is not None else None
        return Constraint(low=Bound(low, True), high=top, integral=spec.integral)
    domain = _domain(leaf)
    if leaf.operator == "between" and domain is not None:
        return Constraint(members=_circular(domain, *leaf.value))
    found = _comparison(leaf.operator, leaf.value, integral=spec.integral)
    if domain is None:
        return found
    return Constraint(members=frozenset(value for value in domain if found.admits(value)))


# --- alternatives of a tree ------------------------------------------------------------------


def _options(node: Node) -> list[tuple[Leaf, ...]]:
    if not isinstance(node, Group):
        return [(node,)]
    if node.logic == "AND":
        return _branches(node.children)
    options = [option for child in node.children for option in _options(child)]
    if len(options) > MAX_BRANCHES:
        raise TooComplex
    return options


def _branches(nodes: Sequence[Node]) -> list[tuple[Leaf, ...]]:
    """The AND of the nodes as an OR of leaf conjunctions; TooComplex beyond MAX_BRANCHES."""
    branches: list[tuple[Leaf, ...]] = [()]
    for node in nodes:
        options = _options(node)
        if len(branches) * len(options) > MAX_BRANCHES:
            raise TooComplex
        branches = [branch + option for branch, option in product(branches, options)]
    return branches


@dataclass(slots=True)
class _Conjunction:
    """One alternative: its leaves merged per value they read."""

    constraints: dict[Key, Constraint] = field(default_factory=dict)
    leaves: dict[Key, list[Leaf]] = field(default_factory=dict)
    unmodelled: list[Leaf] = field(default_factory=list)

    @classmethod
    def of(cls, leaves: Iterable[Leaf]) -> "_Conjunction":
        merged = cls()
        for leaf in leaves:
            constraint = _constraint(leaf)
            if constraint is None:
                merged.unmodelled.append(leaf)
                continue
            key = leaf.reads()
            known = merged.constraints.get(key)
            merged.constraints[key] = constraint if known is None else known.meet(constraint)
            merged.leaves.setdefault(key, []).append(leaf)
        return merged

    def contradiction(self) -> str | None:
        for key, constraint in self.constraints.items():
            if constraint.is_empty():
                return _reason(self.leaves[key])
        return None

    def implies(self, node: Node) -> bool:
        if isinstance(node, Group):
            results = (self.implies(child) for child in node.children)
            return all(results) if node.logic == "AND" else any(results)
        if node in self.unmodelled:
            return True
        constraint = _constraint(node)
        known = self.constraints.get(node.reads())
        return constraint is not None and known is not None and known.implies(constraint)


def _shown(leaf: Leaf, item: Any) -> str:
    # Ordered choices (weekdays, risk levels) are stored as their index; show them by name.
    spec = leaf.spec(leaf.field)
    return spec.choices[item] if spec.input == "choice" and isinstance(item, int) else str(item)


def describe(leaf: Leaf) -> str:
    """A leaf as a person reads it: `amount (USD) gt 5000`, `country in US, CA`."""
    items = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
    value = ", ".join(_shown(leaf, item) for item in items)
    params = (getattr(leaf, name) for name in leaf.spec(leaf.field).params)
    shown_params = "".join(f" ({param})" for param in params if param is not None)
    return f"{leaf.field}{shown_params} {leaf.operator} {value}"


def _reason(leaves: Sequence[Leaf]) -> str:
    if len(leaves) == 1:
        return f"no transaction has {describe(leaves[0])}"
    return f"no transaction has {' and '.join(describe(leaf) for leaf in leaves)} at once"


# --- the two questions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Analysed:
    """One condition tree taken apart once, to be asked both questions many times (lint asks
    each rule whether every earlier rule covers it)."""

    alternatives: tuple[_Conjunction, ...] | None  # None: too many to expand
    reasons: tuple[str | None, ...]  # per alternative: why it is impossible, or None

    def never_matches(self) -> str | None:
        """Why no transaction can match, or None when it may (or the analysis cannot tell)."""
        if self.alternatives is None or None in self.reasons:
            return None
        reasons = list(dict.fromkeys(reason for reason in self.reasons if reason))
        if len(reasons) == 1:
            return reasons[0]
        return f"every alternative of its OR groups is impossible ({'; '.join(reasons)})"

    def covered_by(self, general: Sequence[Node]) -> bool:
        """True only when every transaction this tree matches also matches `general`."""
        if not general:
            return True
        if self.alternatives is None:
            return False
        return all(
            reason is not None or all(alternative.implies(node) for node in general)
            for alternative, reason in zip(self.alternatives, self.reasons, strict=True)
        )


def analyse(nodes: Sequence[Node]) -> Analysed:
    """The AND of `nodes` expanded into its alternatives, each merged and checked."""
    try:
        alternatives = tuple(_Conjunction.of(branch) for branch in _branches(nodes))
    except TooComplex:
        return Analysed(None, ())
    return Analysed(alternatives, tuple(each.contradiction() for each in alternatives))


def never_matches(nodes: Sequence[Node]) -> str | None:
    """Why no transaction can match the AND of `nodes`, or None when it may match (or the
    analysis cannot tell)."""
    return analyse(nodes).never_matches()


def covers(general: Sequence[Node], specific: Sequence[Node]) -> bool:
    """True only when every transaction that matches `specific` also matches `general`."""
    return analyse(specific).covered_by(general)
