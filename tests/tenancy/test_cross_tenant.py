"""Every /api/v1 route, walked with a token of another tenant aimed at agency A's objects.

The requests are the access matrix's rows (`ENDPOINTS`) aimed at the matrix's scene: the
objects of agency A and brand A1. The attackers are agency B's client admin and brand B1's
company admin. A row aimed at one of A's objects answers 404 (`resource_missing`), exactly as
for an id that does not exist; a list answers 200 and shows none of A's objects. Where the
attacker may not call the route at all (a permission or level rule that the matrix says denies
the attacker even on its own objects) the answer is the 403 a missing id gets too, so it reveals
nothing (a level rule applied after the lookup gives the 404 a missing id gets, which is
fine too). No answer carries an id of A's objects, and afterwards A's objects are still there.

A route served under /api/v1 with no row, and not listed in `GLOBAL` with a reason, fails
`test_every_route_is_walked_or_global`, so a new route cannot go uncovered.
"""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from avnz.auth.permissions import ROLE_LEVEL, ROLE_PERMISSIONS
from avnz.tenancy.models import Role
from tests.factories import World
from tests.tenancy.matrix import API, Endpoint, Scene, expected
from tests.tenancy.test_access_matrix import (
    ENDPOINTS,
    PUBLIC,
    SCENE_MAKERS,
    api_routes,
    kinds_needed,
)

# Routes that aim at no tenant's object, by design: (method, path under /api/v1) → why.
GLOBAL: dict[tuple[str, str], str] = {
    ("POST", "/auth/login"): "public: signs in with an email and password, no object",
    ("POST", "/auth/refresh"): "public: renews the caller's own session",
    ("POST", "/auth/accept-invite"): "public: the invitation token is the only input",
    ("GET", "/openapi.json"): "public: the API description",
    ("POST", "/gateway-webhooks/stripe/{account_id}"): (
        "public: Stripe's signature with the account's webhook secret is the only credential"
    ),
    ("GET", "/auth/me"): "the caller's own user",
    ("POST", "/auth/logout"): "ends the caller's own session",
    ("POST", "/clients"): "creates a new agency; names no existing one (admin:clients only)",
    ("GET", "/stats/summary"): "aggregates the caller's scope (see the figures test below)",
    ("GET", "/stats/chart"): "aggregates the caller's scope (see the figures test below)",
    ("GET", "/admin/integrations/definitions"): "the provider catalogue, the same for everyone",
    ("GET", "/integrations/available"): "the provider catalogue, the same for everyone",
    ("POST", "/admin/integrations/platform"): "creates an operator-level integration",
}
MISSING = "zz_missing_0000000000"  # an id no row has


@dataclass(frozen=True)
class Attacker:
    role: Role
    agency: str = "b"  # brand B1 for company roles

    def headers(self, world: World) -> dict[str, str]:
        return world.headers(self.role, self.agency)

    def own_answer(self, endpoint: Endpoint) -> int:
        """What the attacker gets from `endpoint` on an object of its own scope."""
        return expected(endpoint, ROLE_PERMISSIONS[self.role], ROLE_LEVEL[self.role])


ATTACKERS = [Attacker(Role.CLIENT_ADMIN), Attacker(Role.COMPANY_ADMIN)]


class _Missing:
    """Stands in for the scene: every object it names does not exist."""

    def target(self, kind: str) -> str:
        return MISSING


def route_of(endpoint: Endpoint) -> tuple[str, str]:
    return endpoint.method, endpoint.path


def attacked_rows() -> list[Endpoint]:
    """Every row but the global ones. (The organization and its platform integrations are the
    operator's, not A's: those rows need admin:system or organization level, so the attackers
    get the 403 a missing id gets.)"""
    return [endpoint for endpoint in ENDPOINTS if route_of(endpoint) not in GLOBAL]


def a_ids(scene: Scene) -> set[str]:
    """The ids of agency A's objects (the organization is shared, so it is left out)."""
    a = scene.world.a
    own = {a.client.id, a.company.id, a.other_company.id, a.department.id}
    return own | {user.id for user in a.users.values()} | set(scene.made.values())


@pytest.fixture
async def scene(client: httpx.AsyncClient, world: World) -> Scene:
    """Every object the access matrix aims at, in agency A (brand A1)."""
    made = Scene(world, {})
    for make in SCENE_MAKERS:
        made.made.update(await make(client, world))
    return made


