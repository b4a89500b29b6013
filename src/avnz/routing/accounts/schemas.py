"""Request and response models of merchant accounts, and the JSON documents they carry.

Limits, volumes and flat fees are integers in minor units of the account's currency;
percentages are Decimals (sent and returned as strings, `"2.9"` meaning 2.9 %).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import pycountry
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from avnz.core.cards import Brand
from avnz.core.money import CurrencyCode
from avnz.gateways import registry
from avnz.routing.accounts.models import AccountEnvironment, AccountStatus, Period
from avnz.tenancy.schemas import Name, ObjectId, StrictModel

# --- hooks for the integrations framework -------------------------------------------------------


@dataclass(frozen=True)
class IntegrationLink:
    """What a client payment integration tells merchant accounts when it is saved."""

    client_integration_id: str
    company_id: str
    provider: str  # gateway registry name, e.g. "nmi"
    name: str
    environment: str  # "sandbox" | "production"
    credentials: Mapping[str, str] | None  # None for platform mode
    platform_integration_id: str | None
    base_url: str | None = None


# --- field types -------------------------------------------------------------------------------


def _known_provider(value: str) -> str:
    if value not in registry.GATEWAYS:
        raise ValueError(f"must be one of {', '.join(sorted(registry.GATEWAYS))}")
    return value


def _country(value: str) -> str:
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def _card_brand(value: Brand) -> Brand:
    if value is Brand.UNKNOWN:
        raise ValueError("must be a card brand, not 'unknown'")
    return value


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


ProviderType = Annotated[str, AfterValidator(_known_provider)]
Country = Annotated[str, AfterValidator(_country)]
CardBrand = Annotated[Brand, AfterValidator(_card_brand)]
MinorAmount = Annotated[int, Field(ge=0, le=10**15)]
Count = Annotated[int, Field(ge=0, le=10**12)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=9, decimal_places=4)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Descriptor = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=22)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ().-]{4,20}$", max_length=20)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
CredentialValue = Annotated[SecretStr, Field(min_length=1, max_length=1000)]
Credentials = Annotated[dict[str, CredentialValue], Field(max_length=20)]
BaseUrl = Annotated[AnyHttpUrl, Field(max_length=500)]


# --- JSON documents ----------------------------------------------------------------------------


class AccountLimits(StrictModel):
    """Per-transaction bounds and caps per period; absent means no limit."""

    min_transaction_amount: MinorAmount | None = None
    max_transaction_amount: MinorAmount | None = None
    daily_transaction_limit: Count | None = None
    daily_volume_limit: MinorAmount | None = None
    weekly_transaction_limit: Count | None = None
    weekly_volume_limit: MinorAmount | None = None
    monthly_transaction_limit: Count | None = None
    monthly_volume_limit: MinorAmount | None = None
    yearly_transaction_limit: Count | None = None
    yearly_volume_limit: MinorAmount | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "AccountLimits":
        low, high = self.min_transaction_amount, self.max_transaction_amount
        if low is not None and high is not None and low > high:
            raise ValueError("min_transaction_amount must not exceed max_transaction_amount")
        return self

    def caps(self, period: Period) -> tuple[int | None, int | None]:
        """(transaction count cap, volume cap) of `period`."""
        name = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}[period]
        count: int | None = getattr(self, f"{name}_transaction_limit")
        volume: int | None = getattr(self, f"{name}_volume_limit")
        return count, volume


class CardFee(StrictModel):
    percentage: Percent | None = None
    flat_fee: MinorAmount | None = None


class AccountFees(StrictModel):
    base_percentage: Percent = Decimal(0)
    base_flat_fee: MinorAmount = 0
    international_percentage: Percent = Decimal(0)
    international_flat_fee: MinorAmount = 0
    card_specific_fees: Annotated[dict[CardBrand, CardFee], Field(max_length=20)] = Field(
        default_factory=dict,
        description="Per card brand; a brand's fee replaces the base fee for its cards.",
    )
    reserve_percentage: Percent = Field(
        default=Decimal(0), description="Rolling reserve the acquirer holds back, % of volume."
    )
    reserve_hold_days: int = Field(default=180, ge=0, le=730, description="How long it is held.")


class AccountRestrictions(StrictModel):
    """Empty `allowed_*` lists allow everything; `blocked_*` lists win over `allowed_*`."""

    allowed_countries: Annotated[list[Country], Field(max_length=300)] = Field(default_factory=list)
    blocked_countries: Annotated[list[Country], Field(max_length=300)] = Field(default_factory=list)
    allowed_card_brands: Annotated[list[CardBrand], Field(max_length=20)] = Field(
        default_factory=list
    )
    blocked_card_brands: Annotated[list[CardBrand], Field(max_length=20)] = Field(
        default_factory=list
    )
    allowed_product_categories: Annotated[list[ShortText], Field(max_length=100)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _consistent(self) -> "AccountRestrictions":
        self.allowed_countries = _distinct(self.allowed_countries)
        self.blocked_countries = _distinct(self.blocked_countries)
        both = set(self.allowed_countries) & set(self.blocked_countries)
        if both:
            raise ValueError(f"countries both allowed and blocked: {', '.join(sorted(both))}")
        brands = set(self.allowed_card_brands) & set(self.blocked_card_brands)
        if brands:
            raise ValueError(f"card brands both allowed and blocked: {', '.join(sorted(brands))}")
        return self


class LastTest(BaseModel):
    success: bool
    message: str
    latency_ms: float
    tested_at: datetime


class HealthMetrics(BaseModel):
    """Written by avnz (connection tests now, payments later), never by API clients."""

    success_rate: float | None = Field(default=None, ge=0, le=1)
    average_response_time_ms: float | None = Field(default=None, ge=0)
    last_health_check: datetime | None = None
    health_score: int | None = Field(default=None, ge=0, le=100)
    last_test: LastTest | None = None
    # The health check's window (routing.accounts.health): the rest of the score's inputs.
    error_rate: float | None = Field(default=None, ge=0, le=1)
    refund_rate: float | None = Field(default=None, ge=0)
    chargeback_rate: float | None = Field(default=None, ge=0)
    sample_size: int | None = Field(default=None, ge=0)


# --- requests ----------------------------------------------------------------------------------


class MerchantAccountCreate(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    color: Color | None = None
    icon: ShortText | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] = Field(default_factory=list)
    provider_type: ProviderType = Field(description="A gateway: nmi, payflow, authorize_net, …")
    merchant_id: ShortText | None = Field(default=None, description="The MID at the acquirer.")
    descriptor: Descriptor | None = Field(default=None, description="Statement descriptor.")
    descriptor_phone: Phone | None = None
    credentials: Credentials = Field(
        description="The provider's credentials (see its JSON Schema); stored encrypted, "
        "never returned."
    )
    environment: AccountEnvironment = AccountEnvironment.SANDBOX
    base_url: BaseUrl | None = Field(
        default=None,
        description="Sandbox accounts only: send requests here instead of the provider's "
        "sandbox (e.g. the built-in sandboxes under /sandbox/{provider}).",
    )
    currency: CurrencyCode = Field(
        default="USD", description="Limits, volumes and flat fees are in its minor units."
    )
    status: Literal[AccountStatus.ACTIVE, AccountStatus.INACTIVE, AccountStatus.PENDING] = (
        AccountStatus.ACTIVE
    )
    status_reason: Reason | None = None
    limits: AccountLimits = Field(default_factory=AccountLimits)
    fees: AccountFees = Field(default_factory=AccountFees)
    restrictions: AccountRestrictions = Field(default_factory=AccountRestrictions)


class MerchantAccountUpdate(StrictModel):
    """Absent fields stay; `credentials`, `limits`, `fees` and `restrictions` are replaced whole."""

    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    color: Color | None = None
    icon: ShortText | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    merchant_id: ShortText | None = None
    descriptor: Descriptor | None = None
    descriptor_phone: Phone | None = None
    credentials: Credentials | None = None
    environment: AccountEnvironment | None = None
    base_url: BaseUrl | None = None
    status: (
        Literal[
            AccountStatus.ACTIVE,
            AccountStatus.INACTIVE,
            AccountStatus.SUSPENDED,
            AccountStatus.PENDING,
        ]
        | None
    ) = Field(default=None, description="`closed` is reached by DELETE.")
    status_reason: Reason | None = None
    limits: AccountLimits | None = None
    fees: AccountFees | None = None
    restrictions: AccountRestrictions | None = None


# --- responses ---------------------------------------------------------------------------------


class UsageBucketOut(BaseModel):
    period: Period
    period_start: date
    period_end: date = Field(description="The first day of the next period (exclusive).")
    transaction_count: int
    volume_minor: int
    transaction_limit: int | None
    volume_limit: int | None
    transactions_remaining: int | None
    volume_remaining: int | None


class MerchantAccountOut(BaseModel):
    """An account as lists show it: everything but its credentials."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    object: Literal["merchant_account"] = "merchant_account"
    organization_id: str
    client_id: str
    company_id: str
    name: str
    description: str | None
    color: str | None
    icon: str | None
    tags: list[str]
    provider_type: str
    merchant_id: str | None
    descriptor: str | None
    descriptor_phone: str | None
    environment: AccountEnvironment
    base_url: str | None
    currency: str
    status: AccountStatus
    status_reason: str | None
    status_changed_at: datetime | None
    limits: AccountLimits
    fees: AccountFees
    restrictions: AccountRestrictions
    health_metrics: HealthMetrics
    credentials_mode: Literal["own", "platform"]
    has_credentials: bool
    client_integration_id: str | None
    platform_integration_id: str | None
    is_from_integration: bool
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class MerchantAccountDetail(MerchantAccountOut):
    """One account: adds masked credentials and the current usage against its caps."""

    credentials: dict[str, str] | None = Field(
        description="Masked (`••••1234`); null for platform-mode accounts."
    )
    usage: list[UsageBucketOut]


class UsageOut(BaseModel):
    object: Literal["merchant_account_usage"] = "merchant_account_usage"
    account_id: str
    currency: str
    as_of: datetime
    current: list[UsageBucketOut]
    history: list[UsageBucketOut]
    history_has_more: bool


class HealthOut(BaseModel):
    object: Literal["merchant_account_health"] = "merchant_account_health"
    account_id: str
    status: AccountStatus
    health_score: int | None
    success_rate: float | None = Field(description="Share of recent transactions approved.")
    average_response_time_ms: float | None
    last_health_check: datetime | None
    last_test: LastTest | None


class ConnectionTestOut(BaseModel):
    account_id: str
    success: bool
    message: str
    latency_ms: float
