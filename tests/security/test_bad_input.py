"""Hostile or broken input is a 4xx in the error shape, names the field, and echoes nothing."""

import json

import pytest

from avnz.tenancy.models import Role
from tests.security.helpers import API, assert_error

PAN = "4111111111111111"
SECRET = "Sup3r-Secret-Passw0rd"


def nested(depth: int) -> dict:
    value: dict = {"leaf": True}
    for _ in range(depth - 1):
        value = {"child": value}
    return value


def department(world, **fields) -> bytes:
    return json.dumps({"company_id": world.a.company.id, "name": "Ops", **fields}).encode()


def company(_world, **fields) -> bytes:
    return json.dumps({"name": "Brand", **fields}).encode()


# name: (path, body builder taking `world`, the field the error must name)
INVALID_FIELDS = {
    "not_an_object": ("departments", lambda w: b"[1, 2]", "body"),
    "wrong_type": ("departments", lambda w: department(w, name=123), "name"),
    "missing_field": (
        "departments",
        lambda w: json.dumps({"company_id": w.a.company.id}).encode(),
        "name",
    ),
    "too_long": ("departments", lambda w: department(w, name="x" * 201), "name"),
    "nul_in_name": ("departments", lambda w: department(w, name="a\x00b"), "name"),
    "nul_in_description": (
        "departments",
        lambda w: department(w, description="\x00"),
        "description",
    ),
    "lone_surrogate": (
        "departments",
        lambda w: department(w).replace(b'"Ops"', b'"a\\ud800b"'),
        "name",
    ),
    "deeply_nested_metadata": ("companies", lambda w: company(w, metadata=nested(500)), "metadata"),
    "nul_in_metadata_key": ("companies", lambda w: company(w, metadata={"k\x00": 1}), "metadata"),
    "unknown_timezone": ("companies", lambda w: company(w, timezone="Mars/Olympus"), "timezone"),
}


async def post_raw(client, world, path: str, body: bytes):
    headers = {**world.headers(Role.CLIENT_ADMIN), "Content-Type": "application/json"}
    return await client.post(f"{API}/{path}", content=body, headers=headers)


@pytest.mark.parametrize(
    ("path", "build", "param"), INVALID_FIELDS.values(), ids=INVALID_FIELDS.keys()
)
async def test_invalid_field_is_a_400_naming_it(client, world, path, build, param):
    response = await post_raw(client, world, path, build(world))
    assert_error(response, 400, "validation_failed", param=param)


async def test_an_unknown_field_is_a_400_naming_it_not_its_value(client, world):
    response = await post_raw(client, world, "departments", department(world, card_number=PAN))
    error = assert_error(response, 400, "parameter_unknown", param="card_number")
    assert PAN not in response.text and "card_number" in error["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"name": "Ops",', "invalid_json"),
        (b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "http_error"),
    ],
    ids=["malformed", "deeper_than_the_parser"],
)
async def test_unparseable_body_is_a_400_without_param(client, world, body, code):
    assert_error(await post_raw(client, world, "departments", body), 400, code)


@pytest.mark.parametrize("limit", ["abc", "-1", "1e3"])
async def test_bad_query_parameter_names_it(client, world, limit):
    response = await client.get(
        f"{API}/departments", params={"limit": limit}, headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert_error(response, 400, "validation_failed", param="limit")


@pytest.mark.parametrize(
    "url", [f"{API}/departments/dep_%00x", f"{API}/departments?company_id=com_%00x"]
)
async def test_nul_in_path_or_query_is_never_a_500(client, world, url):
    # SQLite compares the value (nothing found); PostgreSQL refuses it: a 400, not a crash.
    response = await client.get(url, headers=world.headers(Role.CLIENT_ADMIN))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"type", "code", "message", "param"}


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE departments;--",
        "x' OR '1'='1",
        "Ünïcødé 部門 🚀 \u202eevil",
        "%s %d {0} ${jndi:ldap://x}",
    ],
)
async def test_injection_and_unicode_names_are_stored_verbatim(client, world, name):
    headers = world.headers(Role.CLIENT_ADMIN)
    created = await client.post(
        f"{API}/departments", json={"company_id": world.a.company.id, "name": name}, headers=headers
    )
    assert created.status_code == 201, created.text
    fetched = await client.get(f"{API}/departments/{created.json()['id']}", headers=headers)
    assert fetched.json()["name"] == name
    listed = await client.get(f"{API}/departments", headers=headers)
    assert {d["name"] for d in listed.json()["data"]} >= {name, world.a.department.name}


ECHO_REQUESTS = {
    "login_with_extra_card_field": (
        "auth/login",
        {"email": "not-an-email", "password": SECRET, "card_number": PAN},
        "card_number",  # unknown fields are named before invalid ones
    ),
    "login_password_wrong_type": (
        "auth/login",
        {"email": "a@example.com", "password": [SECRET]},
        "password",
    ),
    "extra_field_holding_card": ("departments", {"name": "Ops", "notes": PAN}, "notes"),
    "extra_cvv_field": ("departments", {"name": "Ops", "cvv": "737"}, "cvv"),
    "card_in_a_validated_field": ("companies", {"name": "Brand", "timezone": PAN}, "timezone"),
    "secret_in_a_validated_field": (
        "companies",
        {"name": "Brand", "timezone": SECRET},
        "timezone",
    ),
}


@pytest.mark.parametrize(
    ("path", "body", "param"), ECHO_REQUESTS.values(), ids=ECHO_REQUESTS.keys()
)
async def test_validation_errors_never_echo_the_submitted_value(client, world, path, body, param):
    response = await client.post(
        f"{API}/{path}", json=body, headers=world.headers(Role.CLIENT_ADMIN)
    )
    unknown = param in {"card_number", "notes", "cvv"}  # fields no request model declares
    error = assert_error(
        response, 400, "parameter_unknown" if unknown else "validation_failed", param=param
    )
    # The request id is random hex; leave it out so "737" cannot match by chance.
    echoed = response.text.replace(error["request_id"], "")
    for secret in (PAN, SECRET, "4111 1111", "737"):
        assert secret not in echoed
