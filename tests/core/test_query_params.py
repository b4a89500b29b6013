"""Query parameters are checked before they reach SQL: integers are capped (a value past a
BIGINT is a 400, not a 500), and instants and days are ISO 8601 text, never numbers."""

from typing import Any

import httpx
import pytest

from avnz.app import create_app
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.security.helpers import API, assert_error

TOO_BIG = str(2**63)  # one past the largest BIGINT


@pytest.mark.parametrize("name", ["total_gte", "total_lte"])
@pytest.mark.parametrize("value", [TOO_BIG, str(10**30)])
async def test_an_order_total_past_any_total_is_a_400(
    client: httpx.AsyncClient, world: World, name: str, value: str
) -> None:
    response = await client.get(
        f"{API}/orders", params={name: value}, headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert_error(response, 400, "validation_failed", param=name)


async def test_the_largest_order_total_is_accepted(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(
        f"{API}/orders",
        params={"total_gte": 0, "total_lte": 10**18},
        headers=world.headers(Role.CLIENT_ADMIN),
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/orders", "created_lte"),
        ("/orders", "created_gte"),
        ("/payments", "created_lte"),
        ("/payments", "created_gte"),
        ("/admin/audit-logs", "since"),
        ("/account-pools/pool_x/stats", "created_from"),
        ("/routing-rules/rule_x/analytics", "until"),
    ],
)
@pytest.mark.parametrize("value", ["0.5", "1700000000", "-1", "1e9"])
async def test_a_number_is_not_a_date(
    client: httpx.AsyncClient, world: World, path: str, name: str, value: str
) -> None:
    response = await client.get(
        f"{API}{path}", params={name: value}, headers=world.headers(Role.ORGANIZATION_ADMIN)
    )
    error = assert_error(response, 400, "validation_failed", param=name)
    assert "ISO 8601" in error["message"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (
            "/orders",
            {"created_gte": "2026-01-01T00:00:00Z", "created_lte": "2026-12-31T00:00:00+02:00"},
        ),
        ("/payments", {"created_gte": "2026-01-01T00:00:00Z"}),
        ("/admin/audit-logs", {"since": "2026-01-01T00:00:00Z"}),
    ],
)
async def test_iso_dates_still_filter(
    client: httpx.AsyncClient, world: World, path: str, params: dict[str, Any]
) -> None:
    response = await client.get(
        f"{API}{path}", params=params, headers=world.headers(Role.ORGANIZATION_ADMIN)
    )
    assert response.status_code == 200, response.text


def _schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for option in schema.get("anyOf", [schema]) for s in _schemas_of(option)]


def _schemas_of(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return _schemas(schema) if "anyOf" in schema else [schema]


def test_every_integer_query_parameter_has_a_maximum(runtime: Runtime) -> None:
    """The general guard: an uncapped integer parameter is how a BIGINT overflow reaches SQL."""
    # An app of its own: the shared one would keep this document cached, and tests that
    # register plugins afterwards read the document again.
    spec = create_app(runtime=runtime).openapi()
    uncapped = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
        for schema in _schemas(parameter["schema"])
        if schema.get("type") == "integer" and "maximum" not in schema
    ]
    assert uncapped == []
