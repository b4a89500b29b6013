"""Every /api/v1 route, every role: allowed, denied (403) or out of scope (404).

The expected answer is derived from the code's permission table (`ROLE_PERMISSIONS`,
`ROLE_LEVEL`) and the level rules written in the ENDPOINTS table below, never from running the
code. Each request aims at an object inside the caller's own scope (agency A, brand A1) where
one exists. A route missing from the table fails `test_every_api_route_is_in_the_matrix`.

The order of the checks, as the routes and services apply them:
1. the route's permission (a dependency): missing → 403, whatever the target;
2. the target's visibility: a row outside the caller's scope → 404 (a list simply omits it);
3. the level rule of the service (e.g. only client level and above create companies) → 403.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from avnz.auth.permissions import ROLE_LEVEL
from avnz.tenancy.models import Role
from tests.commerce import access_rows as commerce
from tests.disputes import access_rows as disputes
from tests.factories import World
from tests.integrations import access_rows as integrations
from tests.payments import access_rows as payments
from tests.payments import decision_access_rows as routing_decisions
from tests.routing import access_rows as merchant_accounts
from tests.routing import pool_access_rows as account_pools
from tests.rules import access_rows as routing_rules
from tests.rules import lint_access_rows as rule_lint
from tests.rules import tool_access_rows as rule_tools
from tests.tenancy.matrix import API, CLIENT, Body, Endpoint, P, Scene, for_role
from tests.webhooks import access_rows as webhooks


def card_body(company_id: str) -> dict[str, Any]:
    """A valid test Visa card for `POST /payment-methods`."""
    year = datetime.now(UTC).year + 2
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": year, "cvv": "123"}
    return {"company_id": company_id, "card": card}


def _name(value: str) -> Body:
    return lambda _: {"name": value}


def _invite(role: Role, placement: str) -> Body:
    def body(scene: Scene) -> dict[str, Any]:
        return {
            "email": f"invited.{role.value.lower()}@a.example.com",
            "name": "Invited",
            "role": role.value,
            f"{placement}_id": scene.target(placement),
        }

    return body


ENDPOINTS: list[Endpoint] = [
    # organizations: admin:system, i.e. the platform operator only
    Endpoint("GET", "/organizations", P.ADMIN_SYSTEM, "organization"),
    Endpoint("GET", "/organizations/{organization_id}", P.ADMIN_SYSTEM, "organization"),
    Endpoint(
        "PATCH", "/organizations/{organization_id}", P.ADMIN_SYSTEM, "organization", _name("Pl")
    ),
    # clients: creating and deleting one is admin:clients; no client lies in a company's scope
    Endpoint("POST", "/clients", P.ADMIN_CLIENTS, body=_name("Agency C"), ok=201),
    Endpoint("GET", "/clients", P.SETTINGS_READ, "client", seen_from=CLIENT),
    Endpoint("GET", "/clients/{client_id}", P.SETTINGS_READ, "client", seen_from=CLIENT),
    Endpoint(
        "PATCH", "/clients/{client_id}", P.SETTINGS_WRITE, "client", _name("A2"), seen_from=CLIENT
    ),
    Endpoint("DELETE", "/clients/{client_id}", P.ADMIN_CLIENTS, "client", seen_from=CLIENT),
    # companies: settings:*; creating or deleting one also needs client level or above
    Endpoint(
        "POST",
        "/companies",
        P.SETTINGS_WRITE,
        body=lambda s: {"client_id": s.target("client"), "name": "Brand A3"},
        ok=201,
        min_level=CLIENT,
    ),
    Endpoint("GET", "/companies", P.SETTINGS_READ, "company"),
    Endpoint("GET", "/companies/{company_id}", P.SETTINGS_READ, "company"),
    Endpoint("PATCH", "/companies/{company_id}", P.SETTINGS_WRITE, "company", _name("Brand A1b")),
    Endpoint("DELETE", "/companies/{company_id}", P.SETTINGS_WRITE, "company", min_level=CLIENT),
    # departments: settings:*
    Endpoint(
        "POST",
        "/departments",
        P.SETTINGS_WRITE,
        body=lambda s: {"company_id": s.target("company"), "name": "Growth"},
        ok=201,
    ),
    Endpoint("GET", "/departments", P.SETTINGS_READ, "department"),
    Endpoint("GET", "/departments/{department_id}", P.SETTINGS_READ, "department"),
    Endpoint(
        "PATCH", "/departments/{department_id}", P.SETTINGS_WRITE, "department", _name("Ops 2")
    ),
    Endpoint("DELETE", "/departments/{department_id}", P.SETTINGS_WRITE, "department", ok=204),
    # users: admin:users; a caller assigns only roles at or below its own level
    Endpoint(
        "POST", "/users/invite", P.ADMIN_USERS, body=_invite(Role.COMPANY_USER, "company"), ok=201
    ),
    Endpoint(
        "POST",
        "/users/invite",
        P.ADMIN_USERS,
        body=_invite(Role.CLIENT_USER, "client"),
        ok=201,
        min_level=CLIENT,
        variant="a client-level role",
    ),
    Endpoint("GET", "/users", P.ADMIN_USERS, "user"),
    Endpoint("GET", "/users/{user_id}", P.ADMIN_USERS, "user"),
    Endpoint("PATCH", "/users/{user_id}", P.ADMIN_USERS, "user", _name("Renamed")),
    Endpoint("DELETE", "/users/{user_id}", P.ADMIN_USERS, "user"),
    # API keys: settings:read to see, settings:write to create or revoke
    Endpoint(
        "POST",
        "/api-keys",
        P.SETTINGS_WRITE,
        body=lambda s: {
            "company_id": s.target("company"),
            "name": "Checkout",
            "permissions": [P.TRANSACTIONS_READ.value],
        },
        ok=201,
    ),
    Endpoint("GET", "/api-keys", P.SETTINGS_READ, "api_key"),
    Endpoint("GET", "/api-keys/{key_id}", P.SETTINGS_READ, "api_key"),
    Endpoint("DELETE", "/api-keys/{key_id}", P.SETTINGS_WRITE, "api_key"),
    # the audit trail: admin:users
    Endpoint("GET", "/admin/audit-logs", P.ADMIN_USERS, "audit_log"),
    Endpoint("GET", "/admin/audit-logs/{entry_id}", P.ADMIN_USERS, "audit_log"),
    # the card vault: customers:read to see, customers:write to store or delete
    Endpoint(
        "POST",
        "/payment-methods",
        P.CUSTOMERS_WRITE,
        body=lambda s: card_body(s.target("company")),
        ok=201,
    ),
    Endpoint("GET", "/payment-methods", P.CUSTOMERS_READ, "payment_method"),
    Endpoint("GET", "/payment-methods/{method_id}", P.CUSTOMERS_READ, "payment_method"),
    Endpoint("DELETE", "/payment-methods/{method_id}", P.CUSTOMERS_WRITE, "payment_method"),
    # merchant accounts: accounts:read to see, accounts:write to change or test
    *merchant_accounts.ROWS,
    # account pools: pools:read to see and simulate, pools:write to change
    *account_pools.ROWS,
    *payments.ROWS,
    *routing_decisions.ROWS,
    # rule lint: routing:read
    *rule_lint.ROWS,
    *rule_tools.ROWS,
    # routing rules: routing:read to see, routing:write to change
    *routing_rules.ROWS,
    *integrations.ROWS,
    # customers, products and orders: customers:read, customers:write, customers:delete
    *commerce.ROWS,
    # webhook endpoints and their deliveries: settings:read to see, settings:write to change
    *webhooks.ROWS,
    *disputes.ROWS,
    # the caller's own login: any authenticated user
    Endpoint("GET", "/auth/me", None),
    Endpoint("POST", "/auth/logout", None, ok=204),
]

# Reachable without a token, on purpose.
PUBLIC: set[tuple[str, str]] = {
    ("POST", f"{API}/auth/login"),
    ("POST", f"{API}/auth/refresh"),
    ("POST", f"{API}/auth/accept-invite"),
    ("GET", f"{API}/openapi.json"),
    ("POST", f"{API}/gateway-webhooks/stripe/{{account_id}}"),
}

ROUTES: dict[tuple[str, str], Endpoint] = {
    (e.method, e.path): e for e in ENDPOINTS if not e.variant
}


def api_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves under /api/v1, included routers flattened."""
    found = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if not path.startswith(API):
            continue
        methods = context.methods or {"*"}  # a mount: it must be listed explicitly too
        found |= {(method, path) for method in methods if method != "HEAD"}
    return found


