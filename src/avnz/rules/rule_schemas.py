"""Request and response models of `/routing-rules`.

`conditions`, `actions`, `schedule` and `ab_test` arrive as plain JSON here: the service
validates them with the rule engine's own parsers (`rules.schema`, `rules.actions`,
`rules.schedule`, `rules.variants`) so that a 400 names the exact bad path
(`conditions.1.children.0.value`), which FastAPI's union errors would not.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from avnz.rules.lint import LintWarning
from avnz.rules.models import Arm
from avnz.tenancy.schemas import JsonObject, Name, ObjectId, StrictModel

Description = Annotated[str, StringConstraints(max_length=2000)]
Priority = Annotated[int, Field(ge=0, le=1_000_000, description="Lower runs first.")]
JsonList = Annotated[list[JsonObject], Field(max_length=100)]


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
    conditions: JsonList = Field(
        default_factory=list, description="Condition nodes combined with AND; empty: always."
    )
    actions: JsonList = Field(description="At least one action, executed in order.")
    schedule: JsonObject | None = None
    ab_test: JsonObject | None = None


class RuleUpdate(StrictModel):
    """Absent fields stay; `conditions`, `actions`, `schedule` and `ab_test` are replaced whole
    (`schedule: null` and `ab_test: null` remove them)."""

    name: Name | None = None
    description: Description | None = None
    priority: Priority | None = None
    is_active: bool | None = None
    is_default: bool | None = None
    conditions: JsonList | None = None
    actions: JsonList | None = None
    schedule: JsonObject | None = None
    ab_test: JsonObject | None = None


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
