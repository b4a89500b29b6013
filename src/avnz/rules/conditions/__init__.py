"""The condition registry: which condition types a rule may use, and the tree built from them.

A rule's `conditions` is a list of nodes combined with AND (an empty list matches everything).
A node is a group `{"type": "group", "logic": "AND"|"OR", "children": [...]}` or a leaf
`{"type", "field", "operator", "value"}` of a registered condition type. The leaf models, the
discriminated union of the tree and its JSON schema are built here from the types' own
declarations, again whenever a type is registered or removed.

To add a condition type: write one module beside `geography.py` with one `Condition` subclass
(`NAME`, `LABEL`, `FIELDS`, and `compile` where a field has no `read`), add it to `BUILT_IN`,
and test it in `tests/rules/test_conditions.py`. Nothing else names it: the rule API, the
builder, the tester and the simulator take it from here.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from avnz.rules.conditions.amount import AmountCondition
from avnz.rules.conditions.base import Condition
from avnz.rules.conditions.customer import CustomerCondition
from avnz.rules.conditions.geography import GeographyCondition
from avnz.rules.conditions.payment_method import PaymentMethodCondition
from avnz.rules.conditions.product import ProductCondition
from avnz.rules.conditions.time import TimeCondition
from avnz.rules.errors import InvalidDefinition, error_paths
from avnz.rules.plugins import Registry, list_of, literal_of, named, tagged_union

MAX_DEPTH = 5  # groups nested deeper than this are refused
MAX_NODES = 100  # nodes in one list (the rule's, a group's children)

BUILT_IN: tuple[type[Condition], ...] = (
    GeographyCondition,
    AmountCondition,
    TimeCondition,
    CustomerCondition,
    ProductCondition,
    PaymentMethodCondition,
)


class Group(BaseModel):
    """Children combined with AND or OR (the registry's tree narrows `children` to nodes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["group"]
    logic: Literal["AND", "OR"]
    children: list[Any]


Node = Group | Condition


class InvalidConditions(InvalidDefinition):
    """A condition tree that does not validate."""


REGISTRY: Registry[Condition] = Registry("condition type", reserved=frozenset({"group"}))
register = REGISTRY.register
unregister = REGISTRY.unregister
condition_types = REGISTRY.view


def _leaf_model(condition: type[Condition]) -> type[Condition]:
    """`condition` with `type` and `field` narrowed to its declarations (for the union)."""
    fields = tuple(spec.name for spec in condition.FIELDS)
    return create_model(
        condition.__name__,
        __base__=condition,
        __module__=condition.__module__,
        type=(literal_of([condition.NAME]), ...),
        field=(literal_of(fields), ...),
    )


@dataclass(frozen=True, slots=True)
class _Tree:
    """The models of the registered types: the rule's conditions, and their list alone."""

    rule: type[BaseModel]
    nodes: TypeAdapter[Any]


def _tree() -> _Tree:
    return _tree_at(REGISTRY.version)


@lru_cache(maxsize=1)  # keyed by the registry's version: a change builds anew
def _tree_at(version: int) -> _Tree:
    leaves = tuple(_leaf_model(condition) for condition in condition_types().values())
    tree_group = create_model(
        "Group",
        __base__=Group,
        children=(list_of(named("TreeNode"), min_length=1, max_length=MAX_NODES), ...),
    )
    node = tagged_union([tree_group, *leaves])
    tree_group.model_rebuild(_types_namespace={"TreeNode": node})
    nodes = list_of(node, max_length=MAX_NODES)
    rule = create_model(
        "RuleConditions",
        __config__=ConfigDict(extra="forbid", frozen=True),
        conditions=(nodes, Field(default_factory=list)),
    )
    return _Tree(rule, TypeAdapter(nodes))


def _tags() -> frozenset[str]:
    return frozenset({"group", *condition_types()})


def _too_deep(nodes: Sequence[Node], path: str, depth: int) -> list[tuple[str, str]]:
    found = []
    for index, node in enumerate(nodes):
        if isinstance(node, Group):
            here = f"{path}.{index}"
            if depth + 1 > MAX_DEPTH:
                found.append((here, f"groups may be nested at most {MAX_DEPTH} deep"))
            else:
                found.extend(_too_deep(node.children, f"{here}.children", depth + 1))
    return found


def parse_conditions(data: Any) -> list[Node]:
    """The validated condition nodes of `{"conditions": [...]}`, or InvalidConditions."""
    try:
        parsed = _tree().rule.model_validate(data)
    except ValidationError as exc:
        raise InvalidConditions(error_paths(exc, tags=_tags())) from None
    nodes: list[Node] = parsed.conditions  # type: ignore[attr-defined]
    deep = _too_deep(nodes, "conditions", 0)
    if deep:
        raise InvalidConditions(deep)
    return nodes


class ConditionTreeSchema:
    """`Annotated` metadata: the JSON schema of the registered tree, read when a schema is made
    (so the OpenAPI document lists the types registered at that moment)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_tree().nodes.core_schema)


for _condition in BUILT_IN:
    register(_condition)
