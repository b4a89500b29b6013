"""The dashboard's router: every page module's `router`, mounted by the app factory."""

import functools
import importlib
from collections.abc import Iterator
from types import ModuleType

from fastapi import APIRouter
from fastapi.routing import iter_route_contexts

# One line per page module (each exports `router`); order only matters for clashing paths.
PAGE_MODULES: tuple[str | ModuleType, ...] = (
    "avnz.web.pages.login",
    "avnz.web.pages.home",
    "avnz.web.pages.mode",
    "avnz.web.pages.transactions",
    "avnz.web.pages.search",
    "avnz.web.pages.notifications",
    "avnz.web.pages.integrations",
    "avnz.web.pages.accounts",
    "avnz.web.pages.pools",
    "avnz.web.pages.rules",
)


def _page_modules() -> Iterator[ModuleType]:
    for entry in PAGE_MODULES:
        yield importlib.import_module(entry) if isinstance(entry, str) else entry


def dashboard_router() -> APIRouter:
    """All dashboard pages; the app includes it with `include_in_schema=False`."""
    dashboard = APIRouter()
    for module in _page_modules():
        dashboard.include_router(module.router)
    return dashboard


def _get_paths(router: APIRouter) -> Iterator[str]:
    for context in iter_route_contexts(router.routes):  # included routers flattened
        if context.path and "GET" in (context.methods or ()):
            yield context.path


@functools.cache
def page_paths() -> frozenset[str]:
    """The paths of every GET page: the sidebar and quick actions link only to these."""
    return frozenset(path for module in _page_modules() for path in _get_paths(module.router))
