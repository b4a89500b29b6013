"""Property-based fuzzing of every operation in the OpenAPI spec with schemathesis.

A company admin of brand A1 calls each operation with generated parameters and bodies, in
process over ASGI: no answer may be a 5xx, and every answer must use a documented status code
and match the documented response schema. Each operation is fuzzed twice: with generated path
ids (which name nothing, so the validation and 404 paths run), then with the ids of real rows
of brand A1 (the access matrix's scene) so the found-it paths and their 200 schemas run too.

No operation is excluded (`EXCLUDED` is empty on purpose): the operations that reach out —
integration and account tests, webhook tests — only do so for a configured row, and the
scene's rows point at the gateway sandboxes the harness serves on loopback or at a closed
loopback port, so nothing leaves the machine.
"""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from schemathesis import checks
from schemathesis.python import asgi

from avnz.app import create_app
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World, issue_token
from tests.tenancy.matrix import API, Scene
from tests.tenancy.test_access_matrix import ROUTES, SCENE_MAKERS, api_routes

# Operations left out, "METHOD /path" → why. Keep it empty unless a reason is written here.
EXCLUDED: dict[str, str] = {}
EXAMPLES_PER_OPERATION = 10
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
]
_PARAMETER = re.compile(r"\{([^}]+)\}")


@pytest.fixture(scope="module")
def fuzzed_app(runtime: Runtime) -> Iterator[tuple[FastAPI, Any]]:
    """An app of its own on the migrated test database, served on schemathesis's event-loop
    thread: the shared test app's database pool belongs to pytest's loop, not to that one."""
    app = create_app(settings=runtime.settings)
    with asgi.get_client(app) as client:
        yield app, client


def fuzz(operation: Any, session: Any, headers: dict[str, str], real: dict[str, str]) -> None:
    """Call `operation` with generated cases (path ids from `real` when given); raise on the
    first failed check."""
    strategy = operation.as_strategy()
    if real:
        strategy = strategy.map(lambda case: _with_path(case, real))

    @hypothesis.given(case=strategy)
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,  # the same examples on every run: a failure reproduces
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(session=session, headers=headers, checks=CHECKS)

    run()


def _with_path(case: Any, real: dict[str, str]) -> Any:
    case.path_parameters = {**case.path_parameters, **real}
    return case


def real_path_ids(path: str, method: str, scene: Scene) -> dict[str, str]:
    """The path parameters of the access-matrix row for this route, aimed at the scene's rows."""
    route = path.removeprefix(API)
    endpoint = ROUTES.get((method, route))
    if endpoint is None or endpoint.target is None or "{" not in route:
        return {}
    concrete = endpoint.url(scene).removeprefix(API).split("/")
    return {
        name: value
        for segment, value in zip(route.split("/"), concrete, strict=True)
        for name in _PARAMETER.findall(segment)
    }


async def make_scene(client: httpx.AsyncClient, world: World) -> Scene:
    scene = Scene(world, {})
    for make in SCENE_MAKERS:
        scene.made.update(await make(client, world))
    return scene


async def test_every_operation_answers_as_documented(
    fuzzed_app: tuple[FastAPI, Any], client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    """Each operation with a token of its own (a fuzzed logout must not sign the next one out)."""
    app, session = fuzzed_app
    scene = await make_scene(client, world)
    schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)
    admin = world.a.users[Role.COMPANY_ADMIN]
    failures, fuzzed = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in EXCLUDED:
            continue
        real = real_path_ids(operation.path, operation.method.upper(), scene)
        for path_ids in ({}, real) if real else ({},):
            async with runtime.sessions.begin() as db:
                headers = {"Authorization": f"Bearer {issue_token(db, runtime, admin)}"}
            try:
                fuzz(operation, session, headers, path_ids)
            # Every operation runs; all failures are reported together.
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} {path_ids or ''}: {exc}")
        fuzzed.append(operation.label)
    assert failures == [], "\n\n".join(failures)
    assert len(fuzzed) > 100 and not set(EXCLUDED) & set(fuzzed)


def test_the_spec_documents_every_api_route(fuzzed_app: tuple[FastAPI, Any]) -> None:
    """The fuzzing covers what the spec lists: every /api/v1 route but the spec itself."""
    spec = fuzzed_app[0].openapi()["paths"]
    documented = {(m.upper(), path) for path, ops in spec.items() for m in ops}
    served = api_routes(fuzzed_app[0]) - {("GET", f"{API}/openapi.json")}
    assert sorted(served - documented) == []


def test_the_fuzzer_fails_on_a_server_error() -> None:
    """Guards the harness: an operation that answers 500 for some input is reported."""
    toy = FastAPI()

    @toy.get("/items/{number}")
    async def item(number: int) -> JSONResponse:
        return JSONResponse({"number": number}, status_code=500 if number % 3 == 0 else 200)

    schema = schemathesis.openapi.from_asgi("/openapi.json", toy)
    [operation] = [result.ok() for result in schema.get_all_operations()]
    with asgi.get_client(toy) as session, pytest.raises(BaseExceptionGroup, match="Server error"):
        fuzz(operation, session, {}, {})


def test_the_spec_documents_the_answers_the_api_gives(fuzzed_app: tuple[FastAPI, Any]) -> None:
    """Found by the fuzzing: errors are answered 400 in the error shape (FastAPI documented a
    422 of its own), and capture and void answer 201 or 202 (documented: 200)."""
    spec = fuzzed_app[0].openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not path.startswith(API) or path == f"{API}/openapi.json":
                continue
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            error = responses["4XX"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
    for action in ("capture", "void"):
        responses = spec["paths"][f"{API}/payments/{{payment_id}}/{action}"]["post"]["responses"]
        assert {"201", "202"} <= set(responses), action
