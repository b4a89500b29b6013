"""What the reliability tests run against: `avnz serve` as a real process on the test database,
an NMI sandbox of their own (its ledger and faults readable in process), and a TCP proxy that
resets connections or stops answering on demand."""

import asyncio
import contextlib
import enum
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy.engine import make_url

from avnz.config import Settings
from avnz.gateways.sandbox.common import SandboxState
from tests.support.live_server import free_port

AVNZ = str(Path(sys.executable).parent / "avnz")


# --- the NMI sandbox ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    """An NMI sandbox served on loopback; `state` is its live ledger and fault switch."""

    url: str
    state: SandboxState

    def charges(self, payment_ids: set[str] | None = None) -> list[str]:
        """The gateway's own record: ids of the sales it approved (for these payments)."""
        return [
            txn_id
            for txn_id, order_id in self.transactions("sale")
            if payment_ids is None or order_id in payment_ids
        ]

    def transactions(self, kind: str) -> list[tuple[str, str | None]]:
        """(id, our order id) of each transaction of `kind` the gateway recorded."""
        return [
            (txn.id, txn.order_id)
            for txn in list(self.state.ledger.transactions.values())
            if txn.kind == kind
        ]


# --- `avnz serve` as a process -----------------------------------------------------------------


@dataclass
class Server:
    """One `avnz serve` process; `kill()` is kill -9: no shutdown, no cleanup."""

    process: "subprocess.Popen[bytes]"
    url: str
    log: Path

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def server_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a server on the test database, with the tests' keys and limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVNZ_")}
    env.update(
        AVNZ_DATA_DIR=str(settings.data_dir),
        AVNZ_DATABASE_URL=settings.resolved_database_url,
        AVNZ_BASE_URL=settings.base_url,  # the tokens' issuer
        AVNZ_RATE_LIMIT_IP=settings.rate_limit_ip,
        AVNZ_RATE_LIMIT_USER=settings.rate_limit_user,
        AVNZ_RATE_LIMIT_PAYMENTS=settings.rate_limit_payments,
        AVNZ_GATEWAY_READ_TIMEOUT_SECONDS=str(settings.gateway_read_timeout_seconds),
        AVNZ_RUN_EMBEDDED_WORKER="false",
        AVNZ_WORKER_POLL_SECONDS="0.2",
        AVNZ_LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


def start_server(env: dict[str, str], log: Path) -> Server:
    """Start `avnz serve` on a free port (it may still be booting)."""
    port = free_port()
    return Server(spawn(env, log, "serve", "--port", str(port)), f"http://127.0.0.1:{port}", log)


def spawn(env: dict[str, str], log: Path, *args: str) -> "subprocess.Popen[bytes]":
    """`avnz ARGS...` with its output in `log` (a pipe nobody reads would fill and block it)."""
    with log.open("ab") as sink:
        return subprocess.Popen([AVNZ, *args], env=env, stdout=sink, stderr=sink)


def wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 90  # Python's start-up alone takes 20 s on a loaded 2-core box
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"avnz serve exited early:\n{server.log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/health/live", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    server.kill()
    raise AssertionError(f"avnz serve did not come up:\n{server.log.read_text()}")


@contextlib.contextmanager
def running(env: dict[str, str], *logs: Path) -> Iterator[list[Server]]:
    """One server per log file, booted side by side; stopped at the end of the block."""
    servers = [start_server(env, log) for log in logs]
    try:
        for server in servers:
            wait_until_up(server)
        yield servers
    finally:
        for server in servers:
            server.stop()


# --- a TCP proxy with faults -------------------------------------------------------------------


class Fault(enum.StrEnum):
    RESET_BEFORE = "reset_before"  # read the request, then reset: nothing reached upstream
    RESET_AFTER = "reset_after"  # upstream processed the request; the answer becomes a reset


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.close()


@dataclass
class Proxy:
    """Relays loopback TCP connections to `upstream`, in a thread with its own event loop. The
    next `fail(...)` connections get a fault; `stop()` refuses and drops every connection until
    `start()` listens again on the same port."""

    upstream: tuple[str, int]
    port: int = field(default_factory=free_port)
    _faults: list[Fault] = field(default_factory=list)
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _server: asyncio.Server | None = None
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def fail(self, fault: Fault, count: int = 1) -> None:
        self._faults.extend([fault] * count)

    def start(self) -> None:
        self._call(self._listen())

    def stop(self) -> None:
        self._call(self._close())

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coro: Any) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            reset(writer)
        self._open.clear()

    async def _shutdown(self) -> None:
        await self._close()
        relays = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fault = self._faults.pop(0) if self._faults else None
        if fault is Fault.RESET_BEFORE:
            await reader.read(65536)
            reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            reset(writer)
            return
        self._open.update((writer, up_writer))
        try:
            if fault is Fault.RESET_AFTER:
                forward = asyncio.ensure_future(_pump(reader, up_writer))
                await up_reader.read(1)  # upstream starts answering: it has done the work
                reset(writer)
                forward.cancel()
                up_writer.close()
                return
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._open.difference_update((writer, up_writer))


@contextlib.contextmanager
def proxy_to(host: str, port: int) -> Iterator[Proxy]:
    proxy = Proxy((host, port))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


# --- the database going away -------------------------------------------------------------------


class Outage(Protocol):
    """Makes the test database unusable for a server that reaches it at `database_url`."""

    database_url: str

    def begin(self) -> None: ...

    def end(self) -> None: ...


@dataclass
class SqliteLocked:
    """SQLite has no server to stop: another process holds the write lock (a stuck backup or
    migration). Every transaction of the app (BEGIN IMMEDIATE) waits its busy timeout, then
    fails with "database is locked"."""

    database_url: str
    _holder: sqlite3.Connection | None = None

    def begin(self) -> None:
        path = make_url(self.database_url).database
        assert path is not None
        self._holder = sqlite3.connect(path, isolation_level=None)
        self._holder.execute("BEGIN IMMEDIATE")

    def end(self) -> None:
        assert self._holder is not None
        self._holder.rollback()
        self._holder.close()


@dataclass
class PostgresUnreachable:
    """The server reaches PostgreSQL through a proxy; stopping it refuses new connections and
    resets the open ones, as a database restart or a network partition does."""

    proxy: Proxy
    database_url: str

    def begin(self) -> None:
        self.proxy.stop()

    def end(self) -> None:
        self.proxy.start()


@contextlib.contextmanager
def outage_of(database_url: str) -> Iterator[Outage]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield SqliteLocked(database_url)
        return
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port)
        yield PostgresUnreachable(proxy, through.render_as_string(hide_password=False))


# --- Redis that hangs or is gone ---------------------------------------------------------------


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A loopback TCP listener that accepts every connection, reads nothing and never answers:
    a Redis that hangs. Yields its port."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = listener.accept()
                held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        done.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on: a Redis that is down (connections are refused)."""
    yield free_port()
