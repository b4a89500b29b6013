"""A dispute of one payment, as its gateway reported it (newest report wins)."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base, Timestamped, id_column


class DisputeStatus(enum.StrEnum):
    OPEN = "open"  # needs a response, or under review by the issuer
    WON = "won"
    LOST = "lost"


class Dispute(Timestamped, Base):
    __tablename__ = "disputes"
    __table_args__ = (
        UniqueConstraint("provider", "gateway_dispute_id"),
        Index("ix_disputes_account_opened", "merchant_account_id", "opened_at"),
    )

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    merchant_account_id: Mapped[str] = mapped_column(ForeignKey("merchant_accounts.id"))
    provider: Mapped[str] = mapped_column(String(32))
    gateway_dispute_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    gateway_status: Mapped[str | None] = mapped_column(String(40))  # e.g. needs_response
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    card_brand: Mapped[str | None] = mapped_column(String(16))
    evidence_due_by: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
