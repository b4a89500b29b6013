"""Which merchant account takes a payment, with its capacity reserved.

Today: the company's active accounts in the order they were added, the first that is eligible
and has capacity left. The pools issue puts pools and strategies in `choose_account`'s place
and the rule engine in front of it; the payment path only sees `choose_account`.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core.errors import AppError, NotFound
from avnz.routing import usage
from avnz.routing.models import AccountStatus, MerchantAccount
from avnz.routing.schemas import AccountLimits, AccountRestrictions

STRATEGY = "company_default"


class NoEligibleAccount(AppError):
    status_code: ClassVar[int] = 422
    default_code: ClassVar[str] = "no_eligible_account"


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """What account selection may look at; never the card number."""

    company_id: str
    amount: int  # minor units of `currency`
    currency: str
    card_brand: str | None = None
    card_country: str | None = None
    product_category: str | None = None
    account_id: str | None = None  # the caller named the account: only it is considered


@dataclass(frozen=True, slots=True)
class Choice:
    account: MerchantAccount
    reservation: usage.Reservation
    skipped: dict[str, str] = field(default_factory=dict)  # account id -> why not

    def record(self) -> dict[str, Any]:
        """The routing decision as the payment keeps it."""
        return {"strategy": STRATEGY, "account_id": self.account.id, "skipped": self.skipped}


def ineligibility(account: MerchantAccount, context: RoutingContext) -> str | None:
    """Why `account` cannot take this payment at all, or None. Caps are checked by reserving."""
    if account.status is not AccountStatus.ACTIVE:
        return f"the account is {account.status.value}"
    if account.currency != context.currency:
        return f"the account settles in {account.currency}"
    limits = AccountLimits.model_validate(account.limits)
    if limits.min_transaction_amount is not None and context.amount < limits.min_transaction_amount:
        return "the amount is below the account's minimum"
    if limits.max_transaction_amount is not None and context.amount > limits.max_transaction_amount:
        return "the amount is above the account's maximum"
    return _restricted(AccountRestrictions.model_validate(account.restrictions), context)


def _restricted(rules: AccountRestrictions, context: RoutingContext) -> str | None:
    country, brand, category = context.card_country, context.card_brand, context.product_category
    if country and (
        country in rules.blocked_countries
        or (rules.allowed_countries and country not in rules.allowed_countries)
    ):
        return f"the account does not take cards from {country}"
    if brand and (
        brand in rules.blocked_card_brands
        or (rules.allowed_card_brands and brand not in rules.allowed_card_brands)
    ):
        return f"the account does not take {brand} cards"
    allowed = rules.allowed_product_categories
    if category and allowed and category not in allowed:
        return f"the account does not sell {category}"
    return None


async def choose_account(session: AsyncSession, context: RoutingContext, at: datetime) -> Choice:
    """The first eligible account with capacity, its capacity reserved in `session`; 422 with
    every account's reason when none can take the payment."""
    stmt = (
        select(MerchantAccount)
        .where(
            MerchantAccount.company_id == context.company_id,
            MerchantAccount.status == AccountStatus.ACTIVE,
        )
        .order_by(MerchantAccount.created_at, MerchantAccount.id)
    )
    if context.account_id is not None:
        stmt = stmt.where(MerchantAccount.id == context.account_id)
    accounts = list((await session.scalars(stmt)).all())
    if context.account_id is not None and not accounts:
        raise NotFound(
            f"No active merchant account {context.account_id!r} in this company.",
            param="merchant_account_id",
        )
    skipped: dict[str, str] = {}
    refusal: usage.LimitExceeded | None = None
    for account in accounts:
        reason = ineligibility(account, context)
        if reason is None:
            try:
                reservation = await usage.reserve(session, account, context.amount, at)
            except usage.LimitExceeded as exc:
                refusal, reason = exc, exc.message
            else:
                return Choice(account, reservation, skipped)
        skipped[account.id] = reason
    if refusal is not None and len(skipped) == 1:
        raise refusal  # the only account is full: its own words are the clearest answer
    raise NoEligibleAccount(_summary(skipped))


def _summary(skipped: dict[str, str]) -> str:
    if not skipped:
        return "This company has no active merchant account; add one first."
    reasons = "; ".join(f"{account}: {why}" for account, why in skipped.items())
    return f"No merchant account of this company can take this payment ({reasons})."