async def foundation_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """An API key and a card of brand A1, made through the API, and the key's audit entry."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    created = await client.post(
        f"{API}/api-keys",
        json={"company_id": world.a.company.id, "name": "Shop", "permissions": ["settings:read"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    entries = await client.get(
        f"{API}/admin/audit-logs", params={"resource_id": key_id}, headers=headers
    )
    [entry] = entries.json()["data"]
    card = await client.post(
        f"{API}/payment-methods", json=card_body(world.a.company.id), headers=headers
    )
    assert card.status_code == 201, card.text
    return {"api_key": key_id, "audit_log": entry["id"], "payment_method": card.json()["id"]}


# Each domain adds the in-scope objects its rows aim at: (client, world) -> {kind: id}.
SCENE_MAKERS: list[Callable[[httpx.AsyncClient, World], Awaitable[dict[str, str]]]] = [
    foundation_objects,
    commerce.make_objects,
    payments.make_objects,  # first: its account is the oldest, so the one payments use
    merchant_accounts.make_objects,
    integrations.make_objects,
    webhooks.make_objects,
    disputes.make_objects,
    routing_decisions.make_objects,
    routing_rules.make_objects,
    account_pools.make_objects,  # last: its accounts are not the ones payments use
]


class _Probe:
    """Stands in for a Scene to learn which objects a row's URL and body aim at."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def target(self, kind: str) -> str:
        self.asked.add(kind)
        return f"{kind}_probe"


