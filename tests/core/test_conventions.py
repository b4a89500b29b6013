"""The API's Stripe-like conventions, kept by every route: unknown parameters are a 400 naming
them, `Idempotency-Key` on every authenticated POST, `Allow` listing every method of a path,
`WWW-Authenticate` on every 401."""

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select

from avnz.commerce.models import Customer
from avnz.conventions import ApiRoute
from avnz.tenancy.models import Role
from tests.commerce.factories import customer_body
from tests.factories import World
from tests.security.helpers import API, assert_error

CUSTOMERS = f"{API}/customers"
PUBLIC_POSTS = {"/auth/login", "/auth/refresh", "/auth/accept-invite"}


# --- unknown parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/orders?created[gte]=2026-01-01T00:00:00Z", ["created[gte]"]),
        ("/customers?limit=5&sort=email&colour=red", ["sort", "colour"]),
        ("/payments?amount_min=5", ["amount_min"]),
        ("/customers/cus_missing?expand=all", ["expand"]),
    ],
)
async def test_an_unknown_query_parameter_is_a_400_naming_it(
    client: httpx.AsyncClient, world: World, path: str, unknown: list[str]
) -> None:
    response = await client.get(f"{API}{path}", headers=world.headers(Role.CLIENT_ADMIN))
    error = assert_error(response, 400, "parameter_unknown", param=unknown[0])
    assert all(name in error["message"] for name in unknown)


async def test_an_unknown_query_parameter_on_a_post_changes_nothing(
    client: httpx.AsyncClient, world: World, session
) -> None:
    response = await client.post(
        f"{CUSTOMERS}?dry_run=true",
        json=customer_body(None),
        headers=world.headers(Role.COMPANY_USER),
    )
    assert_error(response, 400, "parameter_unknown", param="dry_run")
    assert await session.scalar(select(func.count()).select_from(Customer)) == 0


async def test_declared_parameters_and_repeats_of_them_pass(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(
        f"{CUSTOMERS}?limit=5&limit=6&type=vip", headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert response.status_code == 200, response.text


async def test_unknown_body_fields_are_all_named(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        CUSTOMERS,
        json=customer_body(None, nickname="Ada", favourite="tea"),
        headers=world.headers(Role.COMPANY_USER),
    )
    error = assert_error(response, 400, "parameter_unknown", param="nickname")
    assert "nickname" in error["message"] and "favourite" in error["message"]


# --- Allow and WWW-Authenticate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/customers", "GET, POST"),
        ("/customers/cus_x", "GET, PATCH, DELETE"),
        ("/webhook-endpoints/we_x", "GET, PATCH, DELETE"),
    ],
)
async def test_405_lists_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, methods: str
) -> None:
    response = await client.put(f"{API}{path}")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == methods


