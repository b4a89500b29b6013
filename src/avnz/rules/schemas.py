"""Request and response models of `/routing-rules`: the rules themselves, the rule tester
(`/routing-rules/test`) and the simulator (`/routing-rules/simulate`).

`conditions`, `actions`, `schedule` and `ab_test` arrive as plain JSON here: the service
validates them with the rule engine's own parsers (`rules.conditions`, `rules.actions`,
`rules.schedule`, `rules.variants`) so that a 400 names the exact bad path
(`conditions.1.children.0.value`), which FastAPI's union errors would not. Their JSON schema is
the registries', so the OpenAPI document shows every registered condition and action.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from avnz.core.metadata import Metadata
from avnz.rules.actions import ActionListSchema
from avnz.rules.conditions import ConditionTreeSchema, values
from avnz.rules.conditions.payment_method import CARD_BRANDS, UNKNOWN_BRAND
from avnz.rules.lint import LintWarning
from avnz.rules.variants import Arm
from avnz.tenancy.schemas import JsonObject, Name, ObjectId, StrictModel

Description = Annotated[str, StringConstraints(max_length=2000)]
Priority = Annotated[int, Field(ge=0, le=1_000_000, description="Lower runs first.")]
JsonList = Annotated[list[JsonObject], Field(max_length=100)]
ConditionList = Annotated[JsonList, ConditionTreeSchema]
ActionList = Annotated[JsonList, ActionListSchema]


class RuleCreate(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    name: Name
    description: Description | None = None
    priority: Priority | None = Field(
        default=None, description="Defaults to the company's current highest priority + 10."
    )
    is_active: bool = True
    is_default: bool = Field(default=False, description="At most one per company.")
    conditions: ConditionList = Field(
        default_factory=list, description="Condition nodes combined with AND; empty: always."
    )
    actions: ActionList = Field(description="At least one action, executed in order.")
    schedule: JsonObject | None = None
    ab_test: JsonObject | None = None
    metadata: Metadata = Field(default_factory=dict)


class RuleUpdate(StrictModel):
    """Absent fields stay; `conditions`, `actions`, `schedule` and `ab_test` are replaced whole
    (`schedule: null` and `ab_test: null` remove them)."""

    name: Name | None = None
    description: Description | None = None
    priority: Priority | None = None
    is_active: bool | None = None
    is_default: bool | None = None
    conditions: ConditionList | None = None
    actions: ActionList | None = None
    schedule: JsonObject | None = None
    ab_test: JsonObject | None = None
    metadata: Metadata | None = None


class ReorderRequest(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    rule_ids: list[ObjectId] = Field(
        min_length=1,
        max_length=1000,
        description="Every rule of the company, once each, in the new order.",
    )


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: Literal["routing_rule"] = "routing_rule"
    organization_id: str
    client_id: str
    company_id: str
    name: str
    description: str | None
    priority: int
    is_active: bool
    is_default: bool
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    schedule: dict[str, Any] | None
    ab_test: dict[str, Any] | None
    metadata: dict[str, str] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    version: int
    hit_count: int
    last_hit_at: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    deleted_at: datetime | None


class RuleWithWarnings(RuleOut):
    warnings: list[LintWarning] = Field(description="What rule lint found; the rule is saved.")


class RuleVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: Literal["routing_rule_version"] = "routing_rule_version"
    rule_id: str
    version: int
    snapshot: dict[str, Any]
    created_by: str | None
    created_at: datetime


class DayStats(BaseModel):
    day: date
    hits: int
    successes: int
    failures: int
    success_rate: float | None = Field(description="successes / (successes + failures).")


class ArmStats(BaseModel):
    arm: Arm
    hits: int
    successes: int
    failures: int
    success_rate: float | None


class RuleAnalyticsOut(BaseModel):
    object: Literal["routing_rule_analytics"] = "routing_rule_analytics"
    rule_id: str
    since: date
    until: date
    hit_count: int = Field(description="All-time hits.")
    last_hit_at: datetime | None
    days: list[DayStats] = Field(description="Every UTC day of the range, oldest first.")
    arms: list[ArmStats] = Field(description="Totals over the range, per A/B arm.")


class RuleDetail(RuleOut):
    versions: list[RuleVersionOut] = Field(description="The newest versions first (at most 50).")
    analytics: RuleAnalyticsOut = Field(description="The last 30 days.")


# --- the tester and the simulator ---------------------------------------------------------------

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Country = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Currency = Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Za-z]{3}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CardBrand = Annotated[
    str,
    AfterValidator(values.choice((*CARD_BRANDS, UNKNOWN_BRAND), str.lower)),
    Field(json_schema_extra={"enum": [*CARD_BRANDS, UNKNOWN_BRAND]}),
]


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
    card_brand: CardBrand | None = None
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
    refusals: list[dict[str, Any]] = Field(description="A block, 3-D Secure required, ...")
    surcharge: int
    discount: int
    final_amount: int
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
