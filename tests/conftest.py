"""Test harness: one migrated database per run (SQLite file, or PostgreSQL from
AVNZ_TEST_DATABASE_URL), emptied after every test; the app served in-process over ASGI."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from avnz import domains
from avnz.app import create_app
from avnz.config import Settings
from avnz.core import clock
from avnz.db.base import Base
from avnz.db.engine import create_engine, session_factory
from avnz.db.migrate import upgrade
from avnz.runtime import Runtime
from tests.factories import World, build_world

domains.load()

pytest_plugins = ["tests.support.logs", "tests.support.payments"]

HIGH_LIMIT = "100000/minute"
# Written by migrations, read-only to the app: kept between tests.
REFERENCE_TABLES = frozenset({"integration_definitions"})


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": os.environ.get("AVNZ_TEST_DATABASE_URL")
        or f"sqlite+aiosqlite:///{data_dir / 'test.db'}",
        "base_url": "http://testserver",
        "rate_limit_ip": HIGH_LIMIT,
        "rate_limit_user": HIGH_LIMIT,
        "rate_limit_payments": HIGH_LIMIT,
        "rate_limit_auth": HIGH_LIMIT,
        "run_embedded_worker": False,
        # The sandboxes answer in milliseconds; a hung one should cost a test seconds, not 30.
        "gateway_read_timeout_seconds": 2.0,
        "cors_origins": ["https://dashboard.example.com"],
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("avnz-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir)


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings)
    await upgrade(runtime.engine)
    yield runtime
    await runtime.close()


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> object:
    return create_app(runtime=runtime)


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
async def reader_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.resolved_database_url, sqlite_read_only=True)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(reader_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """For reading what the app wrote; on SQLite its transactions never block the app."""
    async with session_factory(reader_engine)() as session:
        yield session


@pytest.fixture(autouse=True)
async def _empty_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts from empty tables (only for tests that touch the database)."""
    yield
    if "runtime" not in request.fixturenames:
        return
    runtime: Runtime = request.getfixturevalue("runtime")
    runtime.api_keys._entries.clear()
    runtime.oidc_configs._entries.clear()
    async with runtime.sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                await session.execute(delete(table))


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    yield
    clock.reset()


@pytest.fixture
async def world(runtime: Runtime) -> World:
    """Two agencies with brands, departments, one user (and token) per role in each."""
    async with runtime.sessions.begin() as session:
        return await build_world(session, runtime)
