"""What the condition and action registries share: the registry itself, and the types built at
run time from the registered plugins for Pydantic (`Literal` tags, a tagged union, a list)."""

import functools
import operator
from collections.abc import Mapping, Sequence
from types import GenericAlias, MappingProxyType
from typing import Annotated, Any, ClassVar, ForwardRef, Generic, Literal, Protocol, TypeVar

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


class Named(Protocol):
    NAME: ClassVar[str]


Plugin = TypeVar("Plugin", bound=Named)


class Registry(Generic[Plugin]):
    """Plugins of one kind by their NAME, in registration order. `version` moves on every
    change, so what is built from the plugins can be cached per version."""

    def __init__(self, kind: str, *, reserved: frozenset[str] = frozenset()) -> None:
        self._kind = kind
        self._reserved = reserved  # names the tree itself uses ("group")
        self._plugins: dict[str, type[Plugin]] = {}
        self.version = 0

    def register(self, plugin: type[Plugin]) -> type[Plugin]:
        """Make `plugin` available to every rule (its NAME must be new)."""
        if plugin.NAME in self._plugins or plugin.NAME in self._reserved:
            raise ValueError(f"a {self._kind} named {plugin.NAME!r} exists already")
        self._plugins[plugin.NAME] = plugin
        self.version += 1
        return plugin

    def unregister(self, name: str) -> None:
        """Remove a plugin (rules that use it no longer validate)."""
        del self._plugins[name]
        self.version += 1

    def view(self) -> Mapping[str, type[Plugin]]:
        """The registered plugins by NAME, read-only."""
        return MappingProxyType(self._plugins)
