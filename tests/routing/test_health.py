"""Account health: the score formula, the one-query window, the worker job against the real
NMI sandbox (suspension with its reason, refused credentials, an unreachable gateway), and the
per-attempt averages."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.gateways.base import DeclineReason, Outcome, Timeouts
from avnz.payments import history, publishing
from avnz.payments.models import Payment
from avnz.routing.accounts import health, service
from avnz.routing.accounts.models import AccountStatus, MerchantAccount
from avnz.routing.accounts.schemas import HealthMetrics, LastTest
from avnz.routing.decisions import tasks
from avnz.routing.decisions.scoring import health_score
from avnz.runtime import Runtime
from tests.factories import World
from tests.routing.factories import UNREACHABLE, account_row, settled_payment


def _metrics(**values: Any) -> HealthMetrics:
    return HealthMetrics.model_validate({"sample_size": 100, **values})


@pytest.mark.parametrize(
    ("values", "score"),
    [
        ({"sample_size": None}, 100),  # no history
        ({"sample_size": 19, "success_rate": 0.0, "error_rate": 1.0}, 100),  # too few to judge
        ({"success_rate": 1.0, "error_rate": 0.0, "average_response_time_ms": 300}, 100),
        # 100 * (0.5*0.8 + 0.2*0.9 + 0.1*(1-0.5) + 0.1*(1-0.5) + 0.1*(1-0.5)) = 73
        (
            {
                "success_rate": 0.8,
                "error_rate": 0.1,
                "average_response_time_ms": 3000,
                "refund_rate": 0.05,
                "chargeback_rate": 0.005,
            },
            73,
        ),
        # Refunds and chargebacks past their bad levels cost their full weight, no more.
        ({"success_rate": 1.0, "error_rate": 0.0, "refund_rate": 0.5, "chargeback_rate": 0.2}, 80),
        ({"success_rate": 0.0, "error_rate": 1.0, "average_response_time_ms": 9000}, 20),
    ],
)
def test_score_formula(values: dict[str, Any], score: int) -> None:
    assert health_score(_metrics(**values)) == score


def test_a_failed_connection_test_scores_zero() -> None:
    failed = LastTest(success=False, message="x", latency_ms=1.0, tested_at=clock.now())
    assert health_score(_metrics(success_rate=1.0, error_rate=0.0, last_test=failed)) == 0


def _payment(account: MerchantAccount, outcome: Outcome, **values: Any) -> Payment:
    approved = outcome is Outcome.APPROVED
    return settled_payment(
        account,
        "captured" if approved else "declined",
        outcome=outcome.value,
        amount_captured=1000 if approved else 0,
        **values,
    )


async def _history(session: AsyncSession, account: MerchantAccount, **counts: int) -> None:
    """Payments of the last day: `approved`, `declined`, `errors`, `refunded` (of the approved,
    in full), `chargebacks` (of the approved), `old` (approved, two days ago: outside)."""
    now = clock.now()
    for i in range(counts.get("approved", 0)):
        refunded = 1000 if i < counts.get("refunded", 0) else 0
        charged_back = now if i < counts.get("chargebacks", 0) else None
        session.add(
            _payment(
                account,
                Outcome.APPROVED,
                amount_refunded=refunded,
                chargeback_at=charged_back,
                latency_ms=200.0,
            )
        )
    for _ in range(counts.get("declined", 0)):
        session.add(
            _payment(
                account,
                Outcome.SOFT_DECLINE,
                decline_reason=DeclineReason.INSUFFICIENT_FUNDS.value,
                latency_ms=400.0,
            )
        )
    for _ in range(counts.get("errors", 0)):
        session.add(_payment(account, Outcome.GATEWAY_ERROR, latency_ms=1200.0))
    for _ in range(counts.get("old", 0)):
        session.add(_payment(account, Outcome.APPROVED, created_at=now - timedelta(days=2)))
    await session.flush()
    await publishing.publish_settled(session)


async def _account(runtime: Runtime, world: World, base_url: str, **counts: int) -> str:
    async with runtime.sessions.begin() as session:
        account = await account_row(session, runtime, world.a.company)
        account.base_url = base_url
        await _history(session, account, **counts)
    return account.id


async def _read(runtime: Runtime, account_id: str) -> MerchantAccount:
    async with runtime.sessions() as session:
        account = await session.get_one(MerchantAccount, account_id)
        return account


async def test_window_is_one_aggregate_per_account(runtime: Runtime, world: World) -> None:
    first = await _account(
        runtime, world, UNREACHABLE, approved=10, declined=6, errors=4, refunded=2, chargebacks=1
    )
    second = await _account(runtime, world, UNREACHABLE, old=5)
    async with runtime.sessions() as session:
        found = await health.windows(session, [first, second], history.money_windows)
    assert second not in found  # two days old: outside the window
    window = found[first]
    assert (window.attempts, window.approved, window.errors, window.chargebacks) == (20, 10, 4, 1)
    assert (window.captured, window.refunded) == (10_000, 2_000)
    assert window.average_latency_ms == pytest.approx((10 * 200 + 6 * 400 + 4 * 1200) / 20)
    metrics = HealthMetrics()
    window.apply(metrics)
    assert (metrics.success_rate, metrics.error_rate) == (0.5, 0.2)
    assert (metrics.refund_rate, metrics.chargeback_rate) == (0.2, 0.1)


async def test_the_job_updates_health_and_suspends_the_unhealthy(
    runtime: Runtime, world: World, sandboxes: str
) -> None:
    nmi = f"{sandboxes}/nmi"
    healthy = await _account(runtime, world, nmi, approved=25, declined=5)
    # 2 approved, 28 errors at 1.2 s (average 1133 ms, latency penalty 0.033):
    # 100 * (0.5*2/30 + 0.2*2/30 + 0.1*0.967 + 0.1 + 0.1) = 34.3 -> 34
    sick = await _account(runtime, world, nmi, approved=2, errors=28)
    job = tasks.handlers(runtime, money=history.money_windows)["routing.health_check"]
    async with runtime.sessions.begin() as session:
        due = await job(session, {})
    assert due is not None and due - clock.now() > timedelta(minutes=4)

    good = await _read(runtime, healthy)
    metrics = HealthMetrics.model_validate(good.health_metrics)
    assert good.status is AccountStatus.ACTIVE
    assert metrics.success_rate == round(25 / 30, 4)
    assert metrics.average_response_time_ms == pytest.approx((25 * 200 + 5 * 400) / 30, abs=0.01)
    assert metrics.last_test is not None and metrics.last_test.success
    assert metrics.last_health_check is not None
    assert metrics.health_score == health_score(metrics) == 92

    bad = await _read(runtime, sick)
    assert HealthMetrics.model_validate(bad.health_metrics).health_score == 34
    assert bad.status is AccountStatus.SUSPENDED
    assert bad.status_reason == "health check: health score 34 is below the threshold 40"
    assert bad.status_changed_at is not None


async def test_refused_credentials_suspend_an_unreachable_gateway_does_not(
    runtime: Runtime, world: World, sandboxes: str
) -> None:
    refused = await _account(runtime, world, f"{sandboxes}/nmi")
    async with runtime.sessions.begin() as session:
        account = await session.get_one(MerchantAccount, refused)
        service.encrypt_credentials(runtime.keyring, account, {"security_key": "wrong" * 7})
    unreachable = await _account(runtime, world, UNREACHABLE)
    results = {
        r.account_id: r
        for r in await health.check_accounts(
            runtime.sessions,
            runtime.keyring,
            runtime.http,
            timeouts=Timeouts(connect=1.0, read=2.0),
            suspend_below=40,
            money=history.money_windows,
        )
    }
    assert (results[refused].health_score, results[refused].suspended) == (0, True)
    assert "refused the credentials" in ((await _read(runtime, refused)).status_reason or "")
    assert (results[unreachable].health_score, results[unreachable].suspended) == (0, False)
    assert (await _read(runtime, unreachable)).status is AccountStatus.ACTIVE
