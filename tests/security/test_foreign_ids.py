"""Every id a request names is checked against the caller's tenancy (issue 21): each create and
update operation that takes an id is sent, by agency A's admin, with the id of agency B's
object in that field, and must be refused with a 4xx in the error shape, changing nothing.

The walk is a table: one row per (operation, field), the body otherwise valid for agency A, so a
refusal can only come from the foreign id. `test_the_walk_covers_every_id_field` fails when an
operation grows an id field the table does not send foreign."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from avnz.db.base import Base
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.commerce.factories import create, customer_body, order_body, product_body
from tests.factories import World
from tests.routing.factories import account_body, create_account
from tests.rules.support import BLOCK, GERMANY, create_pool, create_rule
from tests.support.payments import API, card, payment_body

Ids = dict[str, str]


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # formatted with agency A's ids
    field: str
    body: Callable[[Ids], dict[str, Any]]  # agency A's valid body, from A's ids
    foreign: str  # the key of B's object in the ids
    role: Role = Role.CLIENT_ADMIN

    @property
    def name(self) -> str:
        return f"{self.method} {self.path} {self.field}"


DISPUTES_HEADER = "provider,dispute_id,transaction_id,status,amount,currency\n"


def _rule(ids: Ids) -> dict[str, Any]:
    return {"company_id": ids["company"], "name": "R", "conditions": [GERMANY], "actions": [BLOCK]}


def _route(pool: str) -> dict[str, Any]:
    return {"type": "route_to_pool", "pool_id": pool}


CASES = [
    Case(
        "POST",
        "/api-keys",
        "company_id",
        lambda a: {"company_id": a["company"], "name": "K", "permissions": ["transactions:read"]},
        "company",
    ),
    Case(
        "POST",
        "/companies",
        "client_id",
        lambda a: {"client_id": a["client"], "name": "Brand"},
        "client",
    ),
    Case(
        "POST",
        "/departments",
        "company_id",
        lambda a: {"company_id": a["company"], "name": "Ops"},
        "company",
    ),
    Case(
        "POST",
        "/users/invite",
        "company_id",
        lambda a: {
            "email": "x@example.com",
            "name": "X",
            "role": "COMPANY_USER",
            "company_id": a["company"],
        },
        "company",
    ),
    Case(
        "POST",
        "/users/invite",
        "department_id",
        lambda a: {
            "email": "y@example.com",
            "name": "Y",
            "role": "COMPANY_USER",
            "company_id": a["company"],
            "department_id": a["department"],
        },
        "department",
    ),
    Case(
        "PATCH",
        "/users/{user}",
        "department_id",
        lambda a: {"department_id": a["department"]},
        "department",
    ),
    Case(
        "POST",
        "/payment-methods",
        "company_id",
        lambda a: {"company_id": a["company"], "card": card()},
        "company",
    ),
    Case(
        "POST",
        "/payment-methods",
        "customer_id",
        lambda a: {"company_id": a["company"], "customer_id": a["customer"], "card": card()},
        "customer",
    ),
    Case(
        "POST",
        "/payments",
        "company_id",
        lambda a: payment_body(company_id=a["company"]),
        "company",
    ),
    Case(
        "POST",
        "/payments",
        "customer_id",
        lambda a: payment_body(company_id=a["company"], customer_id=a["customer"]),
        "customer",
    ),
    Case(
        "POST",
        "/payments",
        "order_id",
        lambda a: {"company_id": a["company"], "order_id": a["order"], "card": card()},
        "order",
    ),
    Case(
        "POST",
        "/payments",
        "payment_method_id",
        lambda a: {
            "company_id": a["company"],
            "amount": 1999,
            "currency": "USD",
            "payment_method_id": a["payment_method"],
        },
        "payment_method",
    ),
    Case(
        "POST",
        "/payments",
        "merchant_account_id",
        lambda a: payment_body(company_id=a["company"], merchant_account_id=a["account"]),
        "account",
    ),
    Case(
        "POST",
        "/customers",
        "company_id",
        lambda a: customer_body(a["company"], email="new@example.com"),
        "company",
    ),
    Case(
        "POST",
        "/products",
        "company_id",
        lambda a: product_body(a["company"], sku="NEW-1"),
        "company",
    ),
    Case(
        "POST",
        "/orders",
        "company_id",
        lambda a: {**order_body(a["customer"]), "company_id": a["company"]},
        "company",
    ),
    Case(
        "POST",
        "/orders",
        "customer_id",
        lambda a: {**order_body(a["customer"]), "company_id": a["company"]},
        "customer",
    ),
    Case(
        "POST", "/merchant-accounts", "company_id", lambda a: account_body(a["company"]), "company"
    ),
    Case(
        "POST",
        "/account-pools",
        "company_id",
        lambda a: {"company_id": a["company"], "name": "P"},
        "company",
    ),
    Case(
        "POST",
        "/account-pools/{pool}/accounts",
        "merchant_account_id",
        lambda a: {"merchant_account_id": a["account"]},
        "account",
    ),
    Case("POST", "/routing-rules", "company_id", _rule, "company"),
    Case(
        "POST",
        "/routing-rules",
        "actions.0.pool_id",
        lambda a: {**_rule(a), "actions": [_route(a["pool"])]},
        "pool",
    ),
    Case(
        "POST",
        "/routing-rules/reorder",
        "company_id",
        lambda a: {"company_id": a["company"], "rule_ids": [a["rule"]]},
        "company",
    ),
    Case(
        "POST",
        "/routing-rules/reorder",
        "rule_ids.0",
        lambda a: {"company_id": a["company"], "rule_ids": [a["rule"]]},
        "rule",
    ),
    Case(
        "POST",
        "/routing-rules/test",
        "company_id",
        lambda a: {"company_id": a["company"], "transaction": {"amount": 1000, "currency": "USD"}},
        "company",
    ),
    Case(
        "POST",
        "/routing-rules/simulate",
        "company_id",
        lambda a: {
            "company_id": a["company"],
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-02-01T00:00:00Z",
        },
        "company",
    ),
    Case(
        "POST",
        "/disputes/import",
        "company_id",
        lambda a: {"company_id": a["company"], "csv": DISPUTES_HEADER},
        "company",
    ),
    Case(
        "POST",
        "/webhook-endpoints",
        "company_id",
        lambda a: {
            "company_id": a["company"],
            "url": "https://hooks.example.com/a",
            "events": ["payment.succeeded"],
        },
        "company",
    ),
]
# Fields that name no object of a tenant (a gateway's own merchant id, an external reference)
# or operations whose foreign-id check lives in their own tests (integrations' credentials).
NOT_TENANT_IDS = {
    ("PATCH", "/users/{user_id}", "auth0_id"),
    ("POST", "/customers", "external_id"),
    ("PATCH", "/customers/{customer_id}", "external_id"),
    ("POST", "/merchant-accounts", "merchant_id"),
    ("PATCH", "/merchant-accounts/{account_id}", "merchant_id"),
    ("POST", "/users/invite", "client_id"),  # the company names the client (company_id below)
}
OWN_TESTS = {"/integrations"}


async def _objects(client: httpx.AsyncClient, world: World, agency: str) -> Ids:
    """One object of each kind in `agency`'s first brand, made by its admins."""
    side = world.a if agency == "a" else world.b
    headers = world.headers(Role.COMPANY_ADMIN, agency=agency)
    company = side.company.id
    customer = await create(client, "/customers", customer_body(company), headers)
    order = await create(client, "/orders", order_body(customer["id"]), headers)
    method = await create(
        client, "/payment-methods", {"company_id": company, "card": card()}, headers
    )
    account = await create_account(client, headers, company)
    pool = await create_pool(client, headers, [], company_id=company)
    rule = await create_rule(
        client, headers, company_id=company, name=f"Rule {agency}", conditions=[GERMANY]
    )
    return {
        "client": side.client.id,
        "company": company,
        "department": side.department.id,
        "user": side.users[Role.COMPANY_USER].id,
        "customer": customer["id"],
        "order": order["id"],
        "payment_method": method["id"],
        "account": account["id"],
        "pool": pool["id"],
        "rule": rule["id"],
    }


