"""Tenant isolation: rows of another agency, brand or organization are invisible and untouchable.

Each case pairs a scenario (whose rows are foreign) with an attacker. The attacker's lists never
contain a foreign row; every request aimed at a foreign row (in the path, or as a parent id in the
body) answers exactly as it would for an id that does not exist (same status, same error code):
404 wherever the access matrix does not deny the attacker the action outright; where it does (a
permission or level check that runs before any lookup), the same 403 a missing id gets, which
reveals nothing. Afterwards the rows' owner re-reads them and finds nothing changed.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from avnz.auth.permissions import ROLE_LEVEL, ROLE_PERMISSIONS, Level, Permission
from avnz.core.ids import new_id
from avnz.runtime import Runtime
from avnz.tenancy.models import Client, Company, Department, Organization, Role
from tests.factories import World, add_user, issue_token
from tests.tenancy.matrix import API, expected
from tests.tenancy.test_access_matrix import ENDPOINTS, ROUTES, card_body

API_KEY = "API_KEY"  # an attacker that is a company API key rather than a user
AGENCY_ROLES = (Role.CLIENT_ADMIN, Role.CLIENT_USER, Role.COMPANY_ADMIN, Role.COMPANY_USER)
FOREIGN = "<foreign id>"  # stands for the foreign row's id in an attack's body
MISSING = "zz_missing_0000000000"  # an id no row has: what a foreign id must look like


@dataclass
class Foreign:
    """Rows an attacker must never see or touch, marked by one hierarchy column."""

    scope_field: str  # organization_id, client_id or company_id
    scope_id: str
    owner: dict[str, str]  # headers of the organization admin who may read these rows
    ids: dict[str, list[str]] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)

    def all_ids(self) -> set[str]:
        return {row_id for ids in self.ids.values() for row_id in ids}

    def owns(self, item: dict[str, Any]) -> bool:
        return item["id"] in self.all_ids() or item.get(self.scope_field) == self.scope_id


@dataclass(frozen=True)
class Attacker:
    name: str
    headers: dict[str, str]
    permissions: frozenset[Permission]
    level: Level


# --- the foreign rows of each scenario -------------------------------------------------------


async def _create_key(client: httpx.AsyncClient, headers: dict[str, str], company_id: str) -> str:
    response = await client.post(
        f"{API}/api-keys",
        json={"company_id": company_id, "name": "Shop", "permissions": ["settings:read"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _create_card(client: httpx.AsyncClient, headers: dict[str, str], company_id: str) -> str:
    response = await client.post(
        f"{API}/payment-methods", json=card_body(company_id), headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _audit_ids(client: httpx.AsyncClient, foreign: Foreign) -> list[str]:
    response = await client.get(f"{API}/admin/audit-logs?limit=100", headers=foreign.owner)
    assert response.status_code == 200 and not response.json()["has_more"]
    ids = [e["id"] for e in response.json()["data"] if e[foreign.scope_field] == foreign.scope_id]
    assert ids, "the scenario should have left audit entries"
    return ids


async def other_agency(client: httpx.AsyncClient, world: World, runtime: Runtime) -> Foreign:
    """Agency B as a whole, seen from agency A."""
    b = world.b
    owner = world.headers(Role.ORGANIZATION_ADMIN)
    foreign = Foreign("client_id", b.client.id, owner)
    key_id = await _create_key(client, world.headers(Role.CLIENT_ADMIN, "b"), b.company.id)
    patched = await client.patch(
        f"{API}/clients/{b.client.id}", json={"metadata": {"tier": "gold"}}, headers=owner
    )
    assert patched.status_code == 200  # a client-level audit entry (no company)
    foreign.ids = {
        "client": [b.client.id],
        "company": [b.company.id, b.other_company.id],
        "department": [b.department.id],
        "user": [user.id for user in b.users.values()],
        "api_key": [key_id],
        "payment_method": [await _create_card(client, owner, b.company.id)],
    }
    foreign.ids["audit_log"] = await _audit_ids(client, foreign)
    foreign.emails = [user.email for user in b.users.values()]
    return foreign


async def other_company(client: httpx.AsyncClient, world: World, runtime: Runtime) -> Foreign:
    """Brand A2, seen from brand A1 of the same agency."""
    other = world.a.other_company
    maker = world.headers(Role.CLIENT_ADMIN)
    foreign = Foreign("company_id", other.id, world.headers(Role.ORGANIZATION_ADMIN))
    department = await client.post(
        f"{API}/departments", json={"company_id": other.id, "name": "Ops A2"}, headers=maker
    )
    invited = await client.post(
        f"{API}/users/invite",
        json={
            "email": "admin@a2.example.com",
            "name": "A2 admin",
            "role": "COMPANY_ADMIN",
            "company_id": other.id,
        },
        headers=maker,
    )
    assert department.status_code == invited.status_code == 201
    foreign.ids = {
        "company": [other.id],
        "department": [department.json()["id"]],
        "user": [invited.json()["user"]["id"]],
        "api_key": [await _create_key(client, maker, other.id)],
        "payment_method": [await _create_card(client, maker, other.id)],
    }
    foreign.ids["audit_log"] = await _audit_ids(client, foreign)
    foreign.emails = ["admin@a2.example.com"]
    return foreign


async def other_organization(client: httpx.AsyncClient, world: World, runtime: Runtime) -> Foreign:
    """A second organization with its own hierarchy, seen from the world's organization."""
    async with runtime.sessions.begin() as session:
        organization = Organization(id=new_id("org"), name="Elsewhere", slug="elsewhere")
        session.add(organization)
        await session.flush()
        agency = Client(
            id=new_id("cli"), organization_id=organization.id, name="Agency Z", slug="agency-z"
        )
        session.add(agency)
        await session.flush()
        brand = Company(
            id=new_id("com"),
            organization_id=organization.id,
            client_id=agency.id,
            name="Brand Z",
            slug="brand-z",
        )
        session.add(brand)
        await session.flush()
        department = Department(
            id=new_id("dep"),
            organization_id=organization.id,
            client_id=agency.id,
            company_id=brand.id,
            name="Ops Z",
        )
        session.add(department)
        admin = add_user(
            session, organization=organization, role=Role.ORGANIZATION_ADMIN, email="z@z.example"
        )
        agent = add_user(
            session,
            organization=organization,
            role=Role.CLIENT_ADMIN,
            email="agent@z.example",
            client=agency,
        )
        await session.flush()
        token = issue_token(session, runtime, admin)
    owner = {"Authorization": f"Bearer {token}"}
    foreign = Foreign("organization_id", organization.id, owner)
    patched = await client.patch(
        f"{API}/organizations/{organization.id}", json={"name": "Elsewhere Inc"}, headers=owner
    )
    assert patched.status_code == 200  # an organization-level audit entry (no client)
    foreign.ids = {
        "organization": [organization.id],
        "client": [agency.id],
        "company": [brand.id],
        "department": [department.id],
        "user": [admin.id, agent.id],
        "api_key": [await _create_key(client, owner, brand.id)],
        "payment_method": [await _create_card(client, owner, brand.id)],
    }
    foreign.ids["audit_log"] = await _audit_ids(client, foreign)
    foreign.emails = [admin.email, agent.email]
    return foreign


