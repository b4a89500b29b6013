"""The failover policy, table-driven over every outcome class and decline reason."""

import itertools

import pytest
from pydantic import ValidationError

from avnz.gateways.base import (
    RETRYABLE,
    SOFT_REASONS,
    DeclineReason,
    GatewayResult,
    Operation,
    Outcome,
    declined,
)
from avnz.routing.decisions.failover import (
    FailoverConfig,
    Step,
    is_account_failure,
    may_try_again,
    next_step,
)

STRICT, LENIENT = FailoverConfig(), FailoverConfig(retry_soft_declines=True)

# Every soft decline: (step when the pool does not retry soft declines, step when it does).
SOFT: dict[DeclineReason, tuple[Step, Step]] = {
    DeclineReason.INSUFFICIENT_FUNDS: (Step.STOP, Step.TRY_NEXT),
    DeclineReason.DO_NOT_HONOR: (Step.STOP, Step.TRY_NEXT),
    DeclineReason.LIMIT_EXCEEDED: (Step.STOP, Step.TRY_NEXT),
    DeclineReason.AUTHENTICATION_REQUIRED: (Step.STOP, Step.TRY_NEXT),
    DeclineReason.GENERIC_DECLINE: (Step.STOP, Step.TRY_NEXT),
    # About the account, not the card: always the next account.
    DeclineReason.RATE_LIMITED: (Step.TRY_NEXT, Step.TRY_NEXT),
    DeclineReason.PROCESSING_ERROR: (Step.TRY_NEXT, Step.TRY_NEXT),
}

# Outcome and whether the request reached the gateway -> step, whatever the reason.
BY_OUTCOME: dict[tuple[Outcome, bool], Step] = {
    (Outcome.APPROVED, True): Step.STOP,
    (Outcome.APPROVED, False): Step.STOP,
    (Outcome.HARD_DECLINE, True): Step.STOP,
    (Outcome.HARD_DECLINE, False): Step.STOP,
    (Outcome.ERROR_BEFORE_SEND, False): Step.TRY_NEXT,
    (Outcome.ERROR_BEFORE_SEND, True): Step.TRY_NEXT,
    (Outcome.CONFIG_ERROR, True): Step.TRY_NEXT,
    (Outcome.CONFIG_ERROR, False): Step.TRY_NEXT,
    (Outcome.GATEWAY_ERROR, False): Step.TRY_NEXT,  # refused in front of the gateway
    (Outcome.GATEWAY_ERROR, True): Step.INQUIRE,  # the gateway may have charged
    (Outcome.TIMEOUT_AFTER_SEND, True): Step.INQUIRE,
    (Outcome.TIMEOUT_AFTER_SEND, False): Step.INQUIRE,
}

REASONS: list[DeclineReason | None] = [None, *DeclineReason]


def test_the_soft_table_covers_every_soft_reason() -> None:
    assert set(SOFT) == SOFT_REASONS
    assert {o for o, _ in BY_OUTCOME} == set(Outcome) - {Outcome.SOFT_DECLINE}


@pytest.mark.parametrize("reason", list(DeclineReason), ids=str)
def test_declines_as_the_connectors_build_them(reason: DeclineReason) -> None:
    result = declined(Operation.SALE, reason, raw_code="x", raw_message=None)
    if RETRYABLE[reason]:
        assert (next_step(result, STRICT), next_step(result, LENIENT)) == SOFT[reason]
    else:
        assert result.outcome is Outcome.HARD_DECLINE
        assert next_step(result, STRICT) is next_step(result, LENIENT) is Step.STOP


@pytest.mark.parametrize(
    ("outcome", "sent", "reason"),
    list(itertools.product(Outcome, (True, False), REASONS)),
    ids=lambda value: str(value),
)
def test_every_outcome_and_reason(
    outcome: Outcome, sent: bool, reason: DeclineReason | None
) -> None:
    result = GatewayResult(Operation.SALE, outcome, decline_reason=reason, request_sent=sent)
    for config, column in ((STRICT, 0), (LENIENT, 1)):
        if outcome is Outcome.SOFT_DECLINE:
            want = SOFT[reason][column] if reason in SOFT else (Step.STOP, Step.TRY_NEXT)[column]
        else:
            want = BY_OUTCOME[(outcome, sent)]
        assert next_step(result, config) is want, (config.retry_soft_declines, result)


def test_a_timeout_is_never_retried_elsewhere_even_when_soft_declines_are() -> None:
    result = GatewayResult(Operation.SALE, Outcome.TIMEOUT_AFTER_SEND, retryable=True)
    assert next_step(result, LENIENT) is Step.INQUIRE


@pytest.mark.parametrize(
    ("outcome", "reason", "failure"),
    [
        (Outcome.APPROVED, None, False),
        (Outcome.HARD_DECLINE, DeclineReason.STOLEN_OR_LOST, False),
        (Outcome.SOFT_DECLINE, DeclineReason.INSUFFICIENT_FUNDS, False),
        (Outcome.SOFT_DECLINE, DeclineReason.DO_NOT_HONOR, False),
        (Outcome.SOFT_DECLINE, DeclineReason.RATE_LIMITED, True),
        (Outcome.SOFT_DECLINE, DeclineReason.PROCESSING_ERROR, True),
        (Outcome.ERROR_BEFORE_SEND, DeclineReason.PROCESSING_ERROR, True),
        (Outcome.TIMEOUT_AFTER_SEND, DeclineReason.PROCESSING_ERROR, True),
        (Outcome.GATEWAY_ERROR, DeclineReason.PROCESSING_ERROR, True),
        (Outcome.CONFIG_ERROR, None, True),
    ],
)
def test_only_account_level_results_count_against_the_account(
    outcome: Outcome, reason: DeclineReason | None, failure: bool
) -> None:
    assert is_account_failure(GatewayResult(Operation.SALE, outcome, decline_reason=reason)) is (
        failure
    )


def test_attempt_and_time_limits() -> None:
    config = FailoverConfig(max_attempts=2, time_budget_ms=5_000)
    assert may_try_again(config, attempts=1, elapsed_ms=100)
    assert not may_try_again(config, attempts=2, elapsed_ms=100)
    assert not may_try_again(config, attempts=1, elapsed_ms=5_000)


def test_config_defaults_and_bounds() -> None:
    assert STRICT.model_dump() == {
        "max_attempts": 3,
        "time_budget_ms": 60_000,
        "retry_soft_declines": False,
        "exclusion_seconds": 300,
        "failure_threshold": 3,
        "card_retry_budget": 6,
    }
    for bad in ({"max_attempts": 0}, {"max_attempts": 6}, {"failure_threshold": 0}, {"x": 1}):
        with pytest.raises(ValidationError):
            FailoverConfig.model_validate(bad)
