"""Request and response models of the integration endpoints. Credentials go in as a JSON object
checked against the provider's JSON Schema and come out masked (`••••1234`)."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from avnz.core.choices import OneOf
from avnz.gateways.base import Environment
from avnz.integrations import definitions
from avnz.integrations.models import (
    DefinitionStatus,
    IntegrationCategory,
    IntegrationMode,
    IntegrationStatus,
)
from avnz.tenancy.schemas import Audited, JsonObject, Name, ObjectId, Out, StrictModel

Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


# A provider code an integration may be created with: one the catalogue defines now.
ProviderCode = Annotated[str, OneOf(lambda: sorted(definitions.DEFINITIONS))]


def _utf8(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse lone surrogates (valid in a JSON string, not in UTF-8): they cannot be stored
    or sent back."""
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid UTF-8 text") from None
        elif isinstance(item, dict):
            pending.extend([*item.keys(), *item.values()])
        elif isinstance(item, list):
            pending.extend(item)
    return value


Utf8Object = Annotated[JsonObject, AfterValidator(_utf8)]
Credentials = Annotated[
    Utf8Object,
    Field(
        description="Checked against the provider's `credential_schema`; write-only, stored "
        "encrypted and shown masked.",
        json_schema_extra={"writeOnly": True},
    ),
]
CredentialChanges = Annotated[
    Utf8Object,
    Field(
        max_length=50,
        description="Merged into the stored credentials (which cannot be read back): a field "
        "set to null is removed, fields left out are kept.",
        json_schema_extra={"writeOnly": True},
    ),
]
Settings = Annotated[
    Utf8Object,
    Field(description="Checked against the provider's `settings_schema`; replaces the old ones."),
]

DEFAULT_PERCENT = Decimal("0.5")
DEFAULT_FLAT_MINOR = 10


class ClientPricing(StrictModel):
    """What the platform charges a client per transaction through a shared integration."""

    percent: Decimal = Field(
        default=DEFAULT_PERCENT,
        ge=0,
        le=100,
        max_digits=7,
        decimal_places=4,
        description="Percent of each transaction's amount (0.5 means 0.5 %).",
    )
    flat_minor: int = Field(
        default=DEFAULT_FLAT_MINOR,
        ge=0,
        le=1_000_000,
        description="Fixed fee per transaction in minor units of the transaction's currency.",
    )

    def fee(self, amount_minor: int) -> int:
        """The fee on one transaction: the percentage rounded half-up to the minor unit, plus
        the flat part."""
        share = (Decimal(amount_minor) * self.percent / 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return int(share) + self.flat_minor

    def stored(self) -> dict[str, Any]:
        return {"percent": str(self.percent), "flat_minor": self.flat_minor}


class DefinitionOut(Out):
    provider: str
    category: IntegrationCategory
    name: str
    description: str
    logo_url: str
    documentation_url: str
    api_base_url: str | None
    is_org_only: bool
    is_client_allowed: bool
    is_platform_offered: bool
    credential_schema: dict[str, Any]
    settings_schema: dict[str, Any]
    required_compliance: list[str]
    status: DefinitionStatus


class DefinitionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DefinitionOut]
    has_more: bool = False
    next_cursor: str | None = None


class ConnectionTestOut(BaseModel):
    success: bool
    message: str
    latency_ms: float


class PlatformIntegrationCreate(StrictModel):
    provider: ProviderCode
    name: Name
    description: Description | None = None
    credentials: Credentials = Field(default_factory=dict)
    settings: Settings = Field(default_factory=dict)
    environment: Environment = Environment.SANDBOX
    status: IntegrationStatus = IntegrationStatus.ACTIVE
    is_shared_with_clients: bool = False
    client_pricing: ClientPricing | None = None


class PlatformIntegrationUpdate(StrictModel):
    name: Name | None = None
    description: Description | None = None
    credentials: CredentialChanges | None = None
    settings: Settings | None = None
    environment: Environment | None = None
    status: IntegrationStatus | None = None


class SharingUpdate(StrictModel):
    is_shared_with_clients: bool
    client_pricing: ClientPricing | None = Field(
        default=None, description="Defaults to 0.5 % + 10 minor units per transaction."
    )


class PlatformIntegrationOut(Audited):
    id: str
    object: Literal["platform_integration"] = "platform_integration"
    organization_id: str
    provider: str
    category: IntegrationCategory
    name: str
    description: str | None
    credentials: dict[str, Any] = Field(validation_alias="credentials_mask")
    settings: dict[str, Any]
    environment: Environment
    is_shared_with_clients: bool
    client_pricing: dict[str, Any] | None
    status: IntegrationStatus
    last_tested_at: datetime | None
    last_test_result: dict[str, Any] | None
    deleted_at: datetime | None


class ClientIntegrationCreate(StrictModel):
    client_id: ObjectId | None = Field(
        default=None, description="Required for organization admins; defaults to your client."
    )
    company_id: ObjectId | None = Field(
        default=None,
        description="Payment gateways only (and required there): the brand whose merchant "
        "account this integration feeds.",
    )
    provider: ProviderCode
    name: Name
    description: Description | None = None
    mode: IntegrationMode = IntegrationMode.OWN
    credentials: Credentials | None = Field(default=None)
    platform_integration_id: ObjectId | None = Field(
        default=None, description="Platform mode: the shared platform integration to use."
    )
    settings: Settings = Field(default_factory=dict)
    environment: Environment = Field(
        default=Environment.SANDBOX, description="Own mode; platform mode uses the platform's."
    )
    is_default: bool = False
    priority: int = Field(default=0, ge=0, le=1000)


class ClientIntegrationUpdate(StrictModel):
    name: Name | None = None
    description: Description | None = None
    credentials: CredentialChanges | None = None
    settings: Settings | None = None
    environment: Environment | None = None
    priority: int | None = Field(default=None, ge=0, le=1000)
    status: IntegrationStatus | None = None


class UsageLine(BaseModel):
    currency: str
    transaction_count: int
    volume_minor: int
    fee_minor: int


class ClientIntegrationOut(Audited):
    id: str
    object: Literal["client_integration"] = "client_integration"
    organization_id: str
    client_id: str
    company_id: str | None
    provider: str
    category: IntegrationCategory
    name: str
    description: str | None
    mode: IntegrationMode
    credentials: dict[str, Any] | None
    platform_integration_id: str | None
    settings: dict[str, Any]
    environment: Environment
    usage_this_month: list[UsageLine]
    is_default: bool
    priority: int
    status: IntegrationStatus
    is_verified: bool
    last_tested_at: datetime | None
    last_test_result: dict[str, Any] | None
    deleted_at: datetime | None


class PlatformOption(Out):
    """A platform integration a client may use in platform mode, and what it costs."""

    id: str
    provider: str
    name: str
    description: str | None
    environment: Environment
    client_pricing: dict[str, Any] | None


class AvailableIntegration(BaseModel):
    definition: DefinitionOut
    platform_options: list[PlatformOption]


class AvailableList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AvailableIntegration]
    has_more: bool = False
    next_cursor: str | None = None


class UsageOut(BaseModel):
    object: Literal["integration_usage"] = "integration_usage"
    client_integration_id: str
    client_id: str
    platform_integration_id: str | None
    month: str
    pricing: ClientPricing | None
    usage: list[UsageLine]
