"""Request and response models of customers, products and orders, and their JSON documents.

Amounts are integers in minor units of the object's `currency` (1999 USD is $19.99). Fields the
server maintains (lifetime value, chargeback figures, order totals) are not accepted as input:
sending one is a 400 that names it.
"""

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

from avnz.commerce.models import (
    CustomerStatus,
    CustomerType,
    OrderStatus,
    RiskLevel,
    SubscriptionInterval,
)
from avnz.core.metadata import Metadata
from avnz.core.money import CurrencyCode
from avnz.tenancy.schemas import JsonObject, Name, ObjectId, Out, StrictModel

MAX_JSON_BYTES = 16_384
MAX_AMOUNT = 10**12  # minor units; with MAX_QUANTITY and MAX_LINES a total fits a BIGINT
MAX_QUANTITY = 10_000
MAX_LINES = 100
MAX_TOTAL = MAX_AMOUNT * MAX_QUANTITY * MAX_LINES  # the largest total an order can have


def _country(value: str) -> str:
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_JSON_BYTES:
        raise ValueError(f"must not exceed {MAX_JSON_BYTES} bytes as JSON")
    return value


def _four_places(value: Decimal) -> Decimal:
    # The same text for the same rate, whether it was just computed or read back.
    return value.quantize(Decimal("0.0001"))


Country = Annotated[str, AfterValidator(_country)]
Rate = Annotated[Decimal, AfterValidator(_four_places)]
BoundedJson = Annotated[JsonObject, AfterValidator(_bounded)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ().-]{4,20}$", max_length=20)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Segment ids are compared case-insensitively: stored lower-cased.
Segment = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
    ),
]
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")
]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Description = Annotated[str, StringConstraints(max_length=2000)]
# Strict: an amount is a JSON integer, never a string or a float that happens to be whole.
Amount = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT, description="Minor units.")]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
TrialDays = Annotated[int, Field(ge=0, le=730)]


# --- JSON documents ----------------------------------------------------------------------------


class Address(StrictModel):
    line1: Text
    line2: OptionalText | None = None
    city: Text
    state: OptionalText | None = None
    postal_code: PostalCode | None = None
    country: Country = Field(description="ISO 3166-1 alpha-2, e.g. `US`.")


class LineItemIn(StrictModel):
    """A line of an order. When `sku` names a product of the catalog, `name` and `unit_amount`
    default to the product's; otherwise both are required."""

    sku: Sku
    name: Name | None = None
    quantity: Quantity = 1
    unit_amount: Amount | None = None
    currency: CurrencyCode | None = Field(
        default=None, description="If given, must be the order's currency."
    )


class LineItem(BaseModel):
    """A stored line: what was sold, at what price, and the catalog facts the rule engine reads."""

    sku: str
    name: str
    quantity: int
    unit_amount: int
    amount: int = Field(description="quantity * unit_amount, computed by the server.")
    product_id: str | None = None
    category: str | None = None
    is_subscription: bool = False
    interval: SubscriptionInterval | None = None


# --- customers ---------------------------------------------------------------------------------


