"""Routing's own record of what happened at each account: one row per (payment, attempt), with
the facts the strategies, health scores and pool stats compare (outcome, latency, card brand and
country, amount). The payments domain hands them over once a payment is settled
(`record_attempts`); routing never reads the payments tables.

Recording is idempotent: a (payment, attempt) already recorded is left as it is, so a
publication retried after a crash never counts an attempt twice.
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core.ids import new_id
from avnz.gateways.base import Outcome
from avnz.routing.models import RoutingAttempt

ATTEMPTS: Table = cast(Table, RoutingAttempt.__table__)

# INSERT … ON CONFLICT DO NOTHING, in each supported database's dialect.
_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
# Outcomes that say nothing sure about the account: the charge may exist, its answer was lost.
IN_DOUBT = frozenset({Outcome.TIMEOUT_AFTER_SEND.value})


@dataclass(frozen=True, slots=True)
class AttemptFacts:
    """One attempt of a payment at an account, as routing keeps it."""

    payment_id: str
    organization_id: str
    client_id: str
    company_id: str
    pool_id: str | None
    account_id: str
    attempt: int  # 1 for the first account
    outcome: str
    decline_reason: str | None
    latency_ms: float
    step: str  # what failover did next: try_next, stop or inquire
    amount: int
    currency: str
    card_brand: str | None
    card_country: str | None
    created_at: datetime


async def record_attempts(session: AsyncSession, facts: Sequence[AttemptFacts]) -> None:
    """Keep these attempts (in `session`'s transaction); one already kept is not kept again."""
    if not facts:
        return
    insert = _INSERTS[session.get_bind().dialect.name](ATTEMPTS)
    rows = [{"id": new_id("ratt"), **asdict(fact)} for fact in facts]
    await session.execute(
        insert.on_conflict_do_nothing(index_elements=["payment_id", "attempt"]), rows
    )
