"""Request and response models of `/account-pools`: pools, their memberships, their stats and
their simulation. A pool's `configuration` is checked against its strategy's settings model
(`routing.strategies`), its `failover_config` against
`routing.decisions.failover.FailoverConfig`."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from avnz.core.cards import Brand
from avnz.core.money import CurrencyCode
from avnz.routing.accounts.models import AccountStatus
from avnz.routing.accounts.schemas import CardBrand, Country, MinorAmount
from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.strategies import DEFAULT, StrategyName
from avnz.tenancy.schemas import JsonObject, Name, ObjectId, StrictModel

Weight = Annotated[int, Field(ge=0, le=100, description="0-100; WEIGHTED's share, 0: standby.")]
Priority = Annotated[int, Field(ge=0, le=10_000, description="Failover order: lower first.")]
Description = Annotated[str, StringConstraints(max_length=1000)]


class PoolCreate(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    name: Name
    description: Description | None = None
    strategy: StrategyName = Field(default=DEFAULT, description="A registered strategy.")
    is_active: bool = True
    is_default: bool = Field(default=False, description="At most one per company.")
    configuration: JsonObject = Field(
        default_factory=dict, description="The strategy's settings (see the docs per strategy)."
    )
    failover_enabled: bool = True
    failover_config: FailoverConfig = Field(default_factory=FailoverConfig)


class PoolUpdate(StrictModel):
    """Absent fields stay; `configuration` and `failover_config` are replaced whole."""

    name: Name | None = None
    description: Description | None = None
    strategy: StrategyName | None = None
    is_active: bool | None = None
    is_default: bool | None = None
    configuration: JsonObject | None = None
    failover_enabled: bool | None = None
    failover_config: FailoverConfig | None = None


class MembershipCreate(StrictModel):
    merchant_account_id: ObjectId
    weight: Weight = 100
    priority: Priority = 0
    is_active: bool = True


class MembershipUpdate(StrictModel):
    weight: Weight | None = None
    priority: Priority | None = None
    is_active: bool | None = None


class MembershipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: Literal["pool_membership"] = "pool_membership"
    pool_id: str
    merchant_account_id: str
    account_name: str
    account_status: AccountStatus
    weight: int
    priority: int
    is_active: bool
    added_at: datetime


class PoolOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: Literal["account_pool"] = "account_pool"
    organization_id: str
    client_id: str
    company_id: str
    name: str
    description: str | None
    strategy: str
    is_active: bool
    is_default: bool
    configuration: dict[str, Any]
    failover_enabled: bool
    failover_config: FailoverConfig
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class PoolDetail(PoolOut):
    memberships: list[MembershipOut] = Field(description="In failover order.")


# --- stats -------------------------------------------------------------------------------------


class CurrencyVolume(BaseModel):
    currency: str
    amount: int = Field(description="Minor units of approved payments.")


class AccountShare(BaseModel):
    account_id: str
    account_name: str
    payments: int
    approved: int
    declined: int
    failed: int
    success_rate: float | None = Field(
        description="approved / (approved + declined + failed), 0-1; null when none decided."
    )
    volume: list[CurrencyVolume]
    share: float | None = Field(description="This account's part of the pool's payments, 0-1.")


class PoolStats(BaseModel):
    object: Literal["account_pool_stats"] = "account_pool_stats"
    pool_id: str
    created_from: datetime | None
    created_to: datetime | None
    payments: int
    accounts: list[AccountShare]


# --- simulation --------------------------------------------------------------------------------


class AmountRange(StrictModel):
    min: MinorAmount = 100
    max: MinorAmount = 10_000
    weight: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> "AmountRange":
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class SimulateRequest(StrictModel):
    transactions: Annotated[int, Field(ge=1, le=10_000)] = 1000
    currency: CurrencyCode | None = Field(
        default=None, description="Default: the currency of the pool's first account."
    )
    amounts: Annotated[list[AmountRange], Field(min_length=1, max_length=20)] = Field(
        default_factory=lambda: [AmountRange()],
        description="Amount ranges drawn by weight, then uniformly within the range.",
    )
    countries: Annotated[dict[Country, float], Field(max_length=50)] = Field(
        default_factory=lambda: {"US": 1.0}, description="Card country -> weight."
    )
    card_brands: Annotated[dict[CardBrand, float], Field(max_length=20)] = Field(
        default_factory=lambda: {Brand.VISA: 1.0}, description="Card brand -> weight."
    )
    seed: int | None = Field(default=None, description="Same seed, same simulation.")

    @model_validator(mode="after")
    def _positive(self) -> "SimulateRequest":
        for name, weights in (("countries", self.countries), ("card_brands", self.card_brands)):
            if not weights or any(weight <= 0 for weight in weights.values()):
                raise ValueError(f"{name} needs at least one entry, each with a weight > 0")
        return self


class SimulatedAccount(BaseModel):
    account_id: str
    account_name: str
    picked: int = Field(description="Times the strategy chose it first.")
    served: int = Field(description="Times it took the transaction (after failover).")
    share: float = Field(description="served / transactions.")
    volume: int = Field(description="Minor units it took.")


class SimulateOut(BaseModel):
    object: Literal["account_pool_simulation"] = "account_pool_simulation"
    pool_id: str
    strategy: str
    transactions: int
    currency: str
    accounts: list[SimulatedAccount]
    failovers: int = Field(description="Transactions the pick could not take (its cap).")
    blocked_by_cap: int = Field(description="Transactions no account's caps had room for.")
    no_eligible_account: int = Field(
        description="Transactions no account could take at all (currency, amount, restrictions)."
    )
