"""The dashboard's numbers: today's summary and a daily series."""

from datetime import date

from pydantic import BaseModel, Field


class Volume(BaseModel):
    currency: str
    amount: int = Field(description="Minor units of approved payments.")


class Summary(BaseModel):
    object: str = "stats_summary"
    day: date = Field(description="The UTC day the figures are for.")
    transactions: int = Field(description="Payments created that day, whatever their outcome.")
    approved: int
    declined: int
    failed: int
    success_rate: float | None = Field(
        description="approved / (approved + declined + failed), 0-1; null when there were none."
    )
    volume: list[Volume]
    active_customers: int


class Day(BaseModel):
    day: date
    transactions: int
    approved: int
    volume: list[Volume]


class Chart(BaseModel):
    object: str = "stats_chart"
    days: list[Day]
