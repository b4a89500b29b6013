"""The card vault (one row per stored card, the PAN only as AES-GCM ciphertext), payments and
their refunds."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base, Timestamped, id_column, livemode_column
from avnz.payments.states import PaymentStatus
from avnz.security.keyring import EncryptedColumn, associated_data, register_encrypted


class PaymentMethodStatus(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class PaymentMethod(Timestamped, Base):
    __tablename__ = "payment_methods"
    # A card's vaulted rows in a company, in one index with the company's own.
    __table_args__ = (Index("ix_payment_methods_company_fingerprint", "company_id", "fingerprint"),)

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), index=True)
    livemode: Mapped[bool] = livemode_column()
    pan_ciphertext: Mapped[str | None] = mapped_column(String(200))  # None once deleted
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # across an organization
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
    # Keyed by the attribute: the payment path's statement binds every column by its key.
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, key="metadata_", default=dict
    )
    deleted_at: Mapped[datetime | None]


def pan_aad(row: Any) -> bytes:
    """Bind a PAN ciphertext to its row and company: copied anywhere else, it won't decrypt."""
    return associated_data("payment_methods", row["id"], row["company_id"])


register_encrypted(EncryptedColumn(PaymentMethod.__table__, "pan_ciphertext", pan_aad))  # type: ignore[arg-type]


class PaymentKind(enum.StrEnum):
    SALE = "sale"
    AUTHORIZE = "authorize"


class Payment(Timestamped, Base):
    """One payment at one merchant account. The card appears only as BIN, last four and brand;
    the routing decision, the gateway's answer and the fee are kept for every payment."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_company_created", "company_id", "id"),
        Index("ix_payments_status_created", "status", "created_at"),
        Index("ix_payments_account_created", "merchant_account_id", "created_at"),
        Index("ix_payments_method_created", "payment_method_id", "created_at"),  # card budget
        # The settled payments not yet published to routing and rules (`payments.publishing`).
        Index(
            "ix_payments_unpublished",
            "created_at",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_method_id: Mapped[str | None] = mapped_column(ForeignKey("payment_methods.id"))
    merchant_account_id: Mapped[str] = mapped_column(ForeignKey("merchant_accounts.id"))
    provider: Mapped[str] = mapped_column(String(32))
    livemode: Mapped[bool] = livemode_column()

    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), default=PaymentStatus.PENDING.value)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    amount_captured: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    platform_fee: Mapped[int] = mapped_column(BigInteger, default=0)  # platform-mode accounts
    # What a routing rule added to or took off the amount asked for; `amount` is what is charged.
    surcharge_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # A rule's review flag: {status, reason, severity, hold_funds, rule_id}; None when unflagged.
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    card_brand: Mapped[str | None] = mapped_column(String(16))
    card_bin: Mapped[str | None] = mapped_column(String(6))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_country: Mapped[str | None] = mapped_column(String(2))
    email: Mapped[str | None] = mapped_column(String(320))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    description: Mapped[str | None] = mapped_column(String(500))
    descriptor: Mapped[str | None] = mapped_column(String(25))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)

    # What the gateway said (the final attempt); raw codes kept for support and analytics.
    outcome: Mapped[str | None] = mapped_column(String(24))
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(64), index=True)
    auth_code: Mapped[str | None] = mapped_column(String(16))
    avs_result: Mapped[str | None] = mapped_column(String(16))
    cvv_result: Mapped[str | None] = mapped_column(String(16))
    raw_code: Mapped[str | None] = mapped_column(String(32))
    raw_message: Mapped[str | None] = mapped_column(String(200))
    gateway_latency_ms: Mapped[float | None]
    processing_ms: Mapped[float | None]
    routing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    # Capacity taken on the account at this instant; released if the payment does not go through.
    reserved_at: Mapped[datetime | None]
    # A capture or void sent and not yet answered: a second one must wait, a crash is inquired.
    pending_action: Mapped[str | None] = mapped_column(String(16))
    pending_amount: Mapped[int | None] = mapped_column(BigInteger)
    inquiries: Mapped[int] = mapped_column(default=0)
    completed_at: Mapped[datetime | None]
    # When the card network reported a chargeback for this payment (account health counts them).
    chargeback_at: Mapped[datetime | None]
    # How many accounts it was tried on (failover adds one each).
    attempt_count: Mapped[int] = mapped_column(default=1, server_default="1")
    # How many of those attempts the card's issuer declined: what the card retry budget counts.
    issuer_declines: Mapped[int] = mapped_column(default=0, server_default="0")
    # When its attempts and its rule's counts were handed to routing and rules; NULL: not yet.
    published_at: Mapped[datetime | None]

    # The status is the row's version: an ORM UPDATE holds only while the row still has the
    # status it was read with (or written with), so a payment settled by a request that never
    # re-read it cannot overwrite what the sweep settled meanwhile (StaleDataError instead).
    __mapper_args__ = {"version_id_col": status, "version_id_generator": False}  # noqa: RUF012


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(Timestamped, Base):
    __tablename__ = "refunds"

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    livemode: Mapped[bool] = livemode_column()  # its payment's
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(String(500))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    outcome: Mapped[str | None] = mapped_column(String(24))
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    gateway_refund_id: Mapped[str | None] = mapped_column(String(64))
    raw_code: Mapped[str | None] = mapped_column(String(32))
    raw_message: Mapped[str | None] = mapped_column(String(200))
