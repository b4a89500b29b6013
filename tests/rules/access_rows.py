"""The access-matrix rows of `/routing-rules` (CRUD, reorder, toggle, duplicate, analytics,
versions) and the in-scope rule they aim at.

routing:read sees rules, their versions and analytics (every role has it); routing:write
changes them. The rule lives in brand A1 and is the brand's only rule, so a reorder that lists
it alone is complete."""

import httpx

from avnz.tenancy.models import Role
from tests.factories import World
from tests.tenancy.matrix import API, Endpoint, P

RULE = "routing_rule"
BLOCK = {"type": "block", "reason": "Matrix"}
ROWS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/routing-rules",
        P.ROUTING_WRITE,
        body=lambda s: {"company_id": s.target("company"), "name": "New", "actions": [BLOCK]},
        ok=201,
    ),
    Endpoint("GET", "/routing-rules", P.ROUTING_READ, RULE),
    Endpoint("GET", "/routing-rules/{rule_id}", P.ROUTING_READ, RULE),
    Endpoint(
        "PATCH", "/routing-rules/{rule_id}", P.ROUTING_WRITE, RULE, lambda _: {"name": "Renamed"}
    ),
    Endpoint("DELETE", "/routing-rules/{rule_id}", P.ROUTING_WRITE, RULE),
    Endpoint(
        "POST",
        "/routing-rules/reorder",
        P.ROUTING_WRITE,
        body=lambda s: {"company_id": s.target("company"), "rule_ids": [s.target(RULE)]},
        needs=(RULE,),
    ),
    Endpoint("POST", "/routing-rules/{rule_id}/toggle", P.ROUTING_WRITE, RULE),
    Endpoint(
        "POST", "/routing-rules/{rule_id}/duplicate", P.ROUTING_WRITE, RULE, ok=201, echoes=None
    ),
    Endpoint("GET", "/routing-rules/{rule_id}/analytics", P.ROUTING_READ, RULE, echoes="rule_id"),
    Endpoint("GET", "/routing-rules/{rule_id}/versions", P.ROUTING_READ, RULE, echoes=None),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """One rule of brand A1."""
    created = await client.post(
        f"{API}/routing-rules",
        json={"company_id": world.a.company.id, "name": "Matrix rule", "actions": [BLOCK]},
        headers=world.headers(Role.ORGANIZATION_ADMIN),
    )
    assert created.status_code == 201, created.text
    return {RULE: created.json()["id"]}
