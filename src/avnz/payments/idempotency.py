"""`Idempotency-Key`: a request sent twice with the same key and body runs once; the second
gets the first one's stored answer (same status, same body), even when both arrive together.

The guarantee is a primary key on (scope, key) in the database, not a check in Python:

1. The first request claims the key with an INSERT in its own short transaction. Everyone else
   hits the primary key and reads the row instead.
2. The winner runs the work (in its own sessions, which it commits itself) while a heartbeat
   keeps its claim's lease (`LEASE`) fresh, then stores the answer, 4xx errors included.
3. A loser with the same fingerprint waits (polling, at most `WAIT`) for the stored answer and
   gets it back with `Idempotent-Replayed: true`. Another fingerprint is refused with 422.
4. A 5xx or an unexpected error stores nothing: the claim is released and a retry runs again.
5. A claim whose winner died (no heartbeat for `LEASE`) can be taken over by a retry with the
   same fingerprint; a key whose 24 h (`TTL`) have passed is new again.
6. Work that must not be done twice (a charge) saves a recovery point on the claim in the same
   transaction that writes its resource (`save_recovery_point`). A retry that takes over a dead
   winner's claim finds it (`recovery_point`) and answers with that resource instead of
   starting again: a server killed after charging never leads to a second charge.

`scope` is whose key it is (the API key or user that sent it), so two callers never collide.
The fingerprint is an HMAC, not a bare hash: bodies hold card numbers, and a bare SHA-256 of a
PAN with a few known fields around it can be brute-forced.
"""

import asyncio
import contextlib
import contextvars
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from fastapi.responses import JSONResponse
from sqlalchemy import (
    JSON,
    CursorResult,
    String,
    Table,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock, context
from avnz.core.errors import AppError, Conflict, InvalidRequest, RateLimited, error_body
from avnz.db.base import Base
from avnz.db.engine import session_scope
from avnz.security.keyring import Keyring

log = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)
LEASE = timedelta(seconds=60)
WAIT = 30.0  # seconds a concurrent duplicate waits for the first request's answer
PURGE_EVERY = timedelta(hours=1)

IN_PROGRESS = "in_progress"
COMPLETED = "completed"

# A unit of work for the route's own sessions: commit at the end, then the after-commit hooks.
unit_of_work = contextlib.asynccontextmanager(session_scope)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    # The primary key is the guarantee: one row, hence one winner, per caller and key.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(32))  # the claim's token while in progress
    locked_until: Mapped[datetime | None]
    response_status: Mapped[int | None]
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IdempotencyKeyReused(AppError):
    status_code = 422
    default_code = "idempotency_key_reused"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What the work answered: an HTTP status and a JSON-ready body."""

    status: int
    body: Any


@dataclass(frozen=True, slots=True)
class Replay:
    """The answer to send, and whether it is a stored one being replayed."""

    response: StoredResponse
    replayed: bool

    def to_response(self) -> JSONResponse:
        headers = {REPLAYED_HEADER: "true"} if self.replayed else None
        return JSONResponse(self.response.body, status_code=self.response.status, headers=headers)


def validate_key(key: str) -> str:
    """The key as sent, or a 400 naming the header: 1-255 visible ASCII characters."""
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise InvalidRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters "
            "(a UUID is a good choice).",
            code="invalid_idempotency_key",
            param=HEADER,
        )
    return key


def canonical_body(body: bytes) -> str:
    """The body with JSON key order and whitespace normalised, so they do not change the
    fingerprint; a body that is not JSON is taken as it is."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "backslashreplace")
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(keyring: Keyring, *, scope: str, method: str, path: str, body: bytes) -> str:
    """HMAC-SHA256 of method, path (with query) and canonical body, keyed per deployment."""
    material = f"{method.upper()}\n{path}\n{canonical_body(body)}"
    return keyring.fingerprint(material, scope=f"idempotency:{scope}")


def _error_response(exc: AppError) -> StoredResponse:
    request = context.current()
    body = error_body(
        type_=exc.type,
        code=exc.code,
        message=exc.message,
        param=exc.param,
        request_id=request.request_id if request else None,
    )
    return StoredResponse(exc.status_code, body)


def _stores(response: StoredResponse) -> bool:
    # A 5xx means the work did not finish; a retry must run it again, not replay the failure.
    return response.status < 500