Scenario = Callable[[httpx.AsyncClient, World, Runtime], Awaitable[Foreign]]
SCENARIOS: dict[str, Scenario] = {
    "other_agency": other_agency,
    "other_company": other_company,
    "other_organization": other_organization,
}

CASES = [
    *(("other_agency", who) for who in (*AGENCY_ROLES, API_KEY)),
    *(("other_company", who) for who in (Role.COMPANY_ADMIN, Role.COMPANY_USER, API_KEY)),
    *(("other_organization", who) for who in (*Role, API_KEY)),
]


async def make_attacker(client: httpx.AsyncClient, world: World, who: str) -> Attacker:
    """A user of agency A (brand A1 for company roles), or an API key of brand A1."""
    if who != API_KEY:
        role = Role(who)
        return Attacker(who, world.headers(role), ROLE_PERMISSIONS[role], ROLE_LEVEL[role])
    permissions = ROLE_PERMISSIONS[Role.COMPANY_ADMIN]
    response = await client.post(
        f"{API}/api-keys",
        json={
            "company_id": world.a.company.id,
            "name": "Attacker",
            "permissions": sorted(p.value for p in permissions),
        },
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert response.status_code == 201, response.text
    headers = {"Authorization": f"Bearer {response.json()['secret']}"}
    return Attacker(who, headers, permissions, Level.COMPANY)


# --- what is tried ---------------------------------------------------------------------------

# (list route, filter parameter, kind of foreign value given to it)
LISTS: list[tuple[str, str | None, str | None]] = [
    ("/organizations", None, None),
    ("/clients", None, None),
    ("/companies", None, None),
    ("/companies", "client_id", "client"),
    ("/departments", None, None),
    ("/departments", "company_id", "company"),
    ("/users", None, None),
    ("/users", "company_id", "company"),
    ("/users", "email", "email"),
    ("/api-keys", None, None),
    ("/api-keys", "company_id", "company"),
    ("/admin/audit-logs", None, None),
    ("/admin/audit-logs", "user_id", "user"),
    ("/admin/audit-logs", "resource_id", "company"),
    ("/admin/audit-logs", "resource_id", "api_key"),
    ("/payment-methods", None, None),
    ("/payment-methods", "company_id", "company"),
]


@dataclass(frozen=True)
class Attack:
    """A matrix row aimed at a foreign row: through the path, or through an id in the body."""

    row: str  # the access-matrix row (its label) this request is
    kind: str  # the kind of foreign row it aims at
    body: dict[str, Any] | None = None  # FOREIGN marks where the foreign id goes
    on_own: str | None = None  # the path names this own row; the foreign id is in the body


_TAKEN = {"name": "Taken over"}
ATTACKS: list[Attack] = [
    Attack("GET /organizations/{organization_id}", "organization"),
    Attack("PATCH /organizations/{organization_id}", "organization", _TAKEN),
    Attack("GET /clients/{client_id}", "client"),
    Attack("PATCH /clients/{client_id}", "client", _TAKEN),
    Attack("DELETE /clients/{client_id}", "client"),
    Attack("GET /companies/{company_id}", "company"),
    Attack("PATCH /companies/{company_id}", "company", _TAKEN),
    Attack("DELETE /companies/{company_id}", "company"),
    Attack("GET /departments/{department_id}", "department"),
    Attack("PATCH /departments/{department_id}", "department", _TAKEN),
    Attack("DELETE /departments/{department_id}", "department"),
    Attack("GET /users/{user_id}", "user"),
    Attack("PATCH /users/{user_id}", "user", _TAKEN),
    Attack("DELETE /users/{user_id}", "user"),
    Attack("GET /api-keys/{key_id}", "api_key"),
    Attack("DELETE /api-keys/{key_id}", "api_key"),
    Attack("GET /admin/audit-logs/{entry_id}", "audit_log"),
    Attack("GET /payment-methods/{method_id}", "payment_method"),
    Attack("DELETE /payment-methods/{method_id}", "payment_method"),
    # a foreign parent given to a create, or a foreign row linked to one's own
    Attack("POST /companies", "client", {"client_id": FOREIGN, "name": "Intruder"}),
    Attack("POST /departments", "company", {"company_id": FOREIGN, "name": "Intruder"}),
    Attack(
        "POST /users/invite",
        "company",
        {"email": "i@x.example.com", "name": "I", "role": "COMPANY_USER", "company_id": FOREIGN},
    ),
    Attack(
        "POST /users/invite (a client-level role)",
        "client",
        {"email": "i@x.example.com", "name": "I", "role": "CLIENT_USER", "client_id": FOREIGN},
    ),
    Attack(
        "POST /api-keys",
        "company",
        {"company_id": FOREIGN, "name": "Intruder", "permissions": ["settings:read"]},
    ),
    Attack("POST /payment-methods", "company", card_body(FOREIGN)),
    Attack("PATCH /users/{user_id}", "department", {"department_id": FOREIGN}, on_own="user"),
]
ROWS = {endpoint.label: endpoint for endpoint in ENDPOINTS}

# Where the owner reads one row of each kind again.
READ_PATHS = {
    "organization": "/organizations",
    "client": "/clients",
    "company": "/companies",
    "department": "/departments",
    "user": "/users",
    "api_key": "/api-keys",
    "audit_log": "/admin/audit-logs",
    "payment_method": "/payment-methods",
}


def _fill(value: Any, row_id: str) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, row_id) for k, v in value.items()}
    return row_id if value == FOREIGN else value


