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
6. Work that must not be done twice (a charge) is handed its `Claim` and takes it in the same
   transaction that writes its resource (`take`: the key and a recovery point, or just the
   recovery point on a claim already held), then stores its answer in its last transaction
   (`store_answer`); `run_claiming` runs such work. A retry that takes over a dead winner's
   claim finds the recovery point (`Claim.resumes`) and answers with that resource instead of
   starting again: a server killed after charging never leads to a second charge.

`scope` is whose key it is (the API key or user that sent it), so two callers never collide.
The fingerprint is an HMAC, not a bare hash: bodies hold card numbers, and a bare SHA-256 of a
PAN with a few known fields around it can be brute-forced.
"""

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from fastapi.responses import JSONResponse, Response
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
from sqlalchemy.dialects import postgresql, sqlite
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

    def to_response(self) -> Response:
        headers = {REPLAYED_HEADER: "true"} if self.replayed else None
        if self.response.body is None:  # an answer without a body (204)
            return Response(status_code=self.response.status, headers=headers)
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


@dataclass(slots=True)
class Claim:
    """A request's hold on its key while its work runs, handed to work that takes it itself
    (`run_claiming`): `take` it with the resource the work writes, `store_answer` at the end."""

    scope: str
    key: str
    fingerprint: str
    owner: str
    resumes: str | None = None  # the resource a dead request with this key had written
    taken: bool = True  # False: the work takes the key itself, in its own transaction
    # The answer the work stored in its own last transaction (None: the run stores it).
    stored: StoredResponse | None = None


@dataclass(frozen=True, slots=True)
class KeyInUse:
    """What work answers when `take` found its key already used: the run replays, waits for
    or takes over the other request, as any duplicate does."""


ClaimingWork = Callable[[Claim | None], Awaitable[StoredResponse | KeyInUse]]

RECOVERY_POINT = "recovery_point"

# Built once (SQLAlchemy otherwise rebuilds an expression and its cache key per call), as every
# keyed payment runs them: a new row, its columns named by the parameters (`_row`), and the
# statements on the running request's own claim (`_MINE`, parameters from `_mine`).
_KEYS = cast(Table, IdempotencyKey.__table__)
_INSERT_ROW = insert(_KEYS)
# A key taken by the work itself: the row, unless the key exists (then no row comes back).
_TAKE: dict[str, Any] = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_KEYS)
    .on_conflict_do_nothing(index_elements=["scope", "key"])
    .returning(_KEYS.c.key)
    for dialect in (postgresql, sqlite)
}
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
    sessions: async_sessionmaker[AsyncSession], claim: Claim, response: StoredResponse | None
) -> None:
    """Store the answer (completed), or with None release the claim so a retry runs again. A
    claim the work was to take but never committed (it failed before) is written completed."""
    async with sessions.begin() as session:
        if response is None:
            await _release(session, claim)
            return
        result = await session.execute(_STORE_ANSWER, _answer(claim, response))
        stored = bool(_rowcount(result)) or (
            not claim.taken and await _insert_completed(session, claim, response)
        )
    if not stored:
        log.warning("idempotency_claim_lost_before_store", scope=claim.scope)


async def _release(session: AsyncSession, claim: Claim) -> None:
    """Let a retry run the work again. A claim with a recovery point (the work wrote its
    resource, say a charge, then failed) is kept with its lease ended instead: the retry takes
    it over and answers from that resource rather than doing the work twice."""
    await session.execute(_DELETE_CLAIM, _mine(claim))
    await session.execute(_END_LEASE, _mine(claim) | {"now": clock.now()})


def _mine(claim: Claim) -> dict[str, Any]:
    """`_MINE`'s parameters: the running request's claim."""
    return {"mine_scope": claim.scope, "mine_key": claim.key, "mine_owner": claim.owner}


def _answer(claim: Claim, response: StoredResponse) -> dict[str, Any]:
    """`_STORE_ANSWER`'s parameters: the running claim and its answer."""
    return _mine(claim) | {"answer_status": response.status, "answer_body": response.body}


def _row(claim: Claim, **values: Any) -> dict[str, Any]:
    """`_INSERT_ROW`'s parameters: a row for the running request's key with `values`."""
    now = clock.now()
    return {
        "scope": claim.scope,
        "key": claim.key,
        "fingerprint": claim.fingerprint,
        "created_at": now,
        "expires_at": now + TTL,
        **values,
    }


async def _insert_completed(session: AsyncSession, claim: Claim, response: StoredResponse) -> bool:
    """The answer of work that failed before taking its claim; False when a duplicate holds
    the key by now (its own answer stands)."""
    try:
        async with session.begin_nested():
            completed = {"response_status": response.status, "response_body": response.body}
            row = _row(claim, state=COMPLETED, owner=None, locked_until=None, **completed)
            await session.execute(_INSERT_ROW, row)
    except IntegrityError:
        return False
    return True