class CustomerCreate(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    email: EmailStr = Field(description="Stored lower-cased; unique among the company's customers.")
    name: Name | None = None
    phone: Phone | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    external_id: ExternalId | None = Field(
        default=None, description="Your own id for the customer; unique in the company."
    )
    type: CustomerType = CustomerType.NEW
    risk_level: RiskLevel = RiskLevel.LOW
    segments: Annotated[list[Segment], Field(max_length=50)] = Field(default_factory=list)
    custom_fields: BoundedJson = Field(default_factory=dict)
    metadata: Metadata = Field(default_factory=dict)
    currency: CurrencyCode | None = Field(
        default=None,
        description="Currency of the lifetime value; set by the first purchase when omitted.",
    )
    status: Literal[CustomerStatus.ACTIVE, CustomerStatus.BLOCKED] = CustomerStatus.ACTIVE


class CustomerUpdate(StrictModel):
    """Absent fields stay; addresses, segments and custom fields are replaced whole."""

    email: EmailStr | None = None
    name: Name | None = None
    phone: Phone | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    external_id: ExternalId | None = None
    type: CustomerType | None = None
    risk_level: RiskLevel | None = None
    segments: Annotated[list[Segment], Field(max_length=50)] | None = None
    custom_fields: BoundedJson | None = None
    metadata: Metadata | None = None
    currency: CurrencyCode | None = Field(
        default=None, description="Can change only while the lifetime value is zero."
    )
    status: Literal[CustomerStatus.ACTIVE, CustomerStatus.BLOCKED] | None = Field(
        default=None, description="`deleted` is reached by DELETE."
    )


class CustomerOut(Out):
    id: str
    object: Literal["customer"] = "customer"
    organization_id: str
    client_id: str
    company_id: str
    livemode: bool = Field(description="True for a live object, false for a test one.")
    email: str
    name: str | None
    phone: str | None
    billing_address: Address | None
    shipping_address: Address | None
    external_id: str | None
    type: CustomerType
    risk_level: RiskLevel
    segments: list[str]
    custom_fields: dict[str, Any]
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    status: CustomerStatus
    currency: str | None
    lifetime_value: int = Field(description="Minor units of `currency`.")
    payments_count: int = Field(description="Successful payments.")
    chargeback_count: int
    chargeback_rate: Rate = Field(description="Percent of successful payments charged back.")
    last_purchase_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


# --- products ----------------------------------------------------------------------------------


class ProductCreate(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    sku: Sku = Field(description="Unique among the company's products.")
    name: Name
    description: Description | None = None
    category: Category | None = None
    price: Amount
    currency: CurrencyCode
    is_subscription: bool = False
    interval: SubscriptionInterval | None = Field(
        default=None, description="Required for a subscription, and only for one."
    )
    trial_days: TrialDays = Field(default=0, description="Subscriptions only.")
    active: bool = True
    metadata: Metadata = Field(default_factory=dict)


class ProductUpdate(StrictModel):
    sku: Sku | None = None
    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    price: Amount | None = None
    currency: CurrencyCode | None = None
    is_subscription: bool | None = None
    interval: SubscriptionInterval | None = None
    trial_days: TrialDays | None = None
    active: bool | None = None
    metadata: Metadata | None = None


class ProductOut(Out):
    id: str
    object: Literal["product"] = "product"
    organization_id: str
    client_id: str
    company_id: str
    livemode: bool = Field(description="True for a live object, false for a test one.")
    sku: str
    name: str
    description: str | None
    category: str | None
    price: int = Field(description="Minor units of `currency`.")
    currency: str
    is_subscription: bool
    interval: SubscriptionInterval | None
    trial_days: int
    active: bool
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


# --- orders ------------------------------------------------------------------------------------


class OrderCreate(StrictModel):
    """Totals are computed by the server; a `subtotal` or `total` in the body is refused."""

    company_id: ObjectId | None = Field(
        default=None, description="Defaults to the customer's company."
    )
    customer_id: ObjectId
    line_items: Annotated[list[LineItemIn], Field(min_length=1, max_length=MAX_LINES)]
    currency: CurrencyCode | None = Field(
        default=None,
        description="Defaults to the lines' currency, else the catalog products' currency.",
    )
    shipping_amount: Amount = 0
    tax_amount: Amount = 0
    discount_amount: Amount = 0
    is_renewal: bool = False
    is_trial: bool = False
    shipping_address: Address | None = Field(
        default=None, description="Defaults to the customer's shipping address."
    )
    metadata: Metadata = Field(default_factory=dict)


class OrderUpdate(StrictModel):
    """Lines, currency, amounts and the renewal/trial flags change only while the order is
    pending; the totals are computed again."""

    line_items: Annotated[list[LineItemIn], Field(min_length=1, max_length=MAX_LINES)] | None = None
    currency: CurrencyCode | None = None
    shipping_amount: Amount | None = None
    tax_amount: Amount | None = None
    discount_amount: Amount | None = None
    is_renewal: bool | None = None
    is_trial: bool | None = None
    shipping_address: Address | None = None
    metadata: Metadata | None = None
    status: Literal[OrderStatus.CANCELLED] | None = Field(
        default=None, description="Only `cancelled`; payments move orders to the other states."
    )


class OrderOut(Out):
    id: str
    object: Literal["order"] = "order"
    organization_id: str
    client_id: str
    company_id: str
    livemode: bool = Field(description="True for a live object, false for a test one.")
    customer_id: str
    line_items: list[LineItem]
    currency: str
    subtotal: int = Field(description="Σ line amounts, minor units.")
    shipping_amount: int
    tax_amount: int
    discount_amount: int
    total: int = Field(description="subtotal + shipping + tax - discount, minor units.")
    is_renewal: bool
    is_trial: bool
    status: OrderStatus
    status_changed_at: datetime | None
    shipping_address: Address | None
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
