"""Where a sandbox keeps what it knows: in memory (the default, a fresh emulator per app) or in a
SQLite file of its own, so payments made by one process (`avnz demo`) are known to another
(`avnz serve`) and a restart forgets nothing.

A store hands out record maps: `records(gateway, namespace, codec)` is a MutableMapping of id to
record (a ledger's transactions, Stripe's customers, an idempotency table). Work on them happens
inside `store.unit()`: on SQLite a unit is one `BEGIN IMMEDIATE` transaction, the records read in
it are tracked, and those whose encoding changed are written back when the unit ends (rolled
back if it raised). Outside a unit, reads see the file and changes to a read record are not kept.
A unit is synchronous on purpose: it never spans an `await`, so two requests of one event loop
never share a transaction.

Which store a factory without arguments uses: `current()`, i.e. the store of the innermost
`persisting(store)` block, else a new MemoryStore. The gateway declarations build sandboxes with
no arguments (`GatewayPlugin.create_sandbox`), so `avnz serve`, `avnz demo` and `avnz sandbox`
open a file and build their sandboxes inside `persisting`.
"""

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

MEMORY = ":memory:"
# In the data directory: what `avnz serve` mounts and `avnz demo` charges share one file, so a
# demo payment can be refunded by the server; `avnz sandbox` keeps a file of its own.
MOUNTED_FILE = "sandboxes.sqlite3"
STANDALONE_FILE = "sandbox-standalone.sqlite3"


@dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    """How a record becomes JSON and back."""

    dump: Callable[[T], dict[str, Any]]
    load: Callable[[dict[str, Any]], T]
    order_key: Callable[[T], str | None] = lambda _record: None  # an indexed lookup column


JSON_CODEC: Codec[dict[str, Any]] = Codec(dump=lambda record: record, load=lambda data: data)
TEXT_CODEC: Codec[str] = Codec(
    dump=lambda text: {"text": text}, load=lambda data: str(data["text"])
)


class SandboxStore(Protocol):
    def records(self, gateway: str, namespace: str, codec: Codec[T]) -> MutableMapping[str, T]:
        """The records of `namespace` of one gateway's sandbox, in insertion order."""
        ...

    def unit(self) -> contextlib.AbstractContextManager[None]:
        """One unit of work: everything inside commits together or not at all."""
        ...


class MemoryStore:
    """Plain dictionaries: what a sandbox knows ends with its process."""

    def __init__(self) -> None:
        self._maps: dict[tuple[str, str], dict[str, Any]] = {}

    def records(self, gateway: str, namespace: str, codec: Codec[T]) -> MutableMapping[str, T]:
        found: dict[str, T] = self._maps.setdefault((gateway, namespace), {})
        return found

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        yield


# --- SQLite ------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    order_key TEXT,
    data TEXT NOT NULL,
    UNIQUE (gateway, namespace, id)
);
CREATE INDEX IF NOT EXISTS ix_sandbox_records_order
    ON sandbox_records (gateway, namespace, order_key);
"""


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"a sandbox record cannot hold {type(value).__name__}")


def _hook(value: dict[str, Any]) -> Any:
    if value.keys() == {"$datetime"}:
        return datetime.fromisoformat(value["$datetime"])
    return value


def encode(data: dict[str, Any]) -> str:
    """A record's JSON text (datetimes tagged); equal records encode equally."""
    return json.dumps(data, default=_default, sort_keys=True, separators=(",", ":"))


def decode(text: str) -> dict[str, Any]:
    """The inverse of `encode`."""
    loaded: dict[str, Any] = json.loads(text, object_hook=_hook)
    return loaded