def _body(endpoint: Endpoint, scene: Any) -> Any:
    return endpoint.body(scene) if endpoint.body else None


async def _like_missing(
    client: httpx.AsyncClient, endpoint: Endpoint, headers: dict[str, str]
) -> tuple[int, str] | None:
    """The answer to the same request aimed at ids that do not exist (None: cannot build it)."""
    try:
        url, body = endpoint.url(_Missing()), _body(endpoint, _Missing())  # type: ignore[arg-type]
    except AttributeError:  # the body reads the world itself
        return None
    response = await client.request(endpoint.method, url, json=body, headers=headers)
    return response.status_code, response.json()["error"]["code"]


async def _attack(
    client: httpx.AsyncClient, scene: Scene, endpoint: Endpoint, attacker: Attacker
) -> str | None:
    """Run one row as the attacker; a description of what went wrong, or None."""
    headers = attacker.headers(scene.world)
    url, body = endpoint.url(scene), _body(endpoint, scene)
    response = await client.request(endpoint.method, url, json=body, headers=headers)
    got = response.status_code
    sent = f"{url} {body}"  # an error may quote the ids the attacker sent, and nothing else
    leaked = sorted(i for i in a_ids(scene) if i in response.text and i not in sent)
    if leaked:
        return f"{got} shows A's ids {leaked}"
    if attacker.own_answer(endpoint) == 403:
        missing = await _like_missing(client, endpoint, headers)
        answer = (got, response.json()["error"]["code"]) if got >= 400 else (got, "")
        if got not in (403, 404) or (missing is not None and answer != missing):
            return f"{answer}, want what a missing id gets {missing}"
        return None
    if endpoint.is_list:
        return None if got == 200 else f"{got}, want 200"
    if got != 404 or response.json()["error"]["code"] != "resource_missing":
        return f"{got} {response.text[:200]}, want 404 resource_missing"
    return None


@pytest.mark.parametrize("attacker", ATTACKERS, ids=lambda a: f"{a.role.value}-{a.agency}")
async def test_another_tenant_gets_404_on_every_route(
    client: httpx.AsyncClient, scene: Scene, attacker: Attacker
) -> None:
    rows = attacked_rows()
    failures = []
    for endpoint in rows:
        problem = await _attack(client, scene, endpoint, attacker)
        if problem:
            failures.append(f"{endpoint.label}: {problem}")
    assert failures == [], "\n".join(failures)
    assert len(rows) > 100
    owner = scene.world.headers(Role.ORGANIZATION_ADMIN)
    for endpoint in rows:  # nothing of A's was deleted on the way
        if endpoint.method == "GET" and not endpoint.is_list and endpoint.target:
            again = await client.get(endpoint.url(scene), headers=owner)
            assert again.status_code == 200, (endpoint.label, again.text)


def test_every_route_is_walked_or_global(app: Any) -> None:
    walked = {route_of(e) for e in attacked_rows()}
    served = {(method, path.removeprefix(API)) for method, path in api_routes(app)}
    assert {(m, p.removeprefix(API)) for m, p in PUBLIC} <= set(GLOBAL)
    assert sorted(served - walked - set(GLOBAL)) == [], "routes nobody walks"
    assert sorted(set(GLOBAL) - served) == [], "GLOBAL lists routes that do not exist"
    for endpoint in ENDPOINTS:  # a global route's row aims at no object of anyone
        if route_of(endpoint) in GLOBAL:
            assert kinds_needed(endpoint) == set(), endpoint.label


@pytest.mark.parametrize("attacker", ATTACKERS, ids=lambda a: f"{a.role.value}-{a.agency}")
async def test_another_tenants_figures_count_nothing_of_a(
    client: httpx.AsyncClient, scene: Scene, attacker: Attacker
) -> None:
    """The global aggregates: A's payments (the scene made some today) are not in B's figures."""
    owner = await client.get(
        f"{API}/stats/summary", headers=scene.world.headers(Role.ORGANIZATION_ADMIN)
    )
    assert owner.json()["transactions"] > 0
    summary = await client.get(f"{API}/stats/summary", headers=attacker.headers(scene.world))
    chart = await client.get(f"{API}/stats/chart", headers=attacker.headers(scene.world))
    assert summary.status_code == chart.status_code == 200
    assert summary.json()["transactions"] == 0 and summary.json()["volume"] == []
    assert all(day["transactions"] == 0 for day in chart.json()["days"]), chart.text
