"""The access-matrix rows of `/webhook-endpoints` and `/webhook-deliveries`, and the in-scope
endpoint and delivery they aim at.

settings:read sees endpoints and their delivery log (every role has it); settings:write creates,
changes, deletes, rotates, tests and resends (organization, client and company admins). The
endpoint lives in brand A1, so every level can hold it in scope."""

import httpx

from avnz.tenancy.models import Role
from tests.factories import World
from tests.tenancy.matrix import Endpoint, P
from tests.webhooks.factories import API, create_endpoint, endpoint_body

ENDPOINT, DELIVERY = "webhook_endpoint", "webhook_delivery"
ROWS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/webhook-endpoints",
        P.SETTINGS_WRITE,
        body=lambda s: endpoint_body(s.target("company")),
        ok=201,
    ),
    Endpoint("GET", "/webhook-endpoints", P.SETTINGS_READ, ENDPOINT),
    Endpoint("GET", "/webhook-endpoints/{endpoint_id}", P.SETTINGS_READ, ENDPOINT),
    Endpoint(
        "PATCH",
        "/webhook-endpoints/{endpoint_id}",
        P.SETTINGS_WRITE,
        ENDPOINT,
        lambda _: {"events": ["payment.*"], "enabled": False},
    ),
    Endpoint("DELETE", "/webhook-endpoints/{endpoint_id}", P.SETTINGS_WRITE, ENDPOINT),
    Endpoint("POST", "/webhook-endpoints/{endpoint_id}/rotate-secret", P.SETTINGS_WRITE, ENDPOINT),
    Endpoint(
        "POST",
        "/webhook-endpoints/{endpoint_id}/test",
        P.SETTINGS_WRITE,
        ENDPOINT,
        ok=202,
        echoes="endpoint_id",
    ),
    Endpoint(
        "GET",
        "/webhook-endpoints/{endpoint_id}/deliveries",
        P.SETTINGS_READ,
        ENDPOINT,
        echoes=None,
    ),
    Endpoint(
        "POST",
        "/webhook-deliveries/{delivery_id}/resend",
        P.SETTINGS_WRITE,
        DELIVERY,
        ok=202,
        echoes="resend_of",
    ),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A webhook endpoint of brand A1 and a (test) delivery to it, made through the API."""
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    endpoint = await create_endpoint(client, headers, world.a.company.id)
    test = await client.post(f"{API}/{endpoint['id']}/test", headers=headers)
    assert test.status_code == 202, test.text
    return {ENDPOINT: endpoint["id"], DELIVERY: test.json()["id"]}