class SqliteStore:
    """A SQLite file (WAL, so another process's reads never wait); one connection per store."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Serving threads take turns through `_lock`; autocommit, units open their own BEGIN.
        self.connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0
        self._maps: list[_SqliteRecords[Any]] = []
        self._by_scope: dict[tuple[str, str], _SqliteRecords[Any]] = {}

    def records(self, gateway: str, namespace: str, codec: Codec[T]) -> MutableMapping[str, T]:
        # One map per namespace, so a unit sees one object per record however it asks.
        found = self._by_scope.get((gateway, namespace))
        if found is None:
            found = self._by_scope[gateway, namespace] = _SqliteRecords(
                self, gateway, namespace, codec
            )
            self._maps.append(found)
        mapping: MutableMapping[str, T] = found
        return mapping

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.connection.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
                for mapping in self._maps:
                    mapping.flush()
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
                for mapping in self._maps:
                    mapping.forget()

    @property
    def in_unit(self) -> bool:
        return self._depth > 0

    def close(self) -> None:
        """Close the file; the store is unusable afterwards."""
        self.connection.close()


class _SqliteRecords(MutableMapping[str, T]):
    """One namespace of a SqliteStore; read records are tracked for the unit they were read in."""

    def __init__(self, store: SqliteStore, gateway: str, namespace: str, codec: Codec[T]) -> None:
        self.store, self.codec = store, codec
        self.scope = (gateway, namespace)
        self._seen: dict[str, tuple[T, str]] = {}  # id -> (record, its encoding when read)

    def _track(self, record_id: str, text: str) -> T:
        if record_id in self._seen:
            return self._seen[record_id][0]
        record = self.codec.load(decode(text))
        if self.store.in_unit:
            self._seen[record_id] = (record, text)
        return record

    def __getitem__(self, record_id: str) -> T:
        if record_id in self._seen:
            return self._seen[record_id][0]
        row = self.store.connection.execute(
            "SELECT data FROM sandbox_records WHERE gateway = ? AND namespace = ? AND id = ?",
            (*self.scope, record_id),
        ).fetchone()
        if row is None:
            raise KeyError(record_id)
        return self._track(record_id, row[0])

    def __setitem__(self, record_id: str, record: T) -> None:
        with self.store.unit():
            text = encode(self.codec.dump(record))
            self.store.connection.execute(
                "INSERT INTO sandbox_records (gateway, namespace, id, order_key, data) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway, namespace, id) "
                "DO UPDATE SET order_key = excluded.order_key, data = excluded.data",
                (*self.scope, record_id, self.codec.order_key(record), text),
            )
            self._seen[record_id] = (record, text)

    def __delitem__(self, record_id: str) -> None:
        with self.store.unit():
            deleted = self.store.connection.execute(
                "DELETE FROM sandbox_records WHERE gateway = ? AND namespace = ? AND id = ?",
                (*self.scope, record_id),
            ).rowcount
            self._seen.pop(record_id, None)
        if not deleted:
            raise KeyError(record_id)

    def __iter__(self) -> Iterator[str]:
        rows = self.store.connection.execute(
            "SELECT id FROM sandbox_records WHERE gateway = ? AND namespace = ? ORDER BY seq",
            self.scope,
        ).fetchall()
        return iter([row[0] for row in rows])

    def __len__(self) -> int:
        row = self.store.connection.execute(
            "SELECT count(*) FROM sandbox_records WHERE gateway = ? AND namespace = ?", self.scope
        ).fetchone()
        return int(row[0])

    def __contains__(self, record_id: object) -> bool:
        if record_id in self._seen:
            return True
        row = self.store.connection.execute(
            "SELECT 1 FROM sandbox_records WHERE gateway = ? AND namespace = ? AND id = ?",
            (*self.scope, record_id),
        ).fetchone()
        return row is not None

    def values(self) -> list[T]:  # type: ignore[override]
        """Every record in insertion order, read in one query."""
        rows = self.store.connection.execute(
            "SELECT id, data FROM sandbox_records WHERE gateway = ? AND namespace = ? ORDER BY seq",
            self.scope,
        ).fetchall()
        return [self._track(record_id, text) for record_id, text in rows]

    def by_order_key(self, key: str) -> list[T]:
        """The records whose codec's order key is `key`, through the index."""
        rows = self.store.connection.execute(
            "SELECT id, data FROM sandbox_records WHERE gateway = ? AND namespace = ? "
            "AND order_key = ? ORDER BY seq",
            (*self.scope, key),
        ).fetchall()
        return [self._track(record_id, text) for record_id, text in rows]

    def clear(self) -> None:
        with self.store.unit():
            self.store.connection.execute(
                "DELETE FROM sandbox_records WHERE gateway = ? AND namespace = ?", self.scope
            )
            self._seen.clear()

    def flush(self) -> None:
        """Write back the tracked records whose encoding changed since they were read."""
        for record_id, (record, text) in self._seen.items():
            now = encode(self.codec.dump(record))
            if now != text:
                self.store.connection.execute(
                    "UPDATE sandbox_records SET data = ?, order_key = ? "
                    "WHERE gateway = ? AND namespace = ? AND id = ?",
                    (now, self.codec.order_key(record), *self.scope, record_id),
                )

    def forget(self) -> None:
        """End of a unit: the next one reads afresh (another process may have written)."""
        self._seen.clear()


# --- which store a factory uses ------------------------------------------------------------------

_current: ContextVar[SandboxStore | None] = ContextVar("sandbox_store", default=None)


def current() -> SandboxStore:
    """The store of the innermost `persisting` block, else a fresh MemoryStore."""
    return _current.get() or MemoryStore()


@contextlib.contextmanager
def persisting(store: SandboxStore) -> Iterator[SandboxStore]:
    """Sandboxes created in this block keep their state in `store`."""
    token = _current.set(store)
    try:
        yield store
    finally:
        _current.reset(token)


def open_store(path: Path | str) -> SandboxStore:
    """A store at `path`: a SQLite file, or memory for `:memory:`."""
    return MemoryStore() if str(path) == MEMORY else SqliteStore(path)
