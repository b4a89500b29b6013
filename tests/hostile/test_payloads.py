"""Hostile request bodies: too large, too deep, not UTF-8, and text built to break a parser, a
query, a page or a template.

Every answer is either a 4xx in the JSON error shape with nothing stored, or a stored value the
API returns exactly as sent; the dashboard shows such a value escaped, and never evaluates it.
"""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from avnz.config import Settings
from avnz.tenancy.models import Role
from tests.factories import World
from tests.rules import access_rows as rule_rows
from tests.tenancy.matrix import API, Scene
from tests.tenancy.test_access_matrix import ROUTES, SCENE_MAKERS
from tests.web.conftest import SignIn
from tests.web.conftest import signed_in as signed_in

SQL = "'; DROP TABLE users; --"
SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
TEMPLATE = "tpl {{7*7}} tpl"
HOSTILE_TEXT = {
    "sql": SQL,
    "html": SCRIPT,
    "template": TEMPLATE,
    "rtl": "\u202egnp.exe \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "zero-width": "a\u200bb\u200cc\u200dd\ufeffe",
    "emoji": "\U0001f4b3 \U0001f680 \U0001f469\u200d\U0001f469\u200d\U0001f467",
    "combining": "Z\u0351\u0352\u0353a\u0300\u0301\u0302l\u0327g\u0328o",
    "nul": "before\x00after",
    "lone-surrogate": "\ud800",
    "control": "bell\x07esc\x1b[31m",
}
# The codes a refusal of such text may carry: the value is bad, not the caller or the route.
REFUSALS = {"validation_failed", "invalid_value", "invalid_json", "invalid_request"}

