"""Async engine and session factory; SQLite gets WAL, foreign keys and a busy timeout."""

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (savepoints need it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(mode: str) -> Any:
    def begin(connection: Any) -> None:
        connection.exec_driver_sql(f"BEGIN {mode}")

    return begin


def create_engine(
    url: str,
    *,
    sqlite_read_only: bool = False,
    connect_timeout: float = 5.0,
    statement_timeout: float | None = 60.0,
    pool_timeout: float = 10.0,
    **kwargs: Any,
) -> AsyncEngine:
    """An engine for `url`. On SQLite every transaction takes the write lock up front (BEGIN
    IMMEDIATE): there is one writer, and queueing on busy_timeout beats failing with
    SQLITE_BUSY when a read lock is upgraded. `sqlite_read_only` engines (tests, reports)
    use deferred transactions so their reads never block the writers. On PostgreSQL the pool
    is bounded, and connecting, each statement and the wait for a pooled connection each have
    a timeout (asyncpg's `timeout` and `command_timeout`)."""
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        mode = "DEFERRED" if sqlite_read_only else "IMMEDIATE"
        event.listen(engine.sync_engine, "begin", _sqlite_begin(mode))
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_timeout", pool_timeout)
    if make_url(url).get_backend_name() == "postgresql":
        connect_args = {"timeout": connect_timeout, "command_timeout": statement_timeout}
        kwargs["connect_args"] = {**connect_args, **kwargs.get("connect_args", {})}
    return create_async_engine(url, **kwargs)


class WriteTurns:
    """On SQLite, this process's hot-path write transactions one at a time, first come first
    served; elsewhere, no queue.

    SQLite has one writer. A transaction that finds the lock taken waits in SQLite's busy
    handler, which sleeps between retries (up to 100 ms): waiters are served in no order and the
    lock sits idle while they sleep, so under load a few payments wait seconds. Taking a turn
    here first turns that into a plain queue."""

    def __init__(self, *, queue: bool) -> None:
        self._queue = queue
        # One lock per event loop (asyncio locks belong to the loop they first wait on).
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def for_url(cls, url: str) -> "WriteTurns":
        return cls(queue=is_sqlite(url))

    @classmethod
    def unqueued(cls) -> "WriteTurns":
        return cls(queue=False)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if not self._queue:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            yield


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once this unit of work has committed (e.g. drop a cache entry, so no
    request can re-cache the old row between the change and its commit)."""
    session.info.setdefault("after_commit", []).append(callback)


def run_after_commit(session: AsyncSession) -> None:
    for callback in session.info.pop("after_commit", []):
        callback()


async def session_scope(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit if the block finished, roll back if it raised."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
            run_after_commit(session)
        except BaseException:
            await session.rollback()
            raise
