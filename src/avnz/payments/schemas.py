"""Request and response models of the card vault and of payments."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from avnz.commerce.schemas import CustomerOut
from avnz.core.metadata import Metadata
from avnz.routing.decisions.schemas import RoutingDecisionOut

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
    metadata: Metadata = Field(default_factory=dict)


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
    livemode: bool = Field(description="True for a live object, false for a test one.")
    customer_id: str | None
    status: str
    card: CardOut
    billing_address: BillingAddress | None
    metadata: dict[str, str]
    created_at: datetime
    deleted_at: datetime | None


# --- payments --------------------------------------------------------------------------------

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Currency = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")
]
Amount = Annotated[int, Field(gt=0, le=10**12, description="Minor units (cents): 1999 is $19.99.")]


class ThreeDSecureIn(BaseModel):
    """The result of a 3-D Secure authentication done before the payment (by your MPI or the
    issuer's ACS). The CAVV is checked for shape and never stored."""

    model_config = ConfigDict(extra="forbid")
    eci: Annotated[str, StringConstraints(pattern=r"^0[0-7]$")] = Field(
        description="Electronic Commerce Indicator, e.g. 05 (Visa) or 02 (Mastercard)."
    )
    cavv: SecretStr = Field(
        min_length=20, max_length=64, description="Base64 authentication value."
    )
    version: Annotated[str, StringConstraints(pattern=r"^[12]\.[0-9]\.[0-9]$")] = "2.2.0"


class PaymentCreate(BaseModel):
    """A sale (`capture: true`, the default) or an authorization to capture later."""

    model_config = ConfigDict(extra="forbid")
    company_id: Id | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    amount: Amount | None = Field(
        default=None, description="Required unless `order_id` is given (defaults to its total)."
    )
    currency: Currency | None = Field(
        default=None, description="ISO 4217; required unless `order_id` is given."
    )
    capture: bool = Field(default=True, description="false: authorize only, capture later.")
    card: CardIn | None = Field(default=None, description="A card, vaulted on the way.")
    payment_method_id: Id | None = Field(
        default=None, description="A vaulted card (`pm_…`) instead of `card`."
    )
    customer_id: Id | None = None
    order_id: Id | None = None
    merchant_account_id: Id | None = Field(
        default=None,
        description="Charge through this account (it must be eligible) instead of routing.",
    )
    billing_address: BillingAddress | None = None
    three_d_secure: ThreeDSecureIn | None = Field(
        default=None, description="Send when a routing rule requires 3-D Secure."
    )
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    ip_address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=45)] | None = (
        None
    )
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    descriptor: Annotated[str, StringConstraints(max_length=22)] | None = Field(
        default=None, description="Soft descriptor on the cardholder's statement."
    )
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_instrument(self) -> "PaymentCreate":
        if (self.card is None) == (self.payment_method_id is None):
            raise ValueError("send exactly one of card and payment_method_id")
        if self.order_id is None and (self.amount is None or self.currency is None):
            raise ValueError("amount and currency are required without an order_id")
        return self


class CaptureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Amount | None = Field(default=None, description="Default: the authorized amount.")


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Amount | None = Field(default=None, description="Default: all still refundable.")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class PaymentCardOut(BaseModel):
    brand: str | None
    bin: str | None
    last4: str | None
    country: str | None


class GatewayOut(BaseModel):
    """What the gateway answered, normalized, with its own code and message."""

    outcome: str | None
    decline_reason: str | None
    transaction_id: str | None
    auth_code: str | None
    avs_result: str | None
    cvv_result: str | None
    raw_code: str | None
    raw_message: str | None
    latency_ms: float | None


class PaymentOut(BaseModel):
    id: str
    object: Literal["payment"] = "payment"
    organization_id: str
    client_id: str
    company_id: str
    livemode: bool = Field(description="True for a live object, false for a test one.")
    customer_id: str | None
    order_id: str | None
    payment_method_id: str | None
    merchant_account_id: str
    provider: str
    kind: str
    status: str
    amount: int
    currency: str
    amount_captured: int
    amount_refunded: int
    fee: int = Field(description="What the merchant account charges, from its fee table.")
    platform_fee: int = Field(description="The platform's fee (platform-mode accounts only).")
    surcharge_amount: int = Field(description="What a routing rule added to the amount asked for.")
    discount_amount: int = Field(description="What a routing rule took off the amount asked for.")
    review: dict[str, Any] | None = Field(description="A routing rule's review flag, if any.")
    card: PaymentCardOut
    gateway: GatewayOut
    routing: dict[str, Any]
    pending_action: str | None
    description: str | None
    metadata: dict[str, str]
    processing_ms: float | None
    created_at: datetime
    completed_at: datetime | None


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    object: Literal["refund"] = "refund"
    payment_id: str
    company_id: str
    livemode: bool = Field(description="True for a live object, false for a test one.")
    amount: int
    currency: str
    status: str
    reason: str | None
    metadata: dict[str, str] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    outcome: str | None
    decline_reason: str | None
    gateway_refund_id: str | None
    raw_message: str | None
    created_at: datetime


class PaymentExpandedOut(PaymentOut):
    """A payment read with `expand[]`: each relation asked for is inlined under its own key,
    which is absent when it was not asked for."""

    customer: CustomerOut | None = Field(default=None, description="With `expand[]=customer`.")
    payment_method: PaymentMethodOut | None = Field(
        default=None, description="With `expand[]=payment_method`."
    )
    refunds: list[RefundOut] | None = Field(default=None, description="With `expand[]=refunds`.")
    routing_decision: RoutingDecisionOut | None = Field(
        default=None, description="With `expand[]=routing_decision`."
    )
