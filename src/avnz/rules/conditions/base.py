"""What a condition plugin declares, and the operators every condition shares.

A condition type (`geography`, `amount`, ...) is one module holding one `Condition` subclass:
its `NAME` (the leaf's `type`), its `LABEL`, its `FIELDS` (each with its operators, the check
that normalises one value, how it reads the transaction and what the rule builder shows), and,
where a field needs more than "read a value, compare it", its own `compile`. The registry
(`avnz.rules.conditions`) builds the leaf's Pydantic model, the tree's discriminated union and
the builder's field lists from these declarations.

A leaf compiles once into a `Predicate`; the engine, the tester and the simulator all run that
same predicate. A value the transaction lacks (None) never matches.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from avnz.rules.conditions import values
from avnz.rules.context import RuleContext

Predicate = Callable[[RuleContext], bool]
Getter = Callable[[RuleContext], Any]
Test = Callable[[Any], bool]

MAX_LIST = 1000  # values in an `in` list

Operator = Literal[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "all",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "in_tier",
    "is",
]
EQ = frozenset({"equals", "not_equals", "in", "not_in"})
NUM = frozenset({"equals", "not_equals", "gt", "gte", "lt", "lte", "between"})
IS = frozenset({"is"})
LISTS = frozenset({"in", "not_in", "all"})  # operators whose value is a list


def ascending(low: Any, high: Any) -> None:
    """The usual `between` check: min <= max."""
    if low > high:
        raise ValueError("`between` needs min <= max")


def either_way(low: Any, high: Any) -> None:
    """A `between` that may run backwards (hours across midnight, 22 to 2)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a condition type: its operators, the check of one value, how it reads the
    transaction (None: the condition's own `compile` does) and the builder's input for it.

    `input` is one of bool, choice, country, currency, amount, int, rate, date, bin, text;
    `choices` are what a `choice` offers (indexes when `check` stores an index)."""

    name: str
    operators: frozenset[str]
    check: values.Check
    read: Getter | None = None
    input: str = "text"
    choices: tuple[str, ...] = ()
    label: str | None = None  # default: the name in words
    check_range: Callable[[Any, Any], None] = ascending
    params: tuple[str, ...] = ()  # the leaf's own parameters it uses (`currency`, `country`)
    domain: frozenset[Any] | None = None  # every value it can take, when they are few
    many: bool = False  # the transaction has a set of them (segments), not one

    @property
    def integral(self) -> bool:
        """Whether its values are whole numbers (`gt 5` is `gte 6`)."""
        return self.input in ("amount", "int")

    @property
    def title(self) -> str:
        """What the builder and the rule text call the field."""
        return self.label or self.name.replace("_", " ").removeprefix("is ").capitalize()


def flag(
    name: str, read: Getter | None, label: str | None = None, params: tuple[str, ...] = ()
) -> FieldSpec:
    """A yes/no field (`is true|false`)."""
    return FieldSpec(name, IS, values.boolean, read, input="bool", label=label, params=params)


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


def from_getter(getter: Getter, operator: str, value: Any) -> Predicate:
    """A predicate that is false when the context lacks the value, else the operator's test."""
    test = compile_op(operator, value)

    def predicate(context: RuleContext) -> bool:
        actual = getter(context)
        return actual is not None and test(actual)

    return predicate


class Condition(BaseModel):
    """A leaf of a rule's condition tree, as a rule stores it (validated, normalised, frozen).

    Subclasses declare `NAME`, `LABEL` and `FIELDS`; the registry narrows `type` and `field`
    to them. Override `compile` for fields without a `read`, `check_value` for operators
    beyond the shared ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    NAME: ClassVar[str]
    LABEL: ClassVar[str]
    FIELDS: ClassVar[tuple[FieldSpec, ...]]

    type: str
    field: str
    operator: Operator
    value: Any

    @classmethod
    def spec(cls, field: str) -> FieldSpec:
        """The declaration of `field` (KeyError when the type has no such field)."""
        return next(spec for spec in cls.FIELDS if spec.name == field)

    @classmethod
    def check_value(cls, spec: FieldSpec, operator: str, value: Any) -> Any:
        """The normalised value of a leaf on `spec`, or ValueError naming what is wrong."""
        if operator in LISTS:
            if not isinstance(value, list | tuple) or not value:
                raise ValueError(f"`{operator}` needs a non-empty list")
            if len(value) > MAX_LIST:
                raise ValueError(f"`{operator}` takes at most {MAX_LIST} values")
            return tuple(spec.check(item) for item in value)
        if operator == "between":
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise ValueError("`between` needs [min, max]")
            low, high = spec.check(value[0]), spec.check(value[1])
            spec.check_range(low, high)
            return (low, high)
        return spec.check(value)

    @field_validator("operator")
    @classmethod
    def _operator_fits_field(cls, operator: str, info: ValidationInfo) -> str:
        field = info.data.get("field")
        if field is None:
            return operator
        allowed = cls.spec(field).operators
        if operator not in allowed:
            raise ValueError(f"`{field}` takes {', '.join(sorted(allowed))}, not {operator!r}")
        return operator

    @field_validator("value")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        field, operator = info.data.get("field"), info.data.get("operator")
        if field is None or operator is None:
            return value
        return cls.check_value(cls.spec(field), operator, value)

    def compile(self) -> Predicate:
        """The leaf as a predicate, built once: the field's `read` under the operator's test."""
        read = self.spec(self.field).read
        if read is None:
            raise NotImplementedError(f"{self.type}.{self.field} needs its condition's compile")
        return from_getter(read, self.operator, self.value)

    def reads(self) -> tuple[Any, ...]:
        """Which value the leaf looks at: leaves with the same key read the same value, so rule
        analysis merges what they ask of it. The field, and the parameters it uses."""
        params = self.spec(self.field).params
        return (self.type, self.field, *(getattr(self, name) for name in params))

    def span(self) -> tuple[Any, Any] | None:
        """[low, high) of the values an operator that names a range admits (amount tiers);
        high None is unbounded. None for the other operators."""
        return None

    @cached_property
    def predicate(self) -> Predicate:
        """`compile()`, once per leaf: what the engine, the tester and the simulator run."""
        return self.compile()
