"""The failover policy: what to do after one attempt at one account. Pure functions, no I/O.

The outcome class decides, and for a soft decline the pool's configuration does:

- approved, hard decline: STOP (the issuer judged the card; another account changes nothing);
- error before send, config error, a gateway error that never reached the gateway, and the
  soft declines that are about the account rather than the card (rate limited, processing
  error): TRY_NEXT;
- other soft declines (insufficient funds, do not honor, ...): TRY_NEXT only when the pool
  says `retry_soft_declines`, else STOP;
- timeout after send, or any answer after which the charge may exist: INQUIRE. Never a blind
  retry elsewhere: the first account may have charged the card.
"""

import enum

from pydantic import BaseModel, ConfigDict, Field

from avnz.gateways.base import DeclineReason, GatewayResult, Outcome


class Step(enum.StrEnum):
    TRY_NEXT = "try_next"
    STOP = "stop"
    INQUIRE = "inquire"


class FailoverConfig(BaseModel):
    """A pool's failover and circuit-breaker settings (all optional, with these defaults)."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=3, ge=1, le=5, description="Accounts tried per payment.")
    time_budget_ms: int = Field(
        default=60_000, ge=1_000, le=300_000, description="No new attempt starts after this."
    )
    retry_soft_declines: bool = Field(
        default=False, description="Try the next account after an issuer's soft decline."
    )
    exclusion_seconds: int = Field(
        default=300, ge=1, le=86_400, description="How long a failing account is left out."
    )
    failure_threshold: int = Field(
        default=3, ge=1, le=100, description="Consecutive account failures before exclusion."
    )
    card_retry_budget: int = Field(
        default=6, ge=1, le=100, description="Attempts per card, across all accounts, in 24 h."
    )


# Soft declines that say the account or gateway is struggling, not that the issuer refused.
ACCOUNT_LEVEL_REASONS = frozenset({DeclineReason.RATE_LIMITED, DeclineReason.PROCESSING_ERROR})


def next_step(result: GatewayResult, config: FailoverConfig) -> Step:
    """What the payment path does after `result`; changes nothing."""
    if result.charge_may_exist:
        return Step.INQUIRE
    match result.outcome:
        case Outcome.APPROVED | Outcome.HARD_DECLINE:
            return Step.STOP
        case Outcome.ERROR_BEFORE_SEND | Outcome.CONFIG_ERROR | Outcome.GATEWAY_ERROR:
            return Step.TRY_NEXT
        case Outcome.SOFT_DECLINE:
            if result.decline_reason in ACCOUNT_LEVEL_REASONS or config.retry_soft_declines:
                return Step.TRY_NEXT
            return Step.STOP
        case Outcome.TIMEOUT_AFTER_SEND:  # charge_may_exist above; kept for exhaustiveness
            return Step.INQUIRE


def is_account_failure(result: GatewayResult) -> bool:
    """Does `result` count against the account's health (the circuit breaker)? Errors and
    account-level soft declines do; approvals and the issuer's declines do not."""
    if result.outcome in (Outcome.APPROVED, Outcome.HARD_DECLINE):
        return False
    if result.outcome is Outcome.SOFT_DECLINE:
        return result.decline_reason in ACCOUNT_LEVEL_REASONS
    return True


def is_issuer_decline(result: GatewayResult) -> bool:
    """Did the card's issuer say no? What the card retry budget counts: our own errors, an
    account's refusals and crashes are not the card's doing."""
    if result.outcome is Outcome.HARD_DECLINE:
        return True
    return (
        result.outcome is Outcome.SOFT_DECLINE
        and result.decline_reason not in ACCOUNT_LEVEL_REASONS
    )


def may_try_again(config: FailoverConfig, *, attempts: int, elapsed_ms: float) -> bool:
    """Whether another attempt may start after `attempts` made in `elapsed_ms`."""
    return attempts < config.max_attempts and elapsed_ms < config.time_budget_ms
