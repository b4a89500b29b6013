"""What `avnz` checks before it serves, and how it stops.

A configuration the process cannot start with ends it with one line on stderr, naming the
setting and the reason: `avnz: AVNZ_DATABASE_URL: database "avnz" does not exist
(postgresql+asyncpg://avnz:***@db:5432/avnz)`. The URL is shown with its password masked; the
traceback only with `avnz --debug`.

`avnz serve` binds its port itself (so "in use" is one of those lines, not a uvicorn log), and
runs uvicorn with a grace period: after SIGTERM in-flight requests get what is left of
`AVNZ_SHUTDOWN_GRACE_SECONDS` once the cleanup's reserve is set aside, and a watchdog ends the
process when the grace period is over, whatever still hangs.
"""

import errno
import os
import signal
import socket
import sys
import threading
import types
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from avnz.config import SHUTDOWN_CLEANUP_SECONDS, Settings
from avnz.db.migrate import NotMigrated


class StartupError(Exception):
    """The process cannot start: `setting` names what to change, `reason` says why."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")


class Refusal:
    """`with ctx.obj:` around a command's start: any failure becomes one line and exit code 1
    (the traceback too with `--debug`)."""

    def __init__(self, *, debug: bool) -> None:
        self.debug = debug

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        _tb: types.TracebackType | None,
    ) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, typer.Exit):
            return False
        if self.debug:
            return False  # the traceback, as Python prints it
        typer.secho(f"avnz: {one_line(exc)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None


def one_line(exc: BaseException) -> str:
    """The setting and the reason when we know them; otherwise the error's first line."""
    if isinstance(exc, StartupError | NotMigrated):
        return str(exc)
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"AVNZ_{'_'.join(str(part) for part in error['loc']).upper()}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
    return f"{type(exc).__name__}: {_first_line(exc)}"


def settings(load: Callable[[], Settings]) -> Settings:
    """The settings, or a StartupError naming the variable that is wrong."""
    try:
        return load()
    except ValidationError:
        raise
    except Exception as exc:  # e.g. a list setting that is not JSON
        raise StartupError("AVNZ_* settings", _first_line(exc)) from exc


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[None]:
    """Turn a database that cannot be used into a StartupError on AVNZ_DATABASE_URL."""
    url = settings.resolved_database_url
    try:
        yield
    except NotMigrated:
        raise
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StartupError("AVNZ_DATABASE_URL", f"not a usable database URL ({exc})") from exc
    except DBAPIError as exc:
        raise StartupError("AVNZ_DATABASE_URL", f"{_driver_message(exc)} ({_masked(url)})") from exc
    except (OSError, TimeoutError) as exc:
        where = _address(url)
        raise StartupError(
            "AVNZ_DATABASE_URL", f"cannot reach {where}: {_os_reason(exc)} ({_masked(url)})"
        ) from exc


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound here so a port in use is a StartupError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError("--port", f"{host}:{port} is already in use") from exc
        raise StartupError(
            "--host/--port", f"cannot listen on {host}:{port}: {_os_reason(exc)}"
        ) from exc
    sock.set_inheritable(True)
    return sock


def server_config(app: Any, settings: Settings) -> uvicorn.Config:
    """uvicorn as `avnz serve` runs it. Proxy headers are ours to read (`AVNZ_TRUSTED_PROXIES`,
    in `RequestMiddleware`), never uvicorn's, which believes any X-Forwarded-For from loopback."""
    requests_grace = max(1, int(settings.shutdown_grace_seconds - SHUTDOWN_CLEANUP_SECONDS - 1))
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=requests_grace,
    )


class GracefulServer(uvicorn.Server):
    """uvicorn's server, plus a watchdog: once asked to stop, the process is gone within
    `grace` seconds even if a request, the lifespan or a pool never lets go."""

    def __init__(self, config: uvicorn.Config, *, grace: float) -> None:
        super().__init__(config)
        self.grace = grace
        self._watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: types.FrameType | None) -> None:
        if self._watchdog is None and sig in (signal.SIGTERM, signal.SIGINT):
            self._watchdog = threading.Timer(self.grace, _give_up, args=(self.grace,))
            self._watchdog.daemon = True
            self._watchdog.start()
        super().handle_exit(sig, frame)


def _give_up(grace: float) -> None:
    sys.stderr.write(f"avnz: still stopping after the {grace:g} s grace period; exiting now\n")
    sys.stderr.flush()
    os._exit(1)


# --- reasons, one line each ---------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _driver_message(exc: DBAPIError) -> str:
    """asyncpg's or sqlite's own words (e.g. `role "x" does not exist`), not SQLAlchemy's
    wrapping with the statement and a link."""
    original = exc.orig if exc.orig is not None else exc
    text = _first_line(original)
    # SQLAlchemy's asyncpg adapter prefixes the original class: "<class '...'>: message".
    if text.startswith("<class '") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer before the connect timeout (AVNZ_DATABASE_CONNECT_TIMEOUT_SECONDS)"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    text = _first_line(exc)
    if "Connect call failed" in text or "refused" in text.lower():
        return "connection refused"
    return text


def _address(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def _masked(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
