"""What an action plugin declares, what the matched rule's actions decide (`Directive`), and the
pieces several actions share.

An action is one module holding one `Action` subclass: its `NAME` (the action's `type`), its
`LABEL`, its parameters (the model's own fields), its `INPUTS` (what the rule builder shows for
them), `apply` (its effect on the payment's directive) and `describe` (the action in words, for
the rule pages and the tester). The registry (`avnz.rules.actions`) builds the discriminated
union, the JSON schema and the builder's action list from these declarations.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from avnz.core.money import CurrencyCode, currency_exponent
from avnz.rules import reference
from avnz.rules.context import RuleContext

# Far above any real payment, low enough for a BIGINT column: a typo, not a price, beyond it.
MAX_MINOR = 10**12

# Flat fees and caps are a rule's constants: convert each (amount, pair) once, not per payment.
_convert = lru_cache(maxsize=1024)(reference.convert)

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Minor = Annotated[int, Field(strict=True, ge=1, le=MAX_MINOR)]
Names = dict[str, str]  # pool and account names by id, for actions in words
BLOCKED = "payment_blocked"  # the code of a block's refusal


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a rule refuses the payment before anything is reserved; `message` follows
    "Routing rule 'name' (id) "."""

    code: str  # the API error's code
    message: str
    until: datetime | None = None  # None: for good
    lifted_by_authentication: bool = False  # 3-D Secure: an authenticated payment passes


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
    refusals: dict[str, Refusal] = field(default_factory=dict)  # by code: a later one replaces
    surcharge: int = 0  # minor units of the transaction currency
    discount: int = 0
    review: Review | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "actions.2 (surcharge): ..."

    def final_amount(self, amount: int) -> int:
        """`amount` plus the surcharge minus the discount, never below 1 minor unit."""
        return max(1, amount + self.surcharge - self.discount)

    @property
    def block(self) -> Refusal | None:
        """The block among the refusals, if any (what the simulator counts as "would block")."""
        return self.refusals.get(BLOCKED)

    def refusal(self, *, authenticated: bool) -> Refusal | None:
        """The refusal that stands for this payment: one authentication cannot lift first."""
        standing = [
            refusal
            for refusal in self.refusals.values()
            if not (authenticated and refusal.lifted_by_authentication)
        ]
        return min(standing, key=lambda refusal: refusal.lifted_by_authentication, default=None)


@dataclass(frozen=True, slots=True)
class Target:
    """A pool or account of the company that an action routes to (`field` holds its id)."""

    kind: Literal["pool", "account"]
    id: str
    field: str


@dataclass(frozen=True, slots=True)
class ActionInput:
    """One input of an action in the rule builder: bool, choice, currency, datetime, decimal,
    list, money, pairs, pool, account, strategy, text or textarea."""

    name: str
    input: str
    label: str
    options: tuple[str, ...] = ()


class Action(BaseModel):
    """An action as a rule stores it: unknown fields refused, immutable once parsed.

    Subclasses declare `NAME`, `LABEL`, `INPUTS` and their parameters as fields, and implement
    `apply` and `describe`; the registry narrows `type` to `NAME`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    NAME: ClassVar[str]
    LABEL: ClassVar[str]
    INPUTS: ClassVar[tuple[ActionInput, ...]]
    MONEY: ClassVar[tuple[str, ...]] = ()  # fields in minor units of `currency`

    type: str

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Change `directive` as the action decides for this payment."""
        raise NotImplementedError

    def describe(self, names: Names) -> str:
        """The action in words; `names` gives pools' and accounts' names by id."""
        raise NotImplementedError

    def targets(self) -> tuple[Target, ...]:
        """The pools and accounts the action routes to: the service checks they are the
        company's, rule lint that they can take payments."""
        return ()


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


def money_text(amount: int | None, currency: str | None) -> str | None:
    """Minor units in words: `12.50 USD`, or `1250 minor units` when the currency is the
    transaction's (unknown until a payment)."""
    if amount is None:
        return None
    if currency is None:
        return f"{amount} minor units"
    return f"{Decimal(amount).scaleb(-currency_exponent(currency))} {currency}"


class Adjustment(Action):
    """A percent of the transaction's amount plus a flat amount in `currency` (by default the
    transaction's); subclasses bound `percent`."""

    MONEY: ClassVar[tuple[str, ...]] = ("flat",)
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

    def describe(self, names: Names) -> str:
        parts = [f"{self.percent}%" if self.percent else None, money_text(self.flat, self.currency)]
        return f"{self.LABEL} {' + '.join(part for part in parts if part)}"


def adjustment_inputs(*extra: ActionInput) -> tuple[ActionInput, ...]:
    """The builder's inputs of an adjustment: percent, flat, then `extra`, then the currency."""
    return (
        ActionInput("percent", "decimal", "Percent"),
        ActionInput("flat", "money", "Flat amount"),
        *extra,
        ActionInput("currency", "currency", "Currency of the amounts"),
    )