@pytest.mark.parametrize(
    "token", ["not-a-jwt", "sk_test_unknownkey0000000000000000000000", "eyJhbGciOiJub25lIn0.e30."]
)
async def test_every_401_names_the_bearer_scheme(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(CUSTOMERS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


# --- Idempotency-Key on every POST -------------------------------------------------------------


def _keyed(world: World, key: str, role: Role = Role.COMPANY_USER) -> dict[str, str]:
    return {**world.headers(role), "Idempotency-Key": key}


async def test_a_repeated_create_with_its_key_gets_the_first_answer(
    client: httpx.AsyncClient, world: World, session
) -> None:
    body = customer_body(None)
    first = await client.post(CUSTOMERS, json=body, headers=_keyed(world, "cust-1"))
    again = await client.post(CUSTOMERS, json=body, headers=_keyed(world, "cust-1"))
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await session.scalar(select(func.count()).select_from(Customer)) == 1
    # Without the key, the same body is a new request: the email is taken.
    plain = await client.post(CUSTOMERS, json=body, headers=world.headers(Role.COMPANY_USER))
    assert plain.status_code == 409, plain.text


async def test_the_key_with_another_body_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, world: World, session
) -> None:
    await client.post(CUSTOMERS, json=customer_body(None), headers=_keyed(world, "cust-2"))
    other = customer_body(None, email="grace@example.com")
    response = await client.post(CUSTOMERS, json=other, headers=_keyed(world, "cust-2"))
    assert_error(response, 422, "idempotency_key_reused", param="Idempotency-Key")
    assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_a_refusal_is_replayed_and_validation_errors_are_not_stored(
    client: httpx.AsyncClient, world: World
) -> None:
    body = customer_body(None)
    await client.post(CUSTOMERS, json=body, headers=world.headers(Role.COMPANY_USER))
    taken = await client.post(CUSTOMERS, json=body, headers=_keyed(world, "cust-3"))
    replayed = await client.post(CUSTOMERS, json=body, headers=_keyed(world, "cust-3"))
    assert taken.status_code == replayed.status_code == 409
    assert replayed.json() == taken.json()
    # A request the route never ran (a validation error) stores nothing: the key stays free,
    # and the corrected request runs with it.
    broken = customer_body(None, email="not-an-email")
    refused = await client.post(CUSTOMERS, json=broken, headers=_keyed(world, "cust-4"))
    assert refused.status_code == 400
    fixed = customer_body(None, email="ok@example.com")
    created = await client.post(CUSTOMERS, json=fixed, headers=_keyed(world, "cust-4"))
    assert created.status_code == 201, created.text


async def test_keys_belong_to_their_caller(client: httpx.AsyncClient, world: World) -> None:
    body = customer_body(world.a.company.id)
    mine = await client.post(CUSTOMERS, json=body, headers=_keyed(world, "k", Role.CLIENT_ADMIN))
    theirs = await client.post(
        CUSTOMERS, json=body, headers=_keyed(world, "k", Role.ORGANIZATION_ADMIN)
    )
    assert mine.status_code == 201
    assert theirs.status_code == 409  # not a replay of the other caller's answer
    assert "idempotent-replayed" not in theirs.headers


async def test_an_answer_without_a_body_is_replayed(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = _keyed(world, "bye")
    first = await client.post(f"{API}/auth/logout", headers=headers)
    again = await client.post(f"{API}/auth/logout", headers=headers)
    assert first.status_code == 204, first.text
    # The session is over, so authenticating the retry fails before any replay.
    assert again.status_code == 401


async def test_a_bad_key_is_a_400_naming_the_header(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        CUSTOMERS, json=customer_body(None), headers=_keyed(world, "x" * 256)
    )
    assert_error(response, 400, "invalid_idempotency_key", param="Idempotency-Key")


async def test_public_routes_ignore_the_key(client: httpx.AsyncClient) -> None:
    body = {"email": "nobody@example.com", "password": "wrong password 1"}
    for _ in range(2):
        response = await client.post(
            f"{API}/auth/login", json=body, headers={"Idempotency-Key": "login-1"}
        )
        assert response.status_code == 401
        assert "idempotent-replayed" not in response.headers


def test_every_api_route_keeps_the_conventions(app) -> None:
    """Every API route is built by the route class, and every POST honours Idempotency-Key
    itself or through its work, except the public ones, which have no caller to scope it to."""
    routes = [
        context.original_route
        for context in iter_route_contexts(app.routes)
        if (context.path or "").startswith(API) and isinstance(context.original_route, APIRoute)
    ]
    assert routes and all(isinstance(route, ApiRoute) for route in routes)
    keyed = {route.path: route.idempotency for route in routes if route.idempotency}
    assert {path for path, who in keyed.items() if who == "public"} == PUBLIC_POSTS
    assert {path for path, who in keyed.items() if who == "work"} == {
        "/payment-methods",
        "/payments",
        "/payments/{payment_id}/capture",
        "/payments/{payment_id}/void",
        "/payments/{payment_id}/refunds",
    }
    by_route = {path for path, who in keyed.items() if who == "route"}
    assert {"/customers", "/orders", "/webhook-endpoints", "/api-keys", "/auth/logout"} <= by_route