def _put(body: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    """`body` with the (dotted) `field` set to `value`."""
    *parents, last = field.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return body


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
            if table.name not in {"audit_logs", "job_runs", "idempotency_keys"}
        }


@pytest.fixture
async def ids(client: httpx.AsyncClient, world: World) -> dict[str, Ids]:
    return {"a": await _objects(client, world, "a"), "b": await _objects(client, world, "b")}


async def test_another_agencys_ids_are_refused_everywhere(
    client: httpx.AsyncClient, world: World, runtime: Runtime, ids: dict[str, Ids]
) -> None:
    mine, theirs = ids["a"], ids["b"]
    accepted = []
    for case in CASES:
        # The body is valid for A: sent with A's own ids it would be accepted (checked below).
        body = _put(case.body(mine), case.field, theirs[case.foreign])
        before = await _counts(runtime)
        response = await client.request(
            case.method,
            f"{API}{case.path.format(**mine)}",
            json=body,
            headers=world.headers(case.role),
        )
        if not 400 <= response.status_code < 500 or "error" not in response.json():
            accepted.append(f"{case.name}: {response.status_code} {response.text[:200]}")
        elif (after := await _counts(runtime)) != before:
            changed = {t for t in after if after[t] != before[t]}
            accepted.append(f"{case.name}: refused but changed {sorted(changed)}")
    assert not accepted, "\n".join(accepted)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_each_body_is_valid_with_the_callers_own_ids(
    client: httpx.AsyncClient, world: World, ids: dict[str, Ids], case: Case
) -> None:
    """The control: the walk's refusals are the foreign id's doing, not a bad body."""
    response = await client.request(
        case.method,
        f"{API}{case.path.format(**ids['a'])}",
        json=case.body(ids["a"]),
        headers=world.headers(case.role),
    )
    assert response.status_code < 300, response.text


def test_the_walk_covers_every_id_field(app_spec: dict[str, Any]) -> None:
    walked = {(c.method, c.path.split("/{")[0], c.field.split(".")[0]) for c in CASES}
    missing = []
    for path, operations in app_spec["paths"].items():
        short = path.removeprefix(API)
        for method, operation in operations.items():
            if method not in ("post", "patch", "put") or short in OWN_TESTS:
                continue
            for field in _id_fields(app_spec, operation):
                key = (method.upper(), short, field)
                walked_key = (method.upper(), short.split("/{")[0], field)
                if key not in NOT_TENANT_IDS and walked_key not in walked:
                    missing.append(key)
    assert not missing, missing


def _id_fields(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    schemas = spec["components"]["schemas"]

    def properties(schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return properties(schemas[schema["$ref"].rsplit("/", 1)[1]])
        found = dict(schema.get("properties", {}))
        for part in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
            found |= properties(part)
        return found

    content = operation.get("requestBody", {}).get("content", {})
    return {
        name
        for media in content.values()
        for name in properties(media["schema"])
        if name.endswith(("_id", "_ids"))
    }


@pytest.fixture
def app_spec(client: httpx.AsyncClient) -> dict[str, Any]:
    app = client._transport.app  # type: ignore[attr-defined]
    spec: dict[str, Any] = app.openapi()
    return spec
