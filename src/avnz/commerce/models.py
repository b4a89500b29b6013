"""Customers, products and orders: rows of one company, soft-deleted (`deleted_at`).

Amounts are integers in minor units next to their ISO 4217 currency. Addresses, line items,
custom fields and metadata are JSON documents validated by the Pydantic models in
`commerce.schemas` before they are written.
"""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base, Timestamped, id_column, livemode_column


class CustomerType(enum.StrEnum):
    NEW = "new"
    RETURNING = "returning"
    VIP = "vip"


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class CustomerStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    DELETED = "deleted"  # reached by DELETE only


class SubscriptionInterval(enum.StrEnum):
    MONTHLY = "monthly"
    YEARLY = "yearly"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    FAILED = "failed"


_LIVE = text("deleted_at IS NULL")


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


class Customer(Timestamped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        # One live customer per email (and per external id) in a company and mode; deleted ones
        # free it.
        Index(
            "uq_customers_company_email",
            "company_id",
            "livemode",
            "email",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        Index(
            "uq_customers_company_external_id",
            "company_id",
            "livemode",
            "external_id",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
    )

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    livemode: Mapped[bool] = livemode_column()

    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    external_id: Mapped[str | None] = mapped_column(String(100))

    type: Mapped[CustomerType] = mapped_column(
        _enum(CustomerType, "customer_type"), default=CustomerType.NEW
    )
    risk_level: Mapped[RiskLevel] = mapped_column(
        _enum(RiskLevel, "customer_risk_level"), default=RiskLevel.LOW
    )
    segments: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    status: Mapped[CustomerStatus] = mapped_column(
        _enum(CustomerStatus, "customer_status"), default=CustomerStatus.ACTIVE
    )

    # Written by payments (record_purchase / record_chargeback), never by API clients.
    # The lifetime value is kept in one currency: the one given at creation, else the first
    # purchase's.
    currency: Mapped[str | None] = mapped_column(String(3))
    lifetime_value: Mapped[int] = mapped_column(BigInteger, default=0)
    payments_count: Mapped[int] = mapped_column(Integer, default=0)
    chargeback_count: Mapped[int] = mapped_column(Integer, default=0)
    # Percent of successful payments charged back, 4 decimals ("2.5" is 2.5 %).
    chargeback_rate: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))
    last_purchase_at: Mapped[datetime | None]

    deleted_at: Mapped[datetime | None]


class Product(Timestamped, Base):
    __tablename__ = "products"
    __table_args__ = (
        Index(
            "uq_products_company_sku",
            "company_id",
            "livemode",
            "sku",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
    )

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    livemode: Mapped[bool] = livemode_column()

    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(64))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    is_subscription: Mapped[bool] = mapped_column(default=False)
    interval: Mapped[SubscriptionInterval | None] = mapped_column(
        _enum(SubscriptionInterval, "subscription_interval")
    )
    trial_days: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    deleted_at: Mapped[datetime | None]


class Order(Timestamped, Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_company_status", "company_id", "status"),)

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    livemode: Mapped[bool] = livemode_column()
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)

    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))
    # Computed by the server from the line items and the amounts below, never taken as input.
    subtotal: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)

    is_renewal: Mapped[bool] = mapped_column(default=False)
    is_trial: Mapped[bool] = mapped_column(default=False)
    status: Mapped[OrderStatus] = mapped_column(
        _enum(OrderStatus, "order_status"), default=OrderStatus.PENDING
    )
    status_changed_at: Mapped[datetime | None]
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    deleted_at: Mapped[datetime | None]
