"""What the API shows of a payment's routing decision and its attempts."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RoutingAttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int = Field(description="1 for the first account tried.")
    account_id: str
    outcome: str = Field(description="The gateway's outcome class (approved, soft_decline, …).")
    decline_reason: str | None
    latency_ms: float
    step: str = Field(description="What failover did next: try_next, stop or inquire.")
    created_at: datetime


class RoutingDecisionOut(BaseModel):
    """Which account served a payment, how it was chosen, and whether failover happened."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    payment_id: str
    company_id: str
    pool_id: str | None
    selected_account_id: str = Field(description="The strategy's first choice.")
    final_account_id: str | None = Field(description="The account of the last attempt.")
    strategy: str
    probability: float | None = Field(
        description="The probability with which the strategy chose the selected account."
    )
    evaluation_time_ms: float
    failover_attempts: int = Field(description="Attempts after the first one.")
    failed_over: bool
    final_outcome: str | None
    rule_id: str | None
    rule_version: int | None
    condition_results: list[dict[str, Any]] | None = None
    created_at: datetime
    completed_at: datetime | None
    attempts: list[RoutingAttemptOut]