Overrides = Callable[[str, int], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """A create endpoint and the text fields it takes (`n` keeps unique fields unique)."""

    path: str
    fields: Overrides


def _line_item(value: str) -> list[dict[str, Any]]:
    return [{"sku": "GIFT-BOX", "name": value, "quantity": 1, "unit_amount": 500}]


TARGETS = [
    Target(
        "/customers",
        lambda v, n: {"email": f"h{n}@example.com", "name": v, "custom_fields": {"note": v}},
    ),
    Target(
        "/products",
        lambda v, n: {"sku": f"SKU-{n}", "name": v, "description": v, "metadata": {"note": v}},
    ),
    Target("/orders", lambda v, n: {"line_items": _line_item(v), "metadata": {"note": v}}),
    Target("/merchant-accounts", lambda v, n: {"name": v, "description": v}),
    Target("/account-pools", lambda v, n: {"name": v, "description": v}),
    Target("/routing-rules", lambda v, n: {"name": v, "description": v}),
    Target("/webhook-endpoints", lambda v, n: {"description": v}),
    Target("/payments", lambda v, n: {"description": v, "metadata": {"note": v}}),
]


def contains(actual: Any, wanted: Any) -> bool:
    """`actual` holds every key and item of `wanted`, with the very same values."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(contains(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    return bool(actual == wanted)


def is_json_error(response: httpx.Response) -> bool:
    error = response.json().get("error", {})
    return set(error) == {"type", "code", "message", "param", "request_id"}


@pytest.fixture
async def scene(client: httpx.AsyncClient, world: World) -> Scene:
    """The access matrix's objects of brand A1, but its routing rule (it blocks payments)."""
    made = Scene(world, {})
    for make in SCENE_MAKERS:
        if make is not rule_rows.make_objects:
            made.made.update(await make(client, world))
    return made


def admin(world: World) -> dict[str, str]:
    return world.headers(Role.COMPANY_ADMIN)


async def create(
    client: httpx.AsyncClient, scene: Scene, target: Target, value: str, n: int
) -> httpx.Response:
    row = ROUTES[("POST", target.path)]
    assert row.body is not None
    body = {**row.body(scene), **target.fields(value, n)}
    try:
        raw = json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate only travels as a JSON escape
        raw = json.dumps(body).encode()
    headers = {**admin(scene.world), "Content-Type": "application/json"}
    return await client.post(f"{API}{target.path}", content=raw, headers=headers)


# --- size and depth --------------------------------------------------------------------------


async def _count(client: httpx.AsyncClient, world: World, path: str) -> int:
    listed = await client.get(f"{API}{path}?limit=100", headers=admin(world))
    return len(listed.json()["data"])


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_413_and_stores_nothing(
    client: httpx.AsyncClient, world: World, settings: Settings, declared: bool
) -> None:
    name = "x" * (settings.max_body_bytes + 1)
    raw = json.dumps({"company_id": world.a.company.id, "name": name}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 65536):
            yield raw[start : start + 65536]

    headers = {**admin(world), "Content-Type": "application/json"}
    content: Any = raw if declared else chunks()
    response = await client.post(f"{API}/customers", content=content, headers=headers)
    assert response.status_code == 413, response.text
    assert is_json_error(response) and response.json()["error"]["code"] == "payload_too_large"
    assert await _count(client, world, "/customers") == 0


@pytest.mark.parametrize("opener", ["{", "["], ids=["objects", "arrays"])
@pytest.mark.parametrize("depth", [200, 10_000, 100_000])
async def test_deeply_nested_json_is_a_4xx(
    client: httpx.AsyncClient, world: World, opener: str, depth: int
) -> None:
    closer = "}" if opener == "{" else "]"
    step = '{"a":' if opener == "{" else "["
    nested = step * depth + "1" + closer * depth
    raw = f'{{"company_id": "{world.a.company.id}", "name": "Deep", "custom_fields": {nested}}}'
    response = await client.post(
        f"{API}/customers",
        content=raw.encode(),
        headers={**admin(world), "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert is_json_error(response)
    assert await _count(client, world, "/customers") == 0


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "\xff\xfe"}', b'{"name": "\xc3\x28"}', b"\xef\xbb\xbf{}", b'{"name": "a'],
    ids=["bad-bytes", "bad-continuation", "bom", "truncated"],
)
async def test_a_body_that_is_not_utf8_json_is_a_400_and_stores_nothing(
    client: httpx.AsyncClient, world: World, raw: bytes
) -> None:
    response = await client.post(
        f"{API}/customers",
        content=raw,
        headers={**admin(world), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert is_json_error(response)
    assert await _count(client, world, "/customers") == 0


# --- hostile text in every text field --------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.path.strip("/"))
async def test_hostile_text_is_refused_or_kept_exactly(
    client: httpx.AsyncClient, scene: Scene, target: Target
) -> None:
    plain = await create(client, scene, target, "Plain text", 0)
    assert plain.status_code in (201, 202), plain.text  # the body is fine without the text
    problems = []
    for n, (label, value) in enumerate(HOSTILE_TEXT.items(), start=1):
        sent = target.fields(value, n)
        response = await create(client, scene, target, value, n)
        if response.status_code >= 400:
            code = response.json().get("error", {}).get("code")
            if response.status_code >= 500 or not is_json_error(response) or code not in REFUSALS:
                problems.append(f"{label}: {response.status_code} {response.text[:300]}")
            continue
        read = await client.get(
            f"{API}{target.path}/{response.json()['id']}", headers=admin(scene.world)
        )
        if not (contains(response.json(), sent) and contains(read.json(), sent)):
            problems.append(f"{label}: not returned as sent: {read.text[:300]}")
    assert problems == [], "\n".join(problems)


# --- the dashboard shows such text escaped ---------------------------------------------------

# Dashboard pages that show a stored name or description: (API create path, detail page, the
# list page when it shows the text too).
PAGES = [
    ("/merchant-accounts", "/merchant-accounts/{id}", "/merchant-accounts"),
    ("/account-pools", "/pools/{id}", "/pools"),
    ("/routing-rules", "/routing/rules/{id}", "/routing/rules"),
    ("/payments", "/transactions/{id}", None),  # the list shows amounts and cards, not text
]


@pytest.mark.parametrize(("path", "detail", "listing"), PAGES, ids=[p[0] for p in PAGES])
async def test_the_dashboard_escapes_stored_text(
    client: httpx.AsyncClient,
    scene: Scene,
    signed_in: SignIn,
    path: str,
    detail: str,
    listing: str | None,
) -> None:
    target = next(t for t in TARGETS if t.path == path)
    pages = [listing or "/transactions"]
    for n, value in enumerate((SCRIPT, TEMPLATE), start=1):
        response = await create(client, scene, target, value, n)
        assert response.status_code in (201, 202), response.text
        pages.append(detail.format(id=response.json()["id"]))
    browser = await signed_in(Role.COMPANY_ADMIN)
    html = {url: (await browser.get(url)).text for url in pages}
    for url, text in html.items():
        assert SCRIPT not in text and "tpl 49 tpl" not in text, url
    assert ESCAPED_SCRIPT in html[pages[1]] and TEMPLATE in html[pages[2]]
    if listing:
        assert ESCAPED_SCRIPT in html[listing] and TEMPLATE in html[listing]


async def test_search_escapes_a_hostile_customer_name(
    client: httpx.AsyncClient, scene: Scene, signed_in: SignIn
) -> None:
    target = TARGETS[0]
    assert (await create(client, scene, target, f"Eve {SCRIPT}", 1)).status_code == 201
    browser = await signed_in(Role.COMPANY_ADMIN)
    html = (await browser.get("/search", params={"q": "Eve"})).text
    assert SCRIPT not in html and f"Eve {ESCAPED_SCRIPT}" in html
    reflected = (await browser.get("/search", params={"q": SCRIPT})).text
    assert SCRIPT not in reflected


# --- null where a value is required (found by the fuzzing: a 500, and misleading 409s) -------


@pytest.mark.parametrize("field", ["role", "name", "status"])
async def test_a_null_user_field_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, world: World, field: str
) -> None:
    user = world.a.users[Role.COMPANY_USER]
    url = f"{API}/users/{user.id}"
    response = await client.patch(url, json={field: None}, headers=admin(world))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == field
    after = (await client.get(url, headers=admin(world))).json()
    assert (after["name"], after["role"], after["status"]) == (user.name, "COMPANY_USER", "active")


@pytest.mark.parametrize(
    ("path", "field"),
    [("/companies/{id}", "name"), ("/departments/{id}", "name"), ("/clients/{id}", "slug")],
)
async def test_a_null_required_tenant_field_is_a_400(
    client: httpx.AsyncClient, world: World, path: str, field: str
) -> None:
    ids = {"companies": world.a.company.id, "departments": world.a.department.id}
    url = API + path.format(id=ids.get(path.split("/")[1], world.a.client.id))
    headers = world.headers(Role.CLIENT_ADMIN)
    response = await client.patch(url, json={field: None}, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["param"] == field
