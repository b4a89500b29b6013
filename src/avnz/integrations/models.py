"""Third-party integrations: the providers we know (reference data), the organization's own
integrations (platform level) and each client's (own credentials, or the platform's).

Credentials are stored only as one AES-GCM ciphertext of their JSON, bound to table, row and
tenant; `credentials_mask` keeps what an API response may show of them (`••••1234`).
"""

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from avnz.db.base import Base, Timestamped, id_column
from avnz.gateways.base import Environment
from avnz.security.keyring import EncryptedColumn, associated_data, register_encrypted


class IntegrationCategory(enum.StrEnum):
    AUTHENTICATION = "AUTHENTICATION"
    PAYMENT_GATEWAY = "PAYMENT_GATEWAY"
    EMAIL_TRANSACTIONAL = "EMAIL_TRANSACTIONAL"
    EMAIL_MARKETING = "EMAIL_MARKETING"
    SMS = "SMS"
    VOICE = "VOICE"
    PUSH_NOTIFICATION = "PUSH_NOTIFICATION"
    AI_ML = "AI_ML"
    STORAGE = "STORAGE"
    MONITORING = "MONITORING"
    FEATURE_FLAGS = "FEATURE_FLAGS"
    WEBHOOK = "WEBHOOK"


class IntegrationProvider(enum.StrEnum):
    """The codes of the providers defined in `integrations/definitions.py` and of the built-in
    gateways, as constants. The catalogue is open: a gateway declares its own code
    (`GatewayPlugin.provider`), so the columns below are strings and the API checks a code
    against the live catalogue (`definitions.DEFINITIONS`), not against this enum."""

    AUTH0 = "AUTH0"
    OKTA = "OKTA"
    COGNITO = "COGNITO"
    PAYPAL_PAYFLOW = "PAYPAL_PAYFLOW"
    NMI = "NMI"
    AUTHORIZE_NET = "AUTHORIZE_NET"
    STRIPE = "STRIPE"
    AWS_SES = "AWS_SES"
    KLAVIYO = "KLAVIYO"
    AWS_SNS = "AWS_SNS"
    TWILIO = "TWILIO"
    AWS_BEDROCK = "AWS_BEDROCK"
    DATADOG = "DATADOG"
    SENTRY = "SENTRY"
    CLOUDWATCH = "CLOUDWATCH"
    SMTP = "SMTP"
    OLLAMA = "OLLAMA"
    ANTHROPIC = "ANTHROPIC"
    OPENAI_COMPATIBLE = "OPENAI_COMPATIBLE"


class DefinitionStatus(enum.StrEnum):
    AVAILABLE = "available"
    BETA = "beta"
    DEPRECATED = "deprecated"  # existing integrations keep working; no new ones


class IntegrationStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class IntegrationMode(enum.StrEnum):
    OWN = "own"  # the client's own account and credentials
    PLATFORM = "platform"  # the organization's account, billed back to the client


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # The value string, checked in Python: a new provider is a reference-data row, not DDL.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        validate_strings=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class IntegrationDefinition(Base):
    """What a provider needs (JSON Schemas) and who may configure it."""

    __tablename__ = "integration_definitions"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[IntegrationCategory] = mapped_column(
        _enum(IntegrationCategory, "integration_category"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(1000))
    logo_url: Mapped[str] = mapped_column(String(500))
    documentation_url: Mapped[str] = mapped_column(String(500))
    api_base_url: Mapped[str | None] = mapped_column(String(500))
    is_org_only: Mapped[bool]
    is_client_allowed: Mapped[bool]
    is_platform_offered: Mapped[bool]
    credential_schema: Mapped[dict[str, Any]]
    settings_schema: Mapped[dict[str, Any]]
    required_compliance: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[DefinitionStatus] = mapped_column(
        _enum(DefinitionStatus, "integration_definition_status"),
        default=DefinitionStatus.AVAILABLE,
    )


class PlatformIntegration(Timestamped, Base):
    """An organization-level integration: the platform's own IdP, email, gateways, AI..."""

    __tablename__ = "platform_integrations"

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    provider: Mapped[str] = mapped_column(
        String(32),
        ForeignKey("integration_definitions.provider"),
        index=True,
    )
    category: Mapped[IntegrationCategory] = mapped_column(
        _enum(IntegrationCategory, "integration_category")
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    credentials_ciphertext: Mapped[str | None] = mapped_column(Text)  # None once deleted
    credentials_mask: Mapped[dict[str, Any]] = mapped_column(default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    environment: Mapped[Environment] = mapped_column(
        _enum(Environment, "integration_environment"), default=Environment.SANDBOX
    )
    is_shared_with_clients: Mapped[bool] = mapped_column(default=False)
    client_pricing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[IntegrationStatus] = mapped_column(
        _enum(IntegrationStatus, "integration_status"), default=IntegrationStatus.ACTIVE
    )
    last_tested_at: Mapped[datetime | None]
    last_test_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deleted_at: Mapped[datetime | None]


class ClientIntegration(Timestamped, Base):
    """A client's integration: its own credentials (`own`) or a shared platform one."""

    __tablename__ = "client_integrations"
    __table_args__ = (
        # One default per client and category, enforced by the database (deleted rows drop it).
        Index(
            "uq_client_integrations_default",
            "client_id",
            "category",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    # The brand a payment gateway integration feeds (its MerchantAccount); None otherwise.
    company_id: Mapped[str | None] = mapped_column(ForeignKey("companies.id"), index=True)
    provider: Mapped[str] = mapped_column(
        String(32),
        ForeignKey("integration_definitions.provider"),
        index=True,
    )
    category: Mapped[IntegrationCategory] = mapped_column(
        _enum(IntegrationCategory, "integration_category")
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    mode: Mapped[IntegrationMode] = mapped_column(_enum(IntegrationMode, "integration_mode"))
    credentials_ciphertext: Mapped[str | None] = mapped_column(Text)  # None in platform mode
    credentials_mask: Mapped[dict[str, Any]] = mapped_column(default=dict)
    platform_integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("platform_integrations.id"), index=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    environment: Mapped[Environment] = mapped_column(
        _enum(Environment, "integration_environment"), default=Environment.SANDBOX
    )
    is_default: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[IntegrationStatus] = mapped_column(
        _enum(IntegrationStatus, "integration_status"), default=IntegrationStatus.ACTIVE
    )
    is_verified: Mapped[bool] = mapped_column(default=False)
    last_tested_at: Mapped[datetime | None]
    last_test_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deleted_at: Mapped[datetime | None]


class ClientIntegrationUsage(Base):
    """Platform-mode usage of one client integration in one calendar month (UTC), per currency:
    counters only ever incremented in SQL, so concurrent payments never lose an update."""

    __tablename__ = "client_integration_usage"

    client_integration_id: Mapped[str] = mapped_column(
        ForeignKey("client_integrations.id"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-11"
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    transaction_count: Mapped[int] = mapped_column(Integer, default=0)
    volume_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)


def credentials_aad(row: Any) -> bytes:
    """Bind an integration's credentials ciphertext to its table, row and tenant (organization
    for a platform integration, client for a client's). Takes an ORM row or a column mapping."""

    def value(name: str) -> str:
        return str(row[name] if isinstance(row, Mapping) else getattr(row, name))

    row_id = value("id")
    if row_id.startswith("cint_"):
        return associated_data("client_integrations", row_id, value("client_id"))
    return associated_data("platform_integrations", row_id, value("organization_id"))


register_encrypted(
    EncryptedColumn(PlatformIntegration.__table__, "credentials_ciphertext", credentials_aad)  # type: ignore[arg-type]
)
register_encrypted(
    EncryptedColumn(ClientIntegration.__table__, "credentials_ciphertext", credentials_aad)  # type: ignore[arg-type]
)
