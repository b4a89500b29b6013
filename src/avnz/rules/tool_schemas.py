"""Request and response models of the rule tester (`/routing-rules/test`) and the simulator
(`/routing-rules/simulate`)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from avnz.core.cards import Brand

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Country = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Currency = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{3}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleCustomer(_Strict):
    type: Label | None = None
    account_age_days: int | None = Field(default=None, ge=0)
    lifetime_value: int | None = Field(default=None, ge=0)
    risk_level: Literal["low", "medium", "high", "critical"] | None = None
    chargeback_rate: float | None = Field(default=None, ge=0, le=1)
    segments: list[Label] = Field(default_factory=list, max_length=100)


class SampleProduct(_Strict):
    sku: Label | None = None
    category: Label | None = None
    is_subscription: bool = False
    interval: Literal["day", "week", "month", "year"] | None = None
    is_renewal: bool = False
    is_trial: bool = False


class SampleTransaction(_Strict):
    """One made-up transaction; `customer_id` reads a real customer instead of `customer`."""

    amount: int = Field(gt=0, le=10**12, description="Minor units.")
    currency: Currency
    at: AwareDatetime | None = Field(default=None, description="Default: now.")
    id: Id | None = Field(default=None, description="The transaction id an A/B split hashes.")
    country: Country | None = None
    state: Label | None = None
    card_brand: Brand | None = None
    card_type: Literal["credit", "debit", "prepaid", "unknown"] | None = None
    bin: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,8}$")] | None = None
    issuing_country: Country | None = None
    is_tokenized: bool = False
    is_3ds_enrolled: bool = False
    is_digital_wallet: bool = False
    customer_id: Id | None = None
    customer: SampleCustomer | None = None
    product: SampleProduct | None = None


class DraftRule(_Strict):
    """A rule not saved yet (the builder's last step): tested alone, as if it were the only one."""

    name: Label = "Draft rule"
    conditions: list[Any] = Field(default_factory=list)
    actions: list[Any]
    schedule: dict[str, Any] | None = None
    ab_test: dict[str, Any] | None = None


class RuleTestRequest(_Strict):
    company_id: Id | None = None
    transaction: SampleTransaction
    rule: DraftRule | None = None


class NodeResultOut(BaseModel):
    path: str
    type: str
    result: bool
    field: str | None = None
    operator: str | None = None
    value: Any = None
    children: list["NodeResultOut"] = Field(default_factory=list)


class RuleResultOut(BaseModel):
    rule_id: str | None
    name: str
    priority: int | None
    version: int | None
    is_default: bool
    in_schedule: bool
    matched: bool = Field(description="Conditions true and the schedule in force.")
    conditions: list[NodeResultOut]


class DirectiveOut(BaseModel):
    pool_id: str | None
    strategy: str | None
    account_id: str | None
    block: dict[str, Any] | None
    surcharge: int
    discount: int
    final_amount: int
    require_3ds: bool
    review: dict[str, Any] | None
    metadata: dict[str, str]
    notifications: list[dict[str, Any]]
    failures: list[str]


class MatchedRuleOut(BaseModel):
    id: str | None
    name: str
    version: int | None
    priority: int | None
    arm: str


class RuleTestOut(BaseModel):
    matched_rule: MatchedRuleOut | None = Field(
        description="The first rule in force that matches; null: the company's default routing."
    )
    actions: list[dict[str, Any]] = Field(description="What the matched rule's arm would run.")
    directive: DirectiveOut | None
    rules: list[RuleResultOut] = Field(description="Every active rule, in evaluation order.")
    rule_set_version: int
    evaluation_us: float = Field(description="The compiled first-match evaluation, microseconds.")


class SimulationRequest(_Strict):
    company_id: Id | None = None
    since: AwareDatetime
    until: AwareDatetime
    limit: int = Field(default=1000, ge=1, le=10_000, description="Payments replayed at most.")


class SimulatedRuleOut(BaseModel):
    rule_id: str
    name: str
    would_match: int
    actually_matched: int


class SimulatedPaymentOut(BaseModel):
    payment_id: str
    created_at: datetime
    amount: int
    currency: str
    actual_rule_id: str | None
    simulated_rule_id: str | None
    actual_pool_id: str | None
    actual_account_id: str
    simulated_pool_id: str | None
    simulated_account_id: str | None
    would_block: bool


class SimulationOut(BaseModel):
    since: datetime
    until: datetime
    total: int = Field(description="Payments replayed.")
    truncated: bool = Field(description="More payments fell in the range than `limit`.")
    matched: int
    unmatched: int
    changed: int = Field(description="Payments the current rules would route by another rule.")
    would_block: int
    actions: dict[str, int] = Field(description="How often each action type would run.")
    by_rule: list[SimulatedRuleOut]
    differences: list[SimulatedPaymentOut] = Field(description="The first 100 changed payments.")
    rule_set_version: int