@dataclass(slots=True)
class _Claimed:
    owner: str
    resumes: str | None = None  # the recovery point a dead winner left behind
    taken: bool = True  # False: the work takes the claim itself, in its own transaction
    completed: bool = False  # the work stored its answer in its own last transaction


@dataclass(frozen=True, slots=True)
class _Running:
    """The claim the running work belongs to, so the work can take it, save its recovery point
    and store its answer in its own transactions."""

    scope: str
    key: str
    fingerprint: str
    claim: _Claimed


_CLAIM: contextvars.ContextVar[_Running | None] = contextvars.ContextVar(
    "idempotency_claim", default=None
)
RECOVERY_POINT = "recovery_point"

# Built once (SQLAlchemy otherwise rebuilds an expression and its cache key per call), as every
# keyed payment runs them: a new row, its columns named by the parameters (`_row`), and the
# statements on the running request's own claim (`_MINE`, parameters from `_mine`).
_KEYS = cast(Table, IdempotencyKey.__table__)
_INSERT_ROW = insert(_KEYS)
_MINE = (
    _KEYS.c.scope == bindparam("mine_scope"),
    _KEYS.c.key == bindparam("mine_key"),
    _KEYS.c.owner == bindparam("mine_owner"),
    _KEYS.c.state == IN_PROGRESS,
)
_BODY = _KEYS.c.response_body.type
_STORE_ANSWER = (
    update(_KEYS)
    .where(*_MINE)
    .values(
        state=COMPLETED,
        owner=None,
        locked_until=None,
        response_status=bindparam("answer_status"),
        response_body=bindparam("answer_body", type_=_BODY),
    )
)
_SAVE_RECOVERY_POINT = (
    update(_KEYS).where(*_MINE).values(response_body=bindparam("point", type_=_BODY))
)
# Released: a claim without a recovery point is deleted, one with it keeps it, lease ended.
_DELETE_CLAIM = delete(_KEYS).where(*_MINE, _KEYS.c.response_body.is_(None))
_END_LEASE = (
    update(_KEYS)
    .where(*_MINE)
    .values(locked_until=bindparam("now", type_=_KEYS.c.locked_until.type))
)


@dataclass(frozen=True, slots=True)
class _Stored:
    response: StoredResponse


class _Busy:
    pass


class _Gone:
    pass


_Outcome = _Claimed | _Stored | _Busy | _Gone


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def _insert(sessions: async_sessionmaker[AsyncSession], scope: str, key: str, fp: str) -> str:
    """Claim a key no one has used: a new row, committed at once. Raises IntegrityError when
    the key exists."""
    now, owner = clock.now(), secrets.token_hex(16)
    async with sessions.begin() as session:
        await session.execute(
            insert(IdempotencyKey).values(
                scope=scope,
                key=key,
                fingerprint=fp,
                state=IN_PROGRESS,
                owner=owner,
                locked_until=now + LEASE,
                created_at=now,
                expires_at=now + TTL,
            )
        )
    return owner


async def _inspect(
    sessions: async_sessionmaker[AsyncSession], scope: str, key: str, fp: str
) -> _Outcome:
    """Read an existing key: replay it, wait for it, or take it over when its time is up."""
    now, owner = clock.now(), secrets.token_hex(16)
    this = (IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(
                    IdempotencyKey.fingerprint,
                    IdempotencyKey.state,
                    IdempotencyKey.locked_until,
                    IdempotencyKey.expires_at,
                    IdempotencyKey.response_status,
                    IdempotencyKey.response_body,
                ).where(*this)
            )
        ).first()
        if row is None:
            return _Gone()  # released by a failed winner: try to claim it afresh
        if row.expires_at <= now:
            # 24 h are over: the key is new again, whatever it was used for.
            result = await session.execute(
                update(IdempotencyKey)
                .where(*this, IdempotencyKey.expires_at <= now)
                .values(
                    fingerprint=fp,
                    state=IN_PROGRESS,
                    owner=owner,
                    locked_until=now + LEASE,
                    response_status=None,
                    response_body=None,
                    created_at=now,
                    expires_at=now + TTL,
                )
            )
            return _Claimed(owner) if _rowcount(result) else _Busy()
        if row.fingerprint != fp:
            raise IdempotencyKeyReused(
                f"This {HEADER} was already used with another request (method, path or body). "
                "Use a new key for a new request.",
                param=HEADER,
            )
        if row.state == COMPLETED:
            return _Stored(StoredResponse(int(row.response_status), row.response_body))
        if row.locked_until is not None and row.locked_until <= now:
            # The winner stopped sending heartbeats (it crashed): this retry takes over.
            result = await session.execute(
                update(IdempotencyKey)
                .where(
                    *this,
                    IdempotencyKey.state == IN_PROGRESS,
                    IdempotencyKey.locked_until <= now,
                )
                .values(owner=owner, locked_until=now + LEASE)
            )
            if _rowcount(result):
                log.warning("idempotency_claim_taken_over", scope=scope)
                saved = row.response_body if isinstance(row.response_body, dict) else {}
                return _Claimed(owner, resumes=saved.get(RECOVERY_POINT))
        return _Busy()


