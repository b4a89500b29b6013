"""Webhook endpoints (a company's receiving URLs) and the deliveries of events to them.

An endpoint's signing secret is one AES-GCM ciphertext bound to the row and its company; during
a rotation the previous secret is kept (also encrypted) until `previous_secret_expires_at`.
A delivery is one event for one endpoint, with its attempts; it never holds the secret.
"""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from avnz.core import clock
from avnz.db.base import Base, Timestamped, id_column, livemode_column
from avnz.security.keyring import EncryptedColumn, associated_data, register_encrypted


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or being attempted)
    SUCCEEDED = "succeeded"  # the endpoint answered 2xx
    FAILED = "failed"  # every attempt failed, or the endpoint was disabled


class WebhookEndpoint(Timestamped, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    livemode: Mapped[bool] = livemode_column()  # it receives the events of its mode only
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)  # names, `*` or `prefix.*`
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    secret_ciphertext: Mapped[str] = mapped_column(String(200))
    previous_secret_ciphertext: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    client_id: Mapped[str] = mapped_column(String(40))
    company_id: Mapped[str] = mapped_column(String(40), index=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    event_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    response_status: Mapped[int | None]
    latency_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    resend_of: Mapped[str | None] = mapped_column(String(40))  # the delivery a resend repeats
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def secret_aad(row: Any) -> bytes:
    """Bind a signing secret to its endpoint and company: copied elsewhere, it won't decrypt."""
    return associated_data("webhook_endpoints", row["id"], row["company_id"])


def previous_secret_aad(row: Any) -> bytes:
    return associated_data("webhook_endpoints.previous", row["id"], row["company_id"])


register_encrypted(EncryptedColumn(WebhookEndpoint.__table__, "secret_ciphertext", secret_aad))  # type: ignore[arg-type]
register_encrypted(
    EncryptedColumn(
        WebhookEndpoint.__table__,  # type: ignore[arg-type]
        "previous_secret_ciphertext",
        previous_secret_aad,
    )
)