def _request_of(attack: Attack, row_id: str, world: World) -> tuple[str, str, Any]:
    endpoint = ROWS[attack.row]
    path = endpoint.path
    if "{" in path:
        own = {"user": world.a.users[Role.COMPANY_USER].id}
        head, _, _ = path.rpartition("/")
        path = f"{head}/{own[attack.on_own] if attack.on_own else row_id}"
    body = _fill(attack.body, row_id) if attack.body is not None else None
    return endpoint.method, f"{API}{path}", body


def _error(response: httpx.Response) -> tuple[int, str | None]:
    if response.status_code < 400:
        return response.status_code, None
    return response.status_code, response.json()["error"]["code"]


async def snapshot(client: httpx.AsyncClient, foreign: Foreign) -> dict[str, Any]:
    """The foreign rows as their owner reads them: one by one, and in every list."""
    seen: dict[str, Any] = {}
    for kind, ids in foreign.ids.items():
        for row_id in ids:
            response = await client.get(f"{API}{READ_PATHS[kind]}/{row_id}", headers=foreign.owner)
            assert response.status_code == 200, (kind, response.text)
            seen[f"{kind} {row_id}"] = response.json()
    for path in READ_PATHS.values():
        response = await client.get(f"{API}{path}?limit=100", headers=foreign.owner)
        assert response.status_code == 200 and not response.json()["has_more"]
        seen[path] = [item for item in response.json()["data"] if foreign.owns(item)]
    return seen


