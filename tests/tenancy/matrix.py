"""The access matrix's vocabulary: a Scene of in-scope objects, an Endpoint row, and the
status a role should get. Domains list their rows in their own test packages (e.g.
`tests/routing/access_rows.py`); `test_access_matrix.py` gathers them."""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from avnz.auth.permissions import ROLE_LEVEL, ROLE_PERMISSIONS, Level, Permission
from avnz.tenancy.models import Role
from tests.factories import World

API = "/api/v1"
P = Permission
CLIENT, COMPANY = Level.CLIENT, Level.COMPANY

Body = Callable[["Scene"], dict[str, Any]]


@dataclass(frozen=True)
class Scene:
    """The world, plus the in-scope objects the world factory does not make (`made`, by kind)."""

    world: World
    made: dict[str, str]

    def target(self, kind: str) -> str:
        a = self.world.a
        known = {
            "organization": self.world.organization.id,
            "client": a.client.id,
            "company": a.company.id,
            "department": a.department.id,
            "user": a.users[Role.COMPANY_USER].id,
        }
        return known[kind] if kind in known else self.made[kind]


@dataclass(frozen=True)
class Endpoint:
    """One row of the matrix: a route, what it needs, and what it is aimed at."""

    method: str
    path: str  # the route template under /api/v1, as registered
    permission: Permission | None  # None: any authenticated caller
    target: str | None = None  # the object in the path (or the one a list must show)
    body: Body | None = None
    ok: int = 200  # the status of an allowed call
    seen_from: Level = COMPANY  # the lowest level whose scope can hold the target
    min_level: Level = COMPANY  # level rule: a caller below this level gets 403
    variant: str = ""  # a second row for the same route, with another body
    echoes: str | None = "id"  # the response field that holds the target's id (None: none)
    more: tuple[str, ...] = ()  # kinds of the objects in the later path parameters, in order
    needs: tuple[str, ...] = ()  # objects the call relies on without naming them (the scene)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.variant})" if self.variant else "")

    @property
    def is_list(self) -> bool:
        return self.method == "GET" and self.target is not None and "{" not in self.path

    def url(self, scene: "Scene") -> str:
        if self.is_list:
            return f"{API}{self.path}?limit=100"
        if "{" not in self.path:
            return f"{API}{self.path}"
        assert self.target is not None, self.label
        # The first path parameter is the target; sub-resources (`/{id}/usage`) keep their tail,
        # later parameters (`/{id}/accounts/{account_id}`) are the kinds in `more`.
        path = self.path
        for kind in (self.target, *self.more):
            path = re.sub(r"\{[^}]+\}", scene.target(kind), path, count=1)
        return API + path


def expected(endpoint: Endpoint, permissions: Iterable[Permission], level: Level) -> int:
    """The status a caller with these permissions, at this level, gets from `endpoint`."""
    if endpoint.permission is not None and endpoint.permission not in set(permissions):
        return 403
    if level > endpoint.seen_from:
        return 200 if endpoint.is_list else 404
    if level > endpoint.min_level:
        return 403
    return endpoint.ok


def for_role(endpoint: Endpoint, role: Role) -> int:
    return expected(endpoint, ROLE_PERMISSIONS[role], ROLE_LEVEL[role])