def kinds_needed(endpoint: Endpoint) -> set[str] | None:
    """The kinds of object `endpoint` aims at; None when its body needs a full scene."""
    probe: Any = _Probe()
    try:
        endpoint.url(probe)
        if endpoint.body is not None:
            endpoint.body(probe)
    except AttributeError:
        return None
    named = {kind for kind in (endpoint.target, *endpoint.more, *endpoint.needs) if kind}
    return probe.asked | named


@pytest.fixture
async def scene(client: httpx.AsyncClient, world: World, request: pytest.FixtureRequest) -> Scene:
    """The world plus the objects this test's row aims at: makers run in order only until
    they are all there (every maker runs for a row that cannot say)."""
    endpoint = getattr(request.node, "callspec", None) and request.node.callspec.params.get(
        "endpoint"
    )
    wanted = kinds_needed(endpoint) if isinstance(endpoint, Endpoint) else None
    scene = Scene(world, {})
    for make in SCENE_MAKERS:
        if wanted is not None and not _missing(scene, wanted):
            break
        scene.made.update(await make(client, world))
    return scene


def _missing(scene: Scene, kinds: set[str]) -> set[str]:
    missing = set()
    for kind in kinds:
        try:
            scene.target(kind)
        except KeyError:
            missing.add(kind)
    return missing


def test_every_api_route_is_in_the_matrix(app: Any) -> None:
    served = api_routes(app)
    listed = {(e.method, f"{API}{e.path}") for e in ENDPOINTS}
    assert not PUBLIC & listed, "a public route cannot also be in the matrix"
    assert sorted(served - listed - PUBLIC) == [], "routes with no row in the access matrix"
    assert sorted((listed | PUBLIC) - served) == [], "matrix rows for routes that do not exist"


def test_the_matrix_denies_and_allows_something_for_every_role() -> None:
    """Guards the table itself: no role is allowed everything or nothing by accident."""
    for role in Role:
        outcomes = {for_role(e, role) for e in ENDPOINTS}
        assert any(code < 300 for code in outcomes), role
        if role is not Role.ORGANIZATION_ADMIN:
            assert 403 in outcomes, role


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.label)
async def test_role_gets_what_the_permission_table_says(
    client: httpx.AsyncClient, scene: Scene, endpoint: Endpoint, role: Role
) -> None:
    response = await client.request(
        endpoint.method,
        endpoint.url(scene),
        json=endpoint.body(scene) if endpoint.body else None,
        headers=scene.world.headers(role),
    )
    want = for_role(endpoint, role)
    assert response.status_code == want, response.text
    if want >= 300:
        assert response.json()["error"]["code"] in ("permission_denied", "resource_missing")
        return
    if want == 204:
        return
    body = response.json()
    if endpoint.is_list:
        ids = [item["id"] for item in body["data"]]
        in_scope = ROLE_LEVEL[role] <= endpoint.seen_from
        assert (scene.target(endpoint.target) in ids) is in_scope, ids
    elif endpoint.target is not None and endpoint.echoes is not None:
        assert body[endpoint.echoes] == scene.target(endpoint.target)


@pytest.mark.parametrize(
    "credentials",
    [None, "Bearer not-a-token", "Bearer sk_test_unknownkey0000000000000000", "Basic b64"],
    ids=["none", "garbage", "unknown-key", "wrong-scheme"],
)
async def test_no_valid_token_is_401_on_every_private_route(
    client: httpx.AsyncClient, credentials: str | None
) -> None:
    headers = {"Authorization": credentials} if credentials else {}
    wrong = []
    for method, path in sorted(ROUTES):
        url = API + path.replace("{", "").replace("}", "")  # any id: auth comes first
        response = await client.request(method, url, headers=headers)
        if response.status_code != 401 or response.json()["error"]["type"] != (
            "authentication_error"
        ):
            wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []


async def test_public_routes_answer_without_a_token(client: httpx.AsyncClient) -> None:
    for method, url in sorted(PUBLIC):
        response = await client.request(method, url, json={} if method == "POST" else None)
        assert response.status_code != 401, (method, url)
