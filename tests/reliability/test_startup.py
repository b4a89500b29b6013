"""A configuration `avnz` cannot start with ends it at once with one line on stderr that names
the setting and the reason (and never a password); the traceback only with `--debug`. Real
processes: a closed port, a port in use, PostgreSQL's own refusals when the tests run on it."""

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from subprocess import PIPE

import pytest
from sqlalchemy.engine import make_url

from avnz.config import Settings
from avnz.db.engine import create_engine
from avnz.db.migrate import upgrade
from tests.reliability.support import AVNZ, server_env
from tests.support.live_server import free_port

Refusals = tuple[dict[str, tuple[int, str, str, float]], int]

PASSWORD = "pw-never-shown-5521"


def _cases() -> list[tuple[str, dict[str, str], str]]:
    """(name, environment, the line's start), the database ones on this run's database kind."""
    closed = free_port()
    cases = [
        (
            "unreachable database",
            {"AVNZ_DATABASE_URL": f"postgresql+asyncpg://avnz:{PASSWORD}@127.0.0.1:{closed}/avnz"},
            f"avnz: AVNZ_DATABASE_URL: cannot reach 127.0.0.1:{closed}: connection refused",
        ),
        (
            "bad setting",
            {"AVNZ_TRUSTED_PROXIES": "10.0.0.0/8, not-an-address"},
            "avnz: AVNZ_TRUSTED_PROXIES: 'not-an-address' is not an IP address or network",
        ),
    ]
    test_url = os.environ.get("AVNZ_TEST_DATABASE_URL")
    if test_url and make_url(test_url).get_backend_name() == "postgresql":
        url = make_url(test_url)
        missing_db = url.set(database="avnz_no_such_database")
        missing_role = url.set(username="avnz_no_such_role", password=PASSWORD)
        cases += [
            (
                "missing database",
                {"AVNZ_DATABASE_URL": missing_db.render_as_string(hide_password=False)},
                'avnz: AVNZ_DATABASE_URL: database "avnz_no_such_database" does not exist',
            ),
            (
                "missing role",
                {"AVNZ_DATABASE_URL": missing_role.render_as_string(hide_password=False)},
                'avnz: AVNZ_DATABASE_URL: role "avnz_no_such_role" does not exist',
            ),
        ]
    else:
        cases.append(
            (
                "missing database",
                {"AVNZ_DATABASE_URL": "sqlite+aiosqlite:////nonexistent-dir/avnz.db"},
                "avnz: AVNZ_DATABASE_URL: unable to open database file",
            )
        )
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def refusals(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refusals]:
    """Every case's `avnz` started side by side (each is mostly Python's start-up), with the
    test database migrated for the port case; {case: (exit code, stdout, stderr, seconds)}."""
    asyncio.run(_migrate(settings))
    data_dir = tmp_path_factory.mktemp("refused")
    env = {**server_env(settings), "AVNZ_DATA_DIR": str(data_dir)}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        runs = {
            case: [{**env, **overrides}, "serve", "--port", str(free_port())]
            for case, overrides, _ in CASES
        }
        runs["port in use"] = [server_env(settings), "serve", "--port", str(port)]
        closed = f"postgresql+asyncpg://avnz@127.0.0.1:{free_port()}/avnz"
        runs["debug"] = [{**env, "AVNZ_DATABASE_URL": closed}, "--debug", "worker"]
        started = time.monotonic()
        processes = {
            case: subprocess.Popen([AVNZ, *args], env=environ, stdout=PIPE, stderr=PIPE, text=True)
            for case, (environ, *args) in runs.items()
        }
        results = {}
        for case, process in processes.items():
            out, err = process.communicate(timeout=120)
            results[case] = (process.returncode, out, err, time.monotonic() - started)
        yield results, port


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("case", "line"), [(case, line) for case, _, line in CASES])
def test_a_bad_configuration_is_refused_in_one_line(
    refusals: Refusals, case: str, line: str
) -> None:
    code, out, err, seconds = refusals[0][case]
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith(line), err
    assert "Traceback" not in err and PASSWORD not in err + out
    assert seconds < 60  # refused at once, not after retries (a loaded machine starts slowly)


def test_a_port_in_use_is_refused_in_one_line(refusals: Refusals) -> None:
    code, _, err, _ = refusals[0]["port in use"]
    assert (code, err) == (1, f"avnz: --port: 127.0.0.1:{refusals[1]} is already in use\n")


def test_debug_shows_the_traceback(refusals: Refusals) -> None:
    code, _, err, _ = refusals[0]["debug"]
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "StartupError: AVNZ_DATABASE_URL: cannot reach" in err
