"""Merchant accounts (MIDs) and their usage counters.

An account's credentials are one AES-GCM ciphertext bound to the row and its company. Limits,
fees, restrictions and health are JSON documents validated by the Pydantic models in
`routing.accounts.schemas`; amounts in them are minor units of the account's `currency`.
"""

import enum
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
)
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base, Timestamped, id_column
from avnz.db.versions import ConfigVersioned, Scope
from avnz.integrations.models import ClientIntegration, PlatformIntegration
from avnz.security.keyring import EncryptedColumn, associated_data, register_encrypted


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"
    PENDING = "pending"
    CLOSED = "closed"  # soft-deleted: kept for the transactions that reference it


class AccountEnvironment(enum.StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO week, starting Monday
    MONTH = "month"
    YEAR = "year"


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    # Stored as the value string with a CHECK constraint, like the tenancy enums.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        validate_strings=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class MerchantAccount(ConfigVersioned, Timestamped, Base):
    __tablename__ = "merchant_accounts"
    __table_args__ = (Index("ix_merchant_accounts_company_status", "company_id", "status"),)

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    color: Mapped[str | None] = mapped_column(String(7))
    icon: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    # A name in avnz.gateways.registry.GATEWAYS; a plain string so a new gateway needs no
    # migration (the API validates against the registry).
    provider_type: Mapped[str] = mapped_column(String(32))
    merchant_id: Mapped[str | None] = mapped_column(String(64))
    descriptor: Mapped[str | None] = mapped_column(String(22))
    descriptor_phone: Mapped[str | None] = mapped_column(String(20))
    # JSON object of the provider's credentials, encrypted; None for platform-mode accounts,
    # which charge through the organization's platform integration.
    credentials_ciphertext: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[AccountEnvironment] = mapped_column(
        _enum(AccountEnvironment, "merchant_account_environment")
    )
    base_url: Mapped[str | None] = mapped_column(String(500))
    currency: Mapped[str] = mapped_column(String(3))

    status: Mapped[AccountStatus] = mapped_column(
        _enum(AccountStatus, "merchant_account_status"), default=AccountStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None]

    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fees: Mapped[dict[str, Any]] = mapped_column(default=dict)
    restrictions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    health_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)

    client_integration_id: Mapped[str | None] = mapped_column(
        ForeignKey(ClientIntegration.id, ondelete="SET NULL"), unique=True
    )
    platform_integration_id: Mapped[str | None] = mapped_column(
        ForeignKey(PlatformIntegration.id, ondelete="SET NULL"), index=True
    )
    is_from_integration: Mapped[bool] = mapped_column(default=False)

    @property
    def has_credentials(self) -> bool:
        return self.credentials_ciphertext is not None

    @property
    def credentials_mode(self) -> str:
        """`own` credentials, or `platform`: charged through the organization's integration."""
        return "own" if self.platform_integration_id is None else "platform"

    def config_scope(self) -> Scope:
        return Scope(companies={self.company_id})


def credentials_aad(row: Any) -> bytes:
    """Bind the credentials to their account and company: copied elsewhere they won't decrypt."""
    return associated_data("merchant_accounts", row["id"], row["company_id"])


register_encrypted(
    EncryptedColumn(MerchantAccount.__table__, "credentials_ciphertext", credentials_aad)  # type: ignore[arg-type]
)


class MerchantAccountUsage(Base):
    """One counter per account, period and period start: a new period is a new row, so nothing
    ever resets a counter, and a reservation is one conditional UPDATE of each row."""

    __tablename__ = "merchant_account_usage"

    # The primary key is the unique (account, period, period start) the upsert conflicts on.
    account_id: Mapped[str] = mapped_column(
        ForeignKey("merchant_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[Period] = mapped_column(_enum(Period, "usage_period"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    transaction_count: Mapped[int] = mapped_column(BigInteger, default=0)
    volume_minor: Mapped[int] = mapped_column(BigInteger, default=0)
