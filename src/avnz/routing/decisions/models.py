"""Routing's decisions' tables: each account's circuit breaker and routing's own record of
each attempt (the facts its strategies, health scores and pool stats read).
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base, id_column
from avnz.gateways.base import Outcome

# Outcomes that say nothing sure about the account: the charge may exist, its answer was lost.
IN_DOUBT = frozenset({Outcome.TIMEOUT_AFTER_SEND.value})


class AccountCircuit(Base):
    """An account's circuit breaker: consecutive account-level failures and, once they reach the
    pool's threshold, the time until which routing leaves the account out. Changed only by
    single UPDATE statements (`routing.decisions.circuit_breaker`), so several processes can
    share it."""

    __tablename__ = "account_exclusions"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("merchant_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    excluded_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class RoutingAttempt(Base):
    """What routing learns from one attempt at one account: the facts its strategies, health
    scores and pool stats read, so routing never reads the payments tables.
    Written once per (payment, attempt) when the payments domain publishes a settled payment
    (`routing.decisions.service.record_attempts`), off the payment's own transaction."""

    __tablename__ = "routing_attempts"
    __table_args__ = (
        Index("ix_routing_attempts_payment_attempt", "payment_id", "attempt", unique=True),
        Index("ix_routing_attempts_account_created", "account_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    # No foreign keys to payments or pools: a record of the past outlives what it names.
    payment_id: Mapped[str] = mapped_column(String(40))
    organization_id: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(String(40))
    company_id: Mapped[str] = mapped_column(String(40))
    pool_id: Mapped[str | None] = mapped_column(String(40))
    account_id: Mapped[str] = mapped_column(ForeignKey("merchant_accounts.id", ondelete="CASCADE"))
    attempt: Mapped[int]  # 1 for the first account
    outcome: Mapped[str] = mapped_column(String(24))
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    latency_ms: Mapped[float]
    step: Mapped[str] = mapped_column(String(16))  # what failover did next
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    card_brand: Mapped[str | None] = mapped_column(String(16))
    card_country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime]
