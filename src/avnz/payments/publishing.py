"""Settled payments handed to the domains that learn from them, off the payment's own
transaction: routing keeps each attempt's facts (`routing.decisions.service`), rules count each
matched payment's hit and outcome (`rules.analytics`).

A payment is published once: the batch is read, handed over and marked `published_at` in one
transaction, so a crash loses none and counts none twice (PostgreSQL: `FOR UPDATE SKIP LOCKED`
lets several workers publish side by side; SQLite has one writer). Two triggers: the process
that settled a payment asks for a publication right after its commit (`Publisher.soon`), and
the worker's job `payments.publish` catches whatever a process left behind when it died.
"""

import asyncio
import weakref
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.core import clock
from avnz.payments.models import Payment
from avnz.payments.states import APPROVED, PaymentStatus
from avnz.routing.decisions.service import AttemptFacts, record_attempts
from avnz.rules.analytics import RuleOutcome, count_payments

log = structlog.get_logger(__name__)

BATCH = 500
PUBLISH_EVERY = timedelta(seconds=5)
SOON_SECONDS = 0.05  # a burst of payments is published in one batch

_UNPUBLISHED = (
    select(Payment)
    .where(Payment.published_at.is_(None), Payment.status != PaymentStatus.PENDING.value)
    .order_by(Payment.created_at)
    .with_for_update(skip_locked=True)
)


async def publish_settled(session: AsyncSession, limit: int = BATCH) -> int:
    """Hand up to `limit` settled, unpublished payments to routing and rules and mark them
    published, in `session`'s transaction; returns how many."""
    payments = (await session.scalars(_UNPUBLISHED.limit(limit))).all()
    if not payments:
        return 0
    await record_attempts(session, [fact for p in payments for fact in attempt_facts(p)])
    await count_payments(session, [o for p in payments if (o := rule_outcome(p)) is not None])
    await session.execute(
        update(Payment)
        .where(Payment.id.in_([p.id for p in payments]))
        .values(published_at=clock.now())
    )
    return len(payments)


def attempt_facts(payment: Payment) -> list[AttemptFacts]:
    """The payment's attempts as routing keeps them."""
    routing = payment.routing or {}
    return [
        AttemptFacts(
            payment_id=payment.id,
            organization_id=payment.organization_id,
            client_id=payment.client_id,
            company_id=payment.company_id,
            pool_id=routing.get("pool_id"),
            account_id=attempt["account_id"],
            attempt=attempt["attempt"],
            outcome=attempt["outcome"],
            decline_reason=attempt["decline_reason"],
            latency_ms=attempt["latency_ms"],
            step=attempt["step"],
            amount=payment.amount,
            currency=payment.currency,
            card_brand=payment.card_brand,
            card_country=payment.card_country,
            created_at=datetime.fromisoformat(attempt["created_at"]),
        )
        for attempt in routing.get("attempts", ())
    ]


def rule_outcome(payment: Payment) -> RuleOutcome | None:
    """The payment as its rule counts it; None when no rule matched it."""
    routing = payment.routing or {}
    if not routing.get("rule_id"):
        return None
    return RuleOutcome(
        rule_id=routing["rule_id"],
        arm=routing.get("rule_arm", "control"),
        at=payment.created_at,
        succeeded=PaymentStatus(payment.status) in APPROVED,
    )


class Publisher:
    """Publishes soon after a payment settles, in a task of this process, one batch per burst."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._task: asyncio.Task[None] | None = None

    def soon(self) -> None:
        """Ask for a publication shortly (a call while one is pending adds nothing)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._publish())

    async def drain(self) -> None:
        """Wait for the pending publication, then publish whatever is left."""
        await self.close()
        while await self.publish_now():
            pass

    async def close(self) -> None:
        """Let the pending publication finish (a clean shutdown loses no work; the worker's job
        publishes what a crash left)."""
        if self._task is not None:
            await self._task

    async def publish_now(self) -> int:
        async with self._sessions.begin() as session:
            return await publish_settled(session)

    async def _publish(self) -> None:
        await asyncio.sleep(SOON_SECONDS)
        try:
            await self.publish_now()
        except Exception:  # the worker's job publishes it later; a payment never waits on this
            log.warning("payments.publish_failed", exc_info=True)


_PUBLISHERS: "weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], Publisher]" = (
    weakref.WeakKeyDictionary()
)


def publisher_for(sessions: async_sessionmaker[AsyncSession]) -> Publisher:
    """This process's publisher for the database behind `sessions` (one per database)."""
    publisher = _PUBLISHERS.get(sessions)
    if publisher is None:
        publisher = _PUBLISHERS[sessions] = Publisher(sessions)
    return publisher


async def publish_job(session: AsyncSession, _payload: dict[str, Any]) -> datetime:
    """The worker's `payments.publish`: one batch now, the next at once while there is more."""
    published = await publish_settled(session)
    return clock.now() if published >= BATCH else clock.now() + PUBLISH_EVERY
