"""The audit log's hash chain: each organization's rows form one chain, each row's `hash` covering
its own content and the `hash` of the row before it (`prev_hash`), numbered by `seq` from 1.

Rows are linked when their transaction commits, never before: `audit.service.record` adds a row
to the session and notes it here; a `before_commit` hook flushes the transaction's other changes,
then locks the organization's `audit_chain_heads` row (SELECT ... FOR UPDATE on PostgreSQL;
SQLite's one writer holds the database already), numbers and hashes the rows after the head and
moves the head. Two transactions appending to one organization therefore take turns on the head
row, and neither can fork the chain; the unique (organization_id, seq) index would refuse a fork
anyway. The head is the last lock a transaction takes (organizations in sorted order, after
everything else was flushed), so it cannot deadlock with the rows the transaction changed.

What stays true: a committed audit row has a `seq`, a `prev_hash` and a `hash`; an edited row no
longer matches its hash, a deleted one leaves a gap in `seq` (or, at the end, a head that points
past the last row). `audit.verify` walks the chains and names the first broken link.
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session, SessionTransaction

from avnz.audit.models import AuditChainHead, AuditLog
from avnz.core import clock

VERSION = 1
GENESIS = "0" * 64  # the prev_hash of an organization's first row
_PENDING = "avnz.audit.unsealed"

# The columns a row's hash covers, in the order of the model (seq and prev_hash included).
HASHED_COLUMNS = (
    "id",
    "seq",
    "prev_hash",
    "timestamp",
    "organization_id",
    "client_id",
    "company_id",
    "actor_type",
    "user_id",
    "user_email",
    "action",
    "resource",
    "resource_id",
    "previous_value",
    "new_value",
    "ip_address",
    "user_agent",
    "request_id",
    "metadata",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return value


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of the row's hashed columns (keyed by column name) as canonical JSON."""
    content = {name: _canonical(row[name]) for name in HASHED_COLUMNS}
    content["v"] = VERSION
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def entry_values(entry: AuditLog) -> dict[str, Any]:
    """The row's hashed columns, read from the ORM object."""
    mapper = inspect(AuditLog)
    by_column = {prop.columns[0].name: prop.key for prop in mapper.column_attrs}
    return {name: getattr(entry, by_column[name]) for name in HASHED_COLUMNS}


def note(session: Session, entry: AuditLog) -> None:
    """Remember `entry` so it is linked into its chain when `session` commits."""
    session.info.setdefault(_PENDING, []).append(entry)


def _lock_head(session: Session, organization_id: str) -> tuple[int, str]:
    """The organization's head (seq, hash), locked until the commit; created on first use."""
    locked = (
        select(AuditChainHead.seq, AuditChainHead.hash)
        .where(AuditChainHead.organization_id == organization_id)
        .with_for_update()
    )
    head = session.execute(locked).one_or_none()
    if head is None:
        dialect = session.get_bind().dialect.name
        values = {
            "organization_id": organization_id,
            "seq": 0,
            "hash": GENESIS,
            "updated_at": clock.now(),
        }
        stmt: Any
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(AuditChainHead).values(values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(AuditChainHead).values(values).on_conflict_do_nothing()
        else:  # pragma: no cover - the two supported databases are above
            stmt = insert(AuditChainHead).values(values)
        session.execute(stmt)
        head = session.execute(locked).one()
    return int(head.seq), str(head.hash)


def seal(session: Session) -> None:
    """Link the session's new audit rows into their organizations' chains (before commit)."""
    noted: list[AuditLog] = session.info.pop(_PENDING, [])
    # A row added inside a savepoint that rolled back left the session: it is not appended.
    entries = [e for e in noted if (state := inspect(e)).pending or state.persistent]
    if not entries:
        return
    unflushed = [e for e in entries if inspect(e).pending]
    for entry in unflushed:
        session.expunge(entry)  # inserted once, already linked, after the head is locked
    session.flush()  # every other change first: the chain heads are the last locks taken
    by_organization: dict[str, list[AuditLog]] = {}
    for entry in entries:
        by_organization.setdefault(entry.organization_id, []).append(entry)
    for organization_id in sorted(by_organization):
        seq, last = _lock_head(session, organization_id)
        for entry in by_organization[organization_id]:
            if entry.timestamp is None:  # the column's default would come too late for the hash
                entry.timestamp = clock.now()
            seq += 1
            entry.seq, entry.prev_hash = seq, last
            entry.hash = last = row_hash(entry_values(entry))
        session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.organization_id == organization_id)
            .values(seq=seq, hash=last, updated_at=clock.now())
        )
    session.add_all(unflushed)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the unit of work ended (a rollback's rows are gone)
        session.info.pop(_PENDING, None)


event.listen(Session, "before_commit", seal)
event.listen(Session, "after_transaction_end", _forget)
