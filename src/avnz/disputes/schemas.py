"""Disputes as the API shows them, Stripe's dispute events as we read them, and the monitoring
programs' standing of an account."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DisputeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    object: Literal["dispute"] = "dispute"
    id: str
    company_id: str
    payment_id: str
    merchant_account_id: str
    provider: str
    gateway_dispute_id: str
    status: Literal["open", "won", "lost"]
    gateway_status: str | None
    amount: int = Field(description="Disputed amount in the currency's minor units.")
    currency: str
    reason_code: str | None
    card_brand: str | None
    evidence_due_by: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class StripeEvidenceDetails(BaseModel):
    due_by: int | None = None


class StripeDispute(BaseModel):
    """The fields of Stripe's Dispute object we read (the rest is ignored)."""

    id: str = Field(min_length=1, max_length=64)
    object: Literal["dispute"]
    amount: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    charge: str | None = None
    payment_intent: str | None = None
    reason: str | None = Field(default=None, max_length=40)
    status: str = Field(max_length=40)
    created: int
    evidence_details: StripeEvidenceDetails | None = None
    network_reason_code: str | None = Field(default=None, max_length=40)


class StripeEventData(BaseModel):
    object: StripeDispute


class StripeEvent(BaseModel):
    id: str
    type: str
    data: StripeEventData


class WebhookAck(BaseModel):
    received: bool = True
    dispute_id: str | None = None


class DisputeImport(BaseModel):
    """A gateway's dispute export for one company (`disputes.service.import_csv`)."""

    company_id: str | None = Field(default=None, max_length=40)
    csv: str = Field(
        max_length=5_000_000,
        description=(
            "CSV text: provider, dispute_id, transaction_id, status, amount (minor units), "
            "currency; optionally reason_code, evidence_due_by, opened_at (ISO 8601)."
        ),
    )


class ImportReport(BaseModel):
    created: int
    updated: int
    errors: list[str]


class LevelOut(BaseModel):
    name: str
    ratio: Decimal
    count: int


class ProgramStandingOut(BaseModel):
    program: str
    label: str
    disputes: int
    sales: int
    ratio: Decimal | None
    level: str | None = Field(description="The level both the ratio and the count reached.")
    warning: str | None
    levels: list[LevelOut]


class MonitoringOut(BaseModel):
    merchant_account_id: str
    month: str
    programs: list[ProgramStandingOut]
    warnings: list[str]
