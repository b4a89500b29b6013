"""AuditLog (seed Week 2 Day 5): who changed what, from where, with before and after values;
and the head of each organization's hash chain over its audit rows (`audit.chain`)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock
from avnz.db.base import Base, id_column


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_org_time", "organization_id", "timestamp"),
        Index("ix_audit_logs_resource", "resource", "resource_id"),
        # A fork of an organization's chain (two rows with one sequence number) cannot commit.
        Index("uq_audit_logs_org_seq", "organization_id", "seq", unique=True),
    )

    id: Mapped[str] = id_column()
    timestamp: Mapped[datetime] = mapped_column(default=clock.now)
    organization_id: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str | None] = mapped_column(String(40), index=True)
    company_id: Mapped[str | None] = mapped_column(String(40), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(40), index=True)
    user_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(16))
    resource: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(40))
    previous_value: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new_value: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # The row's place in its organization's chain, set when its transaction commits
    # (`audit.chain.seal`); NULL only between `record` and that commit.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last link of an organization's chain. Appending locks this row, so two transactions
    never take the same sequence number; it also remembers the chain's length, so rows deleted
    from the end are noticed."""

    __tablename__ = "audit_chain_heads"

    organization_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
