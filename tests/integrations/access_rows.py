"""The access-matrix rows of the integration routes and the in-scope objects they aim at.

Platform integrations (`/admin/integrations/...`) belong to the organization: settings:read or
settings:write, and organization level (anyone else gets 403). Client integrations
(`/integrations/...`) need settings:read or settings:write at client level or above; a company
user gets 403 even with the permission. The client integration lives in agency A."""

import httpx

from avnz.auth.permissions import Level
from tests.factories import World
from tests.integrations.factories import (
    create_client_integration,
    create_platform,
    org_admin,
    own_body,
    platform_body,
)
from tests.tenancy.matrix import CLIENT, Endpoint, P

ORGANIZATION = Level.ORGANIZATION
PINT, CINT = "platform_integration", "client_integration"
PLATFORM_ITEM = "/admin/integrations/platform/{integration_id}"
CLIENT_ITEM = "/integrations/{integration_id}"

ROWS: list[Endpoint] = [
    Endpoint("GET", "/admin/integrations/definitions", P.SETTINGS_READ, min_level=ORGANIZATION),
    Endpoint("GET", "/admin/integrations/platform", P.SETTINGS_READ, PINT, min_level=ORGANIZATION),
    Endpoint(
        "POST",
        "/admin/integrations/platform",
        P.SETTINGS_WRITE,
        body=lambda _: platform_body("SENTRY"),
        ok=201,
        min_level=ORGANIZATION,
    ),
    Endpoint("GET", PLATFORM_ITEM, P.SETTINGS_READ, PINT, min_level=ORGANIZATION),
    Endpoint(
        "PATCH",
        PLATFORM_ITEM,
        P.SETTINGS_WRITE,
        PINT,
        lambda _: {"name": "Renamed"},
        min_level=ORGANIZATION,
    ),
    Endpoint("DELETE", PLATFORM_ITEM, P.SETTINGS_WRITE, PINT, min_level=ORGANIZATION),
    Endpoint(
        "POST",
        PLATFORM_ITEM + "/test",
        P.SETTINGS_WRITE,
        PINT,
        min_level=ORGANIZATION,
        echoes=None,
    ),
    Endpoint(
        "PATCH",
        PLATFORM_ITEM + "/sharing",
        P.SETTINGS_WRITE,
        PINT,
        lambda _: {"is_shared_with_clients": True, "client_pricing": {"percent": "0.75"}},
        min_level=ORGANIZATION,
    ),
    Endpoint("GET", "/integrations/available", P.SETTINGS_READ, min_level=CLIENT),
    Endpoint("GET", "/integrations", P.SETTINGS_READ, CINT, min_level=CLIENT),
    Endpoint(
        "POST",
        "/integrations",
        P.SETTINGS_WRITE,
        body=lambda s: own_body(client_id=s.target("client"), name="Second AI"),
        ok=201,
        min_level=CLIENT,
    ),
    Endpoint("GET", CLIENT_ITEM, P.SETTINGS_READ, CINT, min_level=CLIENT),
    Endpoint(
        "PATCH", CLIENT_ITEM, P.SETTINGS_WRITE, CINT, lambda _: {"priority": 5}, min_level=CLIENT
    ),
    Endpoint("DELETE", CLIENT_ITEM, P.SETTINGS_WRITE, CINT, min_level=CLIENT),
    Endpoint("POST", CLIENT_ITEM + "/test", P.SETTINGS_WRITE, CINT, min_level=CLIENT, echoes=None),
    Endpoint("PATCH", CLIENT_ITEM + "/default", P.SETTINGS_WRITE, CINT, min_level=CLIENT),
    Endpoint(
        "GET",
        CLIENT_ITEM + "/usage",
        P.SETTINGS_READ,
        CINT,
        min_level=CLIENT,
        echoes="client_integration_id",
    ),
]


async def make_objects(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    """A platform integration offered to clients, and an own-mode integration of agency A."""
    platform = await create_platform(client, world, "TWILIO", is_shared_with_clients=True)
    own = await create_client_integration(
        client, org_admin(world), own_body(client_id=world.a.client.id)
    )
    return {PINT: platform["id"], CINT: own["id"]}
