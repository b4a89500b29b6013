"""Request and response models of the card vault."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class BillingAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line1: Text | None = None
    line2: Text | None = None
    city: Text | None = None
    state: Text | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = (
        None
    )
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: SecretStr = Field(description="The full card number (spaces and dashes allowed).")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=0, le=9999, description="Four digits (two are read as 20YY).")
    cvv: SecretStr | None = Field(
        default=None, description="Checked for format only; never stored."
    )
    holder_name: Text | None = None


class PaymentMethodCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    customer_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    card: CardIn
    billing_address: BillingAddress | None = None


class CardOut(BaseModel):
    brand: str
    bin: str
    last4: str
    exp_month: int
    exp_year: int
    type: str
    issuing_country: str | None
    fingerprint: str
    holder_name: str | None


class PaymentMethodOut(BaseModel):
    id: str
    object: Literal["payment_method"] = "payment_method"
    organization_id: str
    client_id: str
    company_id: str
    customer_id: str | None
    status: str
    card: CardOut
    billing_address: BillingAddress | None
    created_at: datetime
    deleted_at: datetime | None
