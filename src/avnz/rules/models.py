"""Routing rules as stored: the rule, its version snapshots, its daily hit and outcome counters
per A/B arm, and the per-company rule-set version the engine's caches compare against.

`conditions`, `actions`, `schedule` and `ab_test` hold what `rules.conditions`, `rules.actions`,
`rules.schedule` and `rules.variants` validated, dumped as JSON; readers parse them again.
A deleted rule keeps its row (`deleted_at`): routing decisions name it and its version.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock
from avnz.db.base import Base, Timestamped, id_column
from avnz.rules.variants import Arm as Arm  # the stats' column type, named here too


class RoutingRule(Timestamped, Base):
    __tablename__ = "routing_rules"
    __table_args__ = (
        Index("ix_routing_rules_company_priority", "company_id", "priority"),
        # At most one default rule per company; the service unsets the others first.
        Index(
            "uq_routing_rules_company_default",
            "company_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int]  # lower runs first
    is_active: Mapped[bool] = mapped_column(default=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ab_test: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    hit_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hit_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class RuleVersion(Base):
    """What a rule looked like at one version; version 1 is written on create."""

    __tablename__ = "routing_rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[str] = id_column()
    rule_id: Mapped[str] = mapped_column(ForeignKey("routing_rules.id", ondelete="CASCADE"))
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    version: Mapped[int]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class RuleDailyStats(Base):
    """Hits and payment outcomes of one rule, one UTC day and one arm; only ever changed by
    single upsert statements (`rules.analytics`), so concurrent payments cannot lose a count."""

    __tablename__ = "routing_rule_daily_stats"

    rule_id: Mapped[str] = mapped_column(
        ForeignKey("routing_rules.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    arm: Mapped[Arm] = mapped_column(
        Enum(
            Arm,
            name="routing_rule_arm",
            native_enum=False,
            validate_strings=True,
            length=16,
            values_callable=lambda members: [m.value for m in members],
        ),
        primary_key=True,
    )
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    successes: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)


class RuleSetVersion(Base):
    """A counter per company, raised in the same transaction as every change to its rules: an
    engine whose cached compilation carries an older number recompiles."""

    __tablename__ = "routing_rule_sets"

    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