async def run_idempotent(
    sessions: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    execute: Callable[[], Awaitable[StoredResponse]],
    wait: float = WAIT,
) -> Replay:
    """Run `execute` once per (scope, key) and fingerprint; every duplicate gets its answer.

    Without a key the work simply runs. `execute` commits its own changes (use its own
    sessions); an AppError it raises below 500 is the stored answer, a 5xx or any other
    exception releases the key and propagates. Raises IdempotencyKeyReused (422) for the same
    key with another fingerprint, and Conflict (409) when the first request is still running
    after `wait` seconds."""
    if key is None:
        return Replay(await execute(), replayed=False)
    validate_key(key)
    found = await _claim(sessions, scope, key, fingerprint, wait)
    if isinstance(found, _Stored):
        return Replay(found.response, replayed=True)
    claim = Claim(scope, key, fingerprint, found.owner, found.resumes)
    run = await _run_claimed(sessions, claim, _NotClaiming(execute))
    assert isinstance(run, Replay)  # work that does not claim never finds its key in use
    return run


async def run_claiming(
    sessions: async_sessionmaker[AsyncSession],
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    work: ClaimingWork,
    wait: float = WAIT,
    lazy: bool = True,
) -> Replay:
    """`run_idempotent` for work handed its `Claim`, which it takes (`take`) with the resource
    it writes and may answer in its last transaction (`store_answer`). `lazy` (the payment hot
    path): the key itself is taken by the work's first write transaction, which saves the two
    transactions of their own a claim and an answer otherwise take; when `take` finds the key in
    use the work answers KeyInUse, and the run goes the usual way of a duplicate. Otherwise the
    key is claimed first, and `take` only records the resource (a refund's)."""
    if key is None:
        answer = await work(None)
        assert isinstance(answer, StoredResponse)  # without a key there is nothing to take
        return Replay(answer, replayed=False)
    validate_key(key)
    if lazy:
        first = Claim(scope, key, fingerprint, secrets.token_hex(16), taken=False)
        run = await _run_claimed(sessions, first, work)
        if isinstance(run, Replay):
            return run
    found = await _claim(sessions, scope, key, fingerprint, wait)
    if isinstance(found, _Stored):
        return Replay(found.response, replayed=True)
    claim = Claim(scope, key, fingerprint, found.owner, found.resumes)
    taken_over = await _run_claimed(sessions, claim, work)
    assert isinstance(taken_over, Replay)  # the claim is held: `take` cannot find it in use
    return taken_over


@dataclass(frozen=True, slots=True)
class _NotClaiming:
    """Work of `run_idempotent`, which never sees its claim."""

    execute: Callable[[], Awaitable[StoredResponse]]

    async def __call__(self, _claim: Claim | None) -> StoredResponse:
        return await self.execute()


async def _run_claimed(
    sessions: async_sessionmaker[AsyncSession], claim: Claim, work: ClaimingWork
) -> Replay | KeyInUse:
    beat = asyncio.create_task(_heartbeat(sessions, claim.scope, claim.key, claim.owner))
    try:
        try:
            answer = await work(claim)
        except AppError as exc:
            if exc.status_code >= 500 or isinstance(exc, RateLimited):
                raise
            answer = _error_response(exc)
    except BaseException:
        await _stop(beat)
        await _finish(sessions, claim, None)
        raise
    await _stop(beat)
    if isinstance(answer, KeyInUse):
        return answer
    if claim.stored is None:
        await _finish(sessions, claim, answer if _stores(answer) else None)
    return Replay(answer, replayed=False)


async def take(session: AsyncSession, claim: Claim, resource_id: str) -> bool:
    """Take the claim in `session`'s transaction with the resource its work writes there (the
    recovery point a retry resumes from); False, with nothing written, when the key is in use
    by another request (the work then answers KeyInUse)."""
    point = {RECOVERY_POINT: resource_id}
    if claim.taken:
        await session.execute(_SAVE_RECOVERY_POINT, _mine(claim) | {"point": point})
        return True
    row = _row(
        claim,
        state=IN_PROGRESS,
        owner=claim.owner,
        locked_until=clock.now() + LEASE,
        response_body=point,
    )
    # `claim.taken` stays False: this transaction may still roll back (a refusal after it), and
    # then the answer is written as a new row (`_finish`).
    return await session.scalar(_TAKE[session.get_bind().dialect.name], row) is not None


async def store_answer(session: AsyncSession, claim: Claim, response: StoredResponse) -> None:
    """Store the claim's answer in `session`'s transaction (the work's last one), instead of a
    transaction of its own after the work."""
    if not _stores(response):
        return
    result = await session.execute(_STORE_ANSWER, _answer(claim, response))
    if _rowcount(result):
        claim.stored = response


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