async def _claim(
    sessions: async_sessionmaker[AsyncSession], scope: str, key: str, fp: str, wait: float
) -> _Claimed | _Stored:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    pause = 0.02
    while True:
        try:
            return _Claimed(await _insert(sessions, scope, key, fp))
        except IntegrityError:
            pass
        outcome = await _inspect(sessions, scope, key, fp)
        if isinstance(outcome, _Claimed | _Stored):
            return outcome
        if isinstance(outcome, _Gone):
            continue
        if loop.time() >= deadline:
            raise Conflict(
                f"A request with this {HEADER} is still being processed; retry shortly.",
                code="idempotency_key_in_progress",
                param=HEADER,
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.5)


async def _heartbeat(
    sessions: async_sessionmaker[AsyncSession], scope: str, key: str, owner: str
) -> None:
    """Keep the claim's lease fresh while the work runs, however long the gateway takes."""
    while True:
        await asyncio.sleep(LEASE.total_seconds() / 3)
        try:
            async with sessions.begin() as session:
                await session.execute(
                    update(IdempotencyKey)
                    .where(
                        IdempotencyKey.scope == scope,
                        IdempotencyKey.key == key,
                        IdempotencyKey.owner == owner,
                    )
                    .values(locked_until=clock.now() + LEASE)
                )
        except Exception:  # a missed beat is not fatal; the lease outlasts two of them
            log.warning("idempotency_heartbeat_failed", scope=scope, exc_info=True)


