"""The load-balancing strategies a pool can use, found from their declarations.

Adding a strategy is one module plus its tests: create `avnz/routing/strategies/<name>.py` with
one `Strategy` subclass (`name`, `label`, a docstring whose first paragraph the dashboard shows,
`config` if it has settings of its own, `choose`, and `refine` / `needs_position` if it needs
them; see `base.py`), export an instance as `STRATEGY`, and test it in
`tests/routing/test_strategies.py`. The registry imports every module here that declares a
`STRATEGY`; the pools' API (`StrategyName`: validation and the OpenAPI enum), the dashboard's
choices and help, the rule action `route_to_pool` and `selection.plan_route` all read it, so
nothing else names a strategy. `account_pools.strategy` is a plain string column: a new strategy
needs no migration.

Invariants: names are unique; `STRATEGIES` is read-only, sorted by name, and changes only through
`register` / `unregister` (tests and extensions, never a request).
"""

import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated

from avnz.core.choices import OneOf
from avnz.routing.strategies.base import (
    Candidate,
    Facts,
    Pick,
    Strategy,
    StrategyConfig,
    StrategyContext,
)

DEFAULT = "weighted"  # a new pool's strategy unless it names one

_registered: dict[str, Strategy] = {}
STRATEGIES: Mapping[str, Strategy] = MappingProxyType(_registered)


class UnknownStrategyError(KeyError):
    """No strategy is registered under this name; the message lists the ones that are."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"{self.name!r} is not one of {', '.join(STRATEGIES)}"


def register(strategy: Strategy) -> Strategy:
    """Make `strategy` available to every pool; its name must be new."""
    if strategy.name in _registered:
        raise ValueError(f"a strategy named {strategy.name!r} is already registered")
    entries = sorted([*_registered.values(), strategy], key=lambda s: s.name)
    _registered.clear()
    _registered.update((s.name, s) for s in entries)
    return strategy


def unregister(name: str) -> None:
    """Remove strategy `name` (a test's throwaway one); pools that use it can no longer route."""
    if _registered.pop(name, None) is None:
        raise UnknownStrategyError(name)


def strategy(name: str) -> Strategy:
    """The strategy registered as `name`, or UnknownStrategyError naming the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategyError(name) from None


# A pool's strategy in the API: a registered name (checked, and listed in the schema, live).
StrategyName = Annotated[str, OneOf(lambda: list(STRATEGIES))]


def _declared() -> list[Strategy]:
    """Every `STRATEGY` exported by a module directly in this package."""
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        declared = getattr(module, "STRATEGY", None)
        if isinstance(declared, Strategy):
            found.append(declared)
    return found


for _strategy in _declared():
    register(_strategy)

__all__ = [
    "DEFAULT",
    "STRATEGIES",
    "Candidate",
    "Facts",
    "Pick",
    "Strategy",
    "StrategyConfig",
    "StrategyContext",
    "StrategyName",
    "UnknownStrategyError",
    "register",
    "strategy",
    "unregister",
]
