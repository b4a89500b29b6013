"""What every strategy sees and returns: a snapshot of each eligible account (Candidate), the
transaction's side (StrategyContext) and the pick with the probability it had.

Strategies are pure: no database, no clock, randomness only from the `rng` they are given, so
a seeded rng replays a choice exactly and a strategy can be evaluated offline on logged traffic.
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field


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
    alpha: float  # Beta posterior of approval for the transaction's context key
    beta: float
    reserve_cost: int = 0  # LOWEST_COST: what the account's rolling reserve costs on it

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


class Strategy(Protocol):
    name: str
    config: type[StrategyConfig]

    def choose(
        self, candidates: Sequence[Candidate], context: StrategyContext, rng: random.Random
    ) -> Pick:
        """One of `candidates` (never empty), and the probability it had."""
        ...


def best(candidates: Sequence[Candidate], key: Callable[[Candidate], Any]) -> Pick:
    """The candidate with the smallest `key` (ties: failover order); deterministic, so p = 1."""
    chosen = min(candidates, key=lambda c: (key(c), c.order))
    return Pick(chosen, 1.0)
