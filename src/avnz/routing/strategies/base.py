"""What every strategy sees and returns: a snapshot of each eligible account (Candidate), the
transaction's side (StrategyContext) and the pick with the probability it had; and `Strategy`,
the one class a strategy module subclasses to declare itself.

Strategies are pure: no database, no clock, randomness only from the `rng` they are given, so
a seeded rng replays a choice exactly and a strategy can be evaluated offline on logged traffic.
"""

import inspect
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from avnz.routing.accounts.schemas import AccountFees

# The weight of the newest latency in the average the stats keep, unless a strategy's settings
# make it a setting (LOWEST_LATENCY's `ewma_alpha`).
LATENCY_WEIGHT = 0.2


class StrategyConfig(BaseModel):
    """Settings every strategy shares: how much recent traffic the account stats look at."""

    model_config = ConfigDict(extra="forbid")

    lookback_hours: int = Field(default=24, ge=1, le=720)
    sample_size: int = Field(
        default=200, ge=10, le=1000, description="Recent payments per account the stats read."
    )
    pace_daily_caps: bool = Field(
        default=False,
        description="Spread each account's daily cap over the day: an account that has used "
        "more of it than the share of the day gone by (plus `pace_slack`) waits its turn.",
    )
    pace_slack: float = Field(default=0.05, ge=0, le=1)

    def latency_weight(self) -> float:
        """The weight of the newest latency in each account's average latency (the stats)."""
        return LATENCY_WEIGHT


@dataclass(frozen=True, slots=True)
class Candidate:
    """One eligible account of the pool, as the strategy sees it for this transaction."""

    account_id: str
    weight: int  # 0-100
    priority: int  # lower first
    order: int  # position in the pool's failover order (priority, then when added)
    fee: int  # this transaction's fee, minor units
    daily_headroom: float | None  # share of the daily cap left after it; None: no cap
    monthly_headroom: float | None
    in_flight: int  # payments of the account still pending
    latency_ewma_ms: float | None  # None: no recent payment with a latency
    approved: int  # recent decided payments: approved ...
    decided: int  # ... out of approved + declined + failed
    alpha: float  # Beta posterior of approval (overall, unless the strategy refines it)
    beta: float
    reserve_cost: int = (
        0  # what the account's rolling reserve costs on it, if the strategy counts it
    )

    @property
    def cost(self) -> int:
        return self.fee + self.reserve_cost

    @property
    def success_rate(self) -> float | None:
        return self.approved / self.decided if self.decided else None

    @property
    def fits(self) -> bool:
        """Whether this transaction fits in the caps (as last counted)."""
        return (self.daily_headroom is None or self.daily_headroom >= 0) and (
            self.monthly_headroom is None or self.monthly_headroom >= 0
        )

    @property
    def headroom(self) -> float:
        """The tighter of the daily and monthly headroom; an uncapped period counts as 1."""
        return min(
            1.0 if self.daily_headroom is None else self.daily_headroom,
            1.0 if self.monthly_headroom is None else self.monthly_headroom,
        )


@dataclass(frozen=True, slots=True)
class StrategyContext:
    pool_id: str
    amount: int
    context_key: str  # card brand | country | amount band
    config: StrategyConfig
    position: int = 0  # round robin: this transaction's number in the pool's sequence


@dataclass(frozen=True, slots=True)
class Pick:
    candidate: Candidate
    probability: float  # the chance the strategy had of choosing this candidate


@dataclass(frozen=True, slots=True)
class Facts:
    """What selection knows of one account beyond its Candidate, for `Strategy.refine`."""

    fees: AccountFees  # the account's fee table
    amount: int  # the transaction's amount, minor units
    context_approved: int  # recent approvals for the transaction's context key ...
    context_refused: int  # ... and declines or failures


class Strategy:
    """One load-balancing strategy, declared in its own module (see `strategies/__init__.py`).

    A subclass sets `name` (stored on the pool, shown in the API), `label` and `summary` (what
    the dashboard shows; `summary` defaults to the first paragraph of its module's docstring,
    after the "NAME: " it starts with), `config` (its settings' Pydantic model, the pool's
    `configuration`) and implements `choose`. Two optional hooks: `refine`, for a strategy that
    compares more of an account than the common Candidate fields, and `needs_position` for one
    that takes turns.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    summary: ClassVar[str]
    config: ClassVar[type[StrategyConfig]] = StrategyConfig
    # Whether `choose` reads `StrategyContext.position`, the pool's shared turn counter (one
    # increment per payment, so a strategy that does not need it does not pay for it).
    needs_position: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "summary" not in cls.__dict__:
            doc = inspect.getdoc(sys.modules[cls.__module__]) or ""
            first = doc.split("\n\n")[0].replace("\n", " ")
            cls.summary = first.partition(": ")[2] or first

    def refine(self, candidate: Candidate, facts: Facts, config: StrategyConfig) -> Candidate:
        """The candidate as this strategy compares it (default: as selection built it)."""
        return candidate

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        """One of `candidates` (never empty), and the probability it had."""
        raise NotImplementedError


Settings = TypeVar("Settings", bound=StrategyConfig)


def settings_of(config: StrategyConfig, kind: type[Settings]) -> Settings:
    """`config` if it is a `kind`, else `kind`'s defaults (a rule's override of the strategy
    gets the defaults; a strategy called with the shared settings alone, too)."""
    return config if isinstance(config, kind) else kind()


def best(candidates: Sequence[Candidate], key: Callable[[Candidate], Any]) -> Pick:
    """The candidate with the smallest `key` (ties: failover order); deterministic, so p = 1."""
    chosen = min(candidates, key=lambda c: (key(c), c.order))
    return Pick(chosen, 1.0)
