"""The account health score (0-100), a pure function of the account's health metrics.

    score = 100 * (0.50*A + 0.20*(1 - E) + 0.10*(1 - L) + 0.10*(1 - R') + 0.10*(1 - C'))

- A: approval rate (approved / answered attempts) over the health check's window;
- E: error rate (gateway errors, timeouts, config errors, rate limiting / processing errors);
- L: latency penalty, 0 up to 1 s average response time, rising linearly to 1 at 5 s;
- R' = min(1, refund rate / 10 %): refunded / captured volume;
- C' = min(1, chargeback rate / 1 %): chargebacks / approved payments (the card networks'
  monitoring programs start around 0.9 %).

With fewer than MIN_SAMPLE answered attempts in the window the rates are not trusted and count
as perfect (a new account is not suspended for two declines). A failed connection test scores
0 whatever the history: the account cannot take payments.
"""

from avnz.routing.accounts.schemas import HealthMetrics

MIN_SAMPLE = 20
WEIGHTS = {"approval": 0.50, "errors": 0.20, "latency": 0.10, "refunds": 0.10, "chargebacks": 0.10}
LATENCY_OK_MS, LATENCY_BAD_MS = 1_000.0, 5_000.0
REFUND_RATE_BAD, CHARGEBACK_RATE_BAD = 0.10, 0.01


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def health_score(metrics: HealthMetrics) -> int:
    """The score of `metrics` by the formula above; changes nothing."""
    if metrics.last_test is not None and not metrics.last_test.success:
        return 0
    if metrics.sample_size is None or metrics.sample_size < MIN_SAMPLE:
        return 100
    approval = metrics.success_rate if metrics.success_rate is not None else 1.0
    errors = metrics.error_rate or 0.0
    latency = _clamp(
        ((metrics.average_response_time_ms or 0.0) - LATENCY_OK_MS)
        / (LATENCY_BAD_MS - LATENCY_OK_MS)
    )
    refunds = _clamp((metrics.refund_rate or 0.0) / REFUND_RATE_BAD)
    chargebacks = _clamp((metrics.chargeback_rate or 0.0) / CHARGEBACK_RATE_BAD)
    score = (
        WEIGHTS["approval"] * approval
        + WEIGHTS["errors"] * (1 - errors)
        + WEIGHTS["latency"] * (1 - latency)
        + WEIGHTS["refunds"] * (1 - refunds)
        + WEIGHTS["chargebacks"] * (1 - chargebacks)
    )
    return round(100 * _clamp(score))
