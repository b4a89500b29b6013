"""What a matched rule's actions decide for one payment, and the pieces the actions share."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from avnz.core.money import CurrencyCode
from avnz.rules import reference
from avnz.rules.context import RuleContext

# Far above any real payment, low enough for a BIGINT column: a typo, not a price, beyond it.
MAX_MINOR = 10**12

# Flat fees and caps are a rule's constants: convert each (amount, pair) once, not per payment.
_convert = lru_cache(maxsize=1024)(reference.convert)

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Minor = Annotated[int, Field(strict=True, ge=1, le=MAX_MINOR)]


class ActionModel(BaseModel):
    """An action as a rule stores it: unknown fields refused, immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class BlockDecision:
    reason: str
    until: datetime | None  # None: permanent


@dataclass(frozen=True, slots=True)
class Review:
    reason: str
    severity: str
    hold_funds: bool  # authorize only; capture after the review


@dataclass(frozen=True, slots=True)
class Notification:
    channel: str
    recipients: tuple[str, ...]
    subject: str | None
    message: str  # placeholders still unfilled: `notify` fills them at delivery


@dataclass(slots=True)
class Directive:
    """What the matched rule's actions decided for one payment (later actions win)."""

    pool_id: str | None = None
    strategy: str | None = None
    account_id: str | None = None
    block: BlockDecision | None = None
    surcharge: int = 0  # minor units of the transaction currency
    discount: int = 0
    require_3ds: bool = False
    review: Review | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "actions.2 (surcharge): ..."

    def final_amount(self, amount: int) -> int:
        """`amount` plus the surcharge minus the discount, never below 1 minor unit."""
        return max(1, amount + self.surcharge - self.discount)


def percent_of(amount: int, percent: Decimal | None) -> int:
    """`percent` % of `amount` minor units, rounded half up to the minor unit (0 for None)."""
    if percent is None:
        return 0
    return int((Decimal(amount) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def in_transaction_currency(amount: int, currency: str | None, context: RuleContext) -> int:
    """`amount` minor units of `currency` (None: the transaction's) in the transaction's
    currency at the indicative rate; ValueError naming the currency that has no rate."""
    source = currency or context.currency
    converted = _convert(amount, source, context.currency)
    if converted is None:
        missing = source if source not in reference.rates() else context.currency
        raise ValueError(f"no exchange rate for {missing}")
    return converted


class Adjustment(ActionModel):
    """A percent of the transaction's amount plus a flat amount in `currency` (by default the
    transaction's); subclasses bound `percent`."""

    percent: Decimal | None = None
    flat: Minor | None = None
    currency: CurrencyCode | None = None  # of `flat` (and of a surcharge's `cap`)

    @model_validator(mode="after")
    def _percent_or_flat(self) -> Self:
        if self.percent is None and self.flat is None:
            raise ValueError("needs percent, flat or both")
        return self

    def amount_for(self, context: RuleContext) -> int:
        """Minor units of the transaction currency: percent rounded half up, plus flat converted."""
        flat = in_transaction_currency(self.flat, self.currency, context) if self.flat else 0
        return percent_of(context.amount, self.percent) + flat
