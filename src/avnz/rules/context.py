"""What a rule may look at for one transaction: plain frozen dataclasses, never the card number."""

from dataclasses import dataclass, field
from datetime import datetime, time


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening hours in the company's timezone; `end` before `start` means across midnight."""

    start: time = time(9, 0)
    end: time = time(17, 0)
    days: frozenset[int] = frozenset(range(5))  # Monday is 0


@dataclass(frozen=True, slots=True)
class Customer:
    type: str | None = None  # e.g. new / returning / vip
    account_age_days: int | None = None
    lifetime_value: int | None = None  # minor units of the company's reporting currency
    risk_level: str | None = None  # low / medium / high / critical
    chargeback_rate: float | None = None  # 0.0 to 1.0
    segments: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Product:
    sku: str | None = None
    category: str | None = None
    is_subscription: bool = False
    interval: str | None = None  # day / week / month / year
    is_renewal: bool = False
    is_trial: bool = False


@dataclass(frozen=True, slots=True)
class RuleContext:
    """One transaction as the rule engine sees it; `moment` is an aware UTC datetime."""

    amount: int  # minor units of `currency`
    currency: str
    moment: datetime
    country: str | None = None  # billing/customer country, ISO alpha-2
    state: str | None = None  # subdivision code without the country, e.g. "CA"
    card_brand: str | None = None  # lower case, as the card vault names brands
    card_type: str | None = None  # credit / debit / prepaid / unknown
    bin: str | None = None  # first 6 to 8 digits
    issuing_country: str | None = None
    is_tokenized: bool = False
    is_3ds_enrolled: bool = False
    is_digital_wallet: bool = False
    customer: Customer = field(default_factory=Customer)
    product: Product = field(default_factory=Product)
    timezone: str = "UTC"  # the company's IANA timezone
    home_country: str = "US"  # the company's country: for is_domestic and default holidays
    business_hours: BusinessHours = field(default_factory=BusinessHours)
