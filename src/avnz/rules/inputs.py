"""The RuleContext of a transaction: the payment's own facts plus what the company, the customer
and the order say. Used by the payment path, the rule tester and the simulator alike, so a rule
sees the same transaction in all three."""

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.commerce.models import Customer as CustomerRow
from avnz.commerce.models import Order
from avnz.routing.decisions.service import HOME_COUNTRY
from avnz.rules.context import BusinessHours, Customer, Product, RuleContext
from avnz.rules.schedule import WEEKDAYS
from avnz.tenancy.models import Company


@dataclass(frozen=True, slots=True)
class CardFacts:
    brand: str | None = None
    card_type: str | None = None
    bin: str | None = None
    issuing_country: str | None = None


@dataclass(frozen=True, slots=True)
class Transaction:
    """What the payment itself says; everything else is looked up."""

    amount: int
    currency: str
    moment: datetime
    card: CardFacts = CardFacts()
    country: str | None = None  # billing country
    state: str | None = None
    customer_id: str | None = None
    order: Order | None = None
    is_tokenized: bool = False
    is_3ds_enrolled: bool = False
    is_digital_wallet: bool = False
    # Given facts instead of the customer row and the order (the rule tester's samples).
    customer_facts: Customer | None = None
    product_facts: Product | None = None


def home_country(company: Company) -> str:
    """The company's country (its `country` setting): card countries other than it are
    international, and its holidays are the default calendar."""
    return str(company.settings.get("country") or HOME_COUNTRY)


def business_hours(settings: dict[str, Any]) -> BusinessHours:
    """The company's `business_hours` setting ({start, end, days}), the 9-to-5 weekdays default
    for whatever it leaves out or gets wrong."""
    raw = settings.get("business_hours")
    if not isinstance(raw, dict):
        return BusinessHours()
    default = BusinessHours()
    try:
        start = time.fromisoformat(raw["start"]) if "start" in raw else default.start
        end = time.fromisoformat(raw["end"]) if "end" in raw else default.end
        days = (
            frozenset(WEEKDAYS.index(day) for day in raw["days"]) if "days" in raw else default.days
        )
    except (TypeError, ValueError):
        return default
    return BusinessHours(start=start, end=end, days=days)


async def _customer(session: AsyncSession, customer_id: str | None, moment: datetime) -> Customer:
    row = await session.get(CustomerRow, customer_id) if customer_id else None
    if row is None:
        return Customer()
    return Customer(
        type=str(row.type.value).lower(),
        account_age_days=max((moment - row.created_at).days, 0),
        lifetime_value=row.lifetime_value,
        risk_level=str(row.risk_level.value).lower(),
        chargeback_rate=float(row.chargeback_rate),
        segments=frozenset(str(segment) for segment in row.segments),
    )


def _product(order: Order | None) -> Product:
    """The order's subscription line if it has one (what a rebill is about), else its first."""
    if order is None or not order.line_items:
        return Product()
    lines = order.line_items
    line = next((item for item in lines if item.get("is_subscription")), lines[0])
    return Product(
        sku=line.get("sku"),
        category=(line.get("category") or None) and str(line["category"]).lower(),
        is_subscription=bool(line.get("is_subscription")),
        interval=line.get("interval"),
        is_renewal=order.is_renewal,
        is_trial=order.is_trial,
    )


async def rule_context(
    session: AsyncSession, company: Company, transaction: Transaction
) -> RuleContext:
    card = transaction.card
    return RuleContext(
        amount=transaction.amount,
        currency=transaction.currency,
        moment=transaction.moment,
        country=transaction.country,
        state=transaction.state,
        card_brand=card.brand.lower() if card.brand else None,
        card_type=card.card_type,
        bin=card.bin,
        issuing_country=card.issuing_country,
        is_tokenized=transaction.is_tokenized,
        is_3ds_enrolled=transaction.is_3ds_enrolled,
        is_digital_wallet=transaction.is_digital_wallet,
        customer=transaction.customer_facts
        or await _customer(session, transaction.customer_id, transaction.moment),
        product=transaction.product_facts or _product(transaction.order),
        timezone=company.timezone,
        home_country=home_country(company),
        business_hours=business_hours(company.settings),
    )