async def _stop(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _finish(
    sessions: async_sessionmaker[AsyncSession], running: _Running, response: StoredResponse | None
) -> None:
    """Store the answer (completed), or with None release the claim so a retry runs again. A
    claim the work was to take but never committed (it failed before) is written completed."""
    async with sessions.begin() as session:
        if response is None:
            await _release(session, running)
            return
        result = await session.execute(_STORE_ANSWER, _answer(running, response))
        stored = bool(_rowcount(result)) or (
            not running.claim.taken and await _insert_completed(session, running, response)
        )
    if not stored:
        log.warning("idempotency_claim_lost_before_store", scope=running.scope)


async def _release(session: AsyncSession, running: _Running) -> None:
    """Let a retry run the work again. A claim with a recovery point (the work wrote its
    resource, say a charge, then failed) is kept with its lease ended instead: the retry takes
    it over and answers from that resource rather than doing the work twice."""
    await session.execute(_DELETE_CLAIM, _mine(running))
    await session.execute(_END_LEASE, _mine(running) | {"now": clock.now()})


def _mine(running: _Running) -> dict[str, Any]:
    """`_MINE`'s parameters: the running request's claim."""
    return {
        "mine_scope": running.scope,
        "mine_key": running.key,
        "mine_owner": running.claim.owner,
    }


def _answer(running: _Running, response: StoredResponse) -> dict[str, Any]:
    """`_STORE_ANSWER`'s parameters: the running claim and its answer."""
    return _mine(running) | {"answer_status": response.status, "answer_body": response.body}


def _row(running: _Running, **values: Any) -> dict[str, Any]:
    """`_INSERT_ROW`'s parameters: a row for the running request's key with `values`."""
    now = clock.now()
    return {
        "scope": running.scope,
        "key": running.key,
        "fingerprint": running.fingerprint,
        "created_at": now,
        "expires_at": now + TTL,
        **values,
    }


async def _insert_completed(
    session: AsyncSession, running: _Running, response: StoredResponse
) -> bool:
    """The answer of work that failed before taking its claim; False when a duplicate holds
    the key by now (its own answer stands)."""
    try:
        async with session.begin_nested():
            completed = {"response_status": response.status, "response_body": response.body}
            row = _row(running, state=COMPLETED, owner=None, locked_until=None, **completed)
            await session.execute(_INSERT_ROW, row)
    except IntegrityError:
        return False
    return True


class _KeyTaken(Exception):
    """The work's own claim found the key already used: the usual path decides what to do."""


async def run_idempotent(
    sessions: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    execute: Callable[[], Awaitable[StoredResponse]],
    wait: float = WAIT,
    claimed_by_work: bool = False,
) -> Replay:
    """Run `execute` once per (scope, key) and fingerprint; every duplicate gets its answer.

    Without a key the work simply runs. `execute` commits its own changes (use its own
    sessions); an AppError it raises below 500 is the stored answer, a 5xx or any other
    exception releases the key and propagates. Raises IdempotencyKeyReused (422) for the same
    key with another fingerprint, and Conflict (409) when the first request is still running
    after `wait` seconds.

    `claimed_by_work`: the work takes the claim itself with `save_recovery_point` in its first
    write transaction and may store its answer with `store_answer` in its last one, which saves
    the two transactions of their own a claim and an answer otherwise take (the payment hot
    path). A key already used then rolls that transaction back and takes the usual path."""
    if key is None:
        return Replay(await execute(), replayed=False)
    validate_key(key)
    if claimed_by_work:
        try:
            lazy = _Claimed(secrets.token_hex(16), taken=False)
            return await _run_claimed(sessions, _Running(scope, key, fingerprint, lazy), execute)
        except _KeyTaken:
            pass  # replay it, wait for it, or take it over, as any duplicate would
    claim = await _claim(sessions, scope, key, fingerprint, wait)
    if isinstance(claim, _Stored):
        return Replay(claim.response, replayed=True)
    return await _run_claimed(sessions, _Running(scope, key, fingerprint, claim), execute)


async def _run_claimed(
    sessions: async_sessionmaker[AsyncSession],
    running: _Running,
    execute: Callable[[], Awaitable[StoredResponse]],
) -> Replay:
    scope, key, owner = running.scope, running.key, running.claim.owner
    beat = asyncio.create_task(_heartbeat(sessions, scope, key, owner))
    current = _CLAIM.set(running)
    try:
        try:
            response = await execute()
        except AppError as exc:
            if exc.status_code >= 500 or isinstance(exc, RateLimited):
                raise
            response = _error_response(exc)
    except BaseException:
        await _stop(beat)
        await _finish(sessions, running, None)
        raise
    finally:
        _CLAIM.reset(current)
    await _stop(beat)
    if not running.claim.completed:
        await _finish(sessions, running, response if _stores(response) else None)
    return Replay(response, replayed=False)


async def save_recovery_point(session: AsyncSession, resource_id: str) -> None:
    """Note on the running request's claim, in `session`'s transaction, the resource its work
    just wrote; without a keyed request it does nothing. A claim the work takes itself is taken
    here (raising _KeyTaken, which rolls this transaction back, when the key is in use)."""
    running = _CLAIM.get()
    if running is None:
        return
    if running.claim.taken:
        point = {RECOVERY_POINT: resource_id}
        await session.execute(_SAVE_RECOVERY_POINT, _mine(running) | {"point": point})
        return
    try:
        claim = _row(
            running,
            state=IN_PROGRESS,
            owner=running.claim.owner,
            locked_until=clock.now() + LEASE,
            response_body={RECOVERY_POINT: resource_id},
        )
        await session.execute(_INSERT_ROW, claim)
    except IntegrityError:
        raise _KeyTaken from None


async def store_answer(session: AsyncSession, response: StoredResponse) -> None:
    """Store the running request's answer in `session`'s transaction (its last one), instead of
    a transaction of its own after the work; without a keyed request it does nothing."""
    running = _CLAIM.get()
    if running is None or not _stores(response):
        return
    result = await session.execute(_STORE_ANSWER, _answer(running, response))
    running.claim.completed = bool(_rowcount(result))


def recovery_point() -> str | None:
    """The resource a dead request with this key had written, when this request took over its
    claim; None otherwise (the work starts from the beginning)."""
    running = _CLAIM.get()
    return running.claim.resumes if running is not None else None


async def purge_expired(session: AsyncSession, _payload: dict[str, Any]) -> datetime:
    """Delete keys past their 24 h, except a claim whose work is still running."""
    now = clock.now()
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.expires_at <= now,
            or_(IdempotencyKey.state == COMPLETED, IdempotencyKey.locked_until <= now),
        )
    )
    return now + PURGE_EVERY
