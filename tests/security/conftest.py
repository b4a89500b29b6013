"""`make_app`: an app with its own Runtime (and so its own rate limit counters) on the session
database and keys, so `world` tokens work against it."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from avnz.app import create_app
from avnz.runtime import Runtime
from tests.conftest import make_settings

AppFactory = Callable[..., FastAPI]


@pytest.fixture
async def make_app(runtime: Runtime, data_dir: Path) -> AsyncIterator[AppFactory]:
    built: list[Runtime] = []

    def build(**overrides: object) -> FastAPI:
        own = Runtime.build(make_settings(data_dir, **overrides))
        built.append(own)
        return create_app(runtime=own)

    yield build
    for own in built:
        await own.close()
