"""The card vault: one row per stored card, the PAN only as AES-GCM ciphertext."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base, Timestamped, id_column
from avnz.security.keyring import EncryptedColumn, associated_data, register_encrypted


class PaymentMethodStatus(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class PaymentMethod(Timestamped, Base):
    __tablename__ = "payment_methods"

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    pan_ciphertext: Mapped[str | None] = mapped_column(String(200))  # None once deleted
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    bin: Mapped[str] = mapped_column(String(6))
    last4: Mapped[str] = mapped_column(String(4))
    brand: Mapped[str] = mapped_column(String(16))
    card_type: Mapped[str] = mapped_column(String(16))
    issuing_country: Mapped[str | None] = mapped_column(String(2))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    holder_name: Mapped[str | None] = mapped_column(String(200))
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PaymentMethodStatus.ACTIVE.value)
    deleted_at: Mapped[datetime | None]


def pan_aad(row: Any) -> bytes:
    """Bind a PAN ciphertext to its row and company: copied anywhere else, it won't decrypt."""
    return associated_data("payment_methods", row["id"], row["company_id"])


register_encrypted(EncryptedColumn(PaymentMethod.__table__, "pan_ciphertext", pan_aad))  # type: ignore[arg-type]
