"""Types built at run time from the registered plugins (condition types, actions), which the
registries hand to Pydantic: a model's `Literal` tags, a tagged union, a bounded list."""

import functools
import operator
from collections.abc import Sequence
from types import GenericAlias
from typing import Annotated, Any, ForwardRef, Literal

from pydantic import BaseModel, Field


def literal_of(values: Sequence[str]) -> Any:
    """`Literal[v1, v2, ...]`."""
    return Literal[tuple(values)]


def tagged_union(members: Sequence[type[BaseModel]]) -> Any:
    """`m1 | m2 | ...`, told apart by their `type` field."""
    union = functools.reduce(operator.or_, members)
    return Annotated[union, Field(discriminator="type")]


def list_of(item: Any, *, min_length: int = 0, max_length: int) -> Any:
    """`list[item]` of `min_length` to `max_length` items."""
    return Annotated[
        GenericAlias(list, (item,)), Field(min_length=min_length, max_length=max_length)
    ]


def named(name: str) -> ForwardRef:
    """A reference to a type given later (by `model_rebuild`), for recursive models."""
    return ForwardRef(name)