@pytest.mark.parametrize(("scenario", "who"), CASES, ids=[f"{s}-{w}" for s, w in CASES])
async def test_foreign_rows_are_invisible_and_untouchable(
    client: httpx.AsyncClient, world: World, runtime: Runtime, scenario: str, who: str
) -> None:
    foreign = await SCENARIOS[scenario](client, world, runtime)
    attacker = await make_attacker(client, world, who)
    before = await snapshot(client, foreign)
    failures: list[str] = []

    for path, param, kind in LISTS:
        values = foreign.emails if kind == "email" else foreign.ids.get(kind or "", [])
        if kind is not None and not values:
            continue
        params = {"limit": 100, **({param: values[0]} if param else {})}
        response = await client.get(f"{API}{path}", params=params, headers=attacker.headers)
        want = expected(ROUTES[("GET", path)], attacker.permissions, attacker.level)
        if response.status_code != want:
            failures.append(f"GET {path} {params}: {response.status_code}, want {want}")
            continue
        if want == 200:
            leaked = [item["id"] for item in response.json()["data"] if foreign.owns(item)]
            listed = [item["id"] for item in response.json()["data"]]
            if leaked or (param and listed):
                failures.append(f"GET {path} {params} lists {listed}")

    for attack in ATTACKS:
        own_answer = expected(ROWS[attack.row], attacker.permissions, attacker.level)
        for row_id in foreign.ids.get(attack.kind, []):
            method, url, body = _request_of(attack, row_id, world)
            response = await client.request(method, url, json=body, headers=attacker.headers)
            probe_method, probe_url, probe_body = _request_of(attack, MISSING, world)
            probe = await client.request(
                probe_method, probe_url, json=probe_body, headers=attacker.headers
            )
            got, like_missing = _error(response), _error(probe)
            want = 404 if own_answer != 403 else like_missing[0]
            if got != like_missing or got[0] != want or want not in (403, 404):
                failures.append(
                    f"{attack.row} on {attack.kind} {row_id} {body or ''}: {got}, "
                    f"want {want} like a missing id {like_missing}"
                )

    assert failures == [], "\n".join(failures)
    assert await snapshot(client, foreign) == before


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ORGANIZATION_ADMIN], ids=str)
async def test_only_the_operator_reads_organizations(
    client: httpx.AsyncClient, world: World, role: Role
) -> None:
    """Client- and company-level users get no organization data: the routes need admin:system."""
    organization = world.organization
    for route in ("/organizations", "/organizations/{organization_id}"):
        url = API + route.replace("{organization_id}", organization.id)
        response = await client.get(url, headers=world.headers(role))
        want = expected(ROUTES[("GET", route)], ROLE_PERMISSIONS[role], ROLE_LEVEL[role])
        assert response.status_code == want == 403
        assert organization.id not in response.text
        assert organization.name not in response.text
