"""The circuit breaker: an account that keeps failing is left out of routing for a while.

State lives in `account_exclusions` (one row per account that ever failed), changed only by
single UPDATE statements whose arithmetic the database does, so any number of processes can
record outcomes at once without losing a count (PostgreSQL re-evaluates a waiting UPDATE against
the committed row; SQLite runs one writer at a time).

- closed: failures below the threshold; every account-level failure adds one, a success resets;
- open: the threshold was reached; `excluded_until` = now + `exclusion_seconds`;
- half-open: the exclusion expired. The failure count is kept, so the next attempt is a trial:
  one more failure opens the circuit again at once, a success closes it. A successful health
  check closes it early (`clear`).

Only account-level failures count (errors, timeouts, config errors, rate limiting): an issuer's
decline says nothing about the account (`failover.is_account_failure`).
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, case, literal, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.decisions.models import AccountCircuit

CIRCUITS: Table = cast(Table, AccountCircuit.__table__)

# INSERT … ON CONFLICT DO NOTHING, in each supported database's dialect.
_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}

# Built once: a success on an account with failures on record closes its circuit.
_CLOSE = (
    update(CIRCUITS)
    .where(
        CIRCUITS.c.account_id == bindparam("account"),
        or_(CIRCUITS.c.consecutive_failures > 0, CIRCUITS.c.excluded_until.is_not(None)),
    )
    .values(
        consecutive_failures=0,
        excluded_until=None,
        updated_at=bindparam("now", type_=CIRCUITS.c.updated_at.type),
    )
)


async def record_outcome(
    session: AsyncSession, account_id: str, ok: bool, config: FailoverConfig
) -> bool:
    """Count one attempt's result against the account: a failure adds one to its consecutive
    failures and, at `config.failure_threshold`, excludes it until now + `exclusion_seconds`; a
    success resets the count and ends any exclusion. Returns whether the account is excluded
    after this call. Pass `ok=not failover.is_account_failure(result)`."""
    if ok:
        await clear(session, account_id)
        return False
    now = clock.now()
    insert = _INSERTS[session.get_bind().dialect.name]
    await session.execute(
        insert(CIRCUITS)
        .values(account_id=account_id, consecutive_failures=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    failures = CIRCUITS.c.consecutive_failures + 1
    # Typed as the column, so every driver binds it as a timezone-aware timestamp.
    until = literal(
        now + timedelta(seconds=config.exclusion_seconds), CIRCUITS.c.excluded_until.type
    )
    result = await session.execute(
        update(CIRCUITS)
        .where(CIRCUITS.c.account_id == account_id)
        .values(
            consecutive_failures=failures,
            excluded_until=case(
                (failures >= config.failure_threshold, until), else_=CIRCUITS.c.excluded_until
            ),
            last_failure_at=now,
            updated_at=now,
        )
        .returning(CIRCUITS.c.excluded_until)
    )
    return _open_at(result.scalar_one(), now)


@dataclass(frozen=True, slots=True)
class Circuits:
    """The circuits of some accounts as routing reads them: which are open (left out now) and
    which have failures on record (a success on them must close the circuit; on any other
    account a success changes nothing and costs no write)."""

    excluded: frozenset[str] = frozenset()
    failing: frozenset[str] = frozenset()


def circuits_of(failing: Collection[tuple[str, datetime | None]], now: datetime) -> Circuits:
    """`Circuits` from the (account, excluded until) of the accounts with failures on record."""
    excluded = {account_id for account_id, until in failing if _open_at(until, now)}
    return Circuits(frozenset(excluded), frozenset(account_id for account_id, _ in failing))


def _open_at(excluded_until: datetime | None, now: datetime) -> bool:
    return excluded_until is not None and clock.as_utc(excluded_until) > now


async def clear(session: AsyncSession, account_id: str) -> bool:
    """Close the account's circuit (a health check reached its gateway): no exclusion, no
    failures counted. Returns whether there was anything to clear."""
    closing = {"account": account_id, "now": clock.now()}
    result = cast(CursorResult[Any], await session.execute(_CLOSE, closing))
    return result.rowcount > 0
