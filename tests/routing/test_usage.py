"""Usage counters: reservations count in every period bucket, caps and amount bounds refuse with
a clear error and leave nothing behind, and a new period starts from zero."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from starlette.requests import Request

from avnz.core import clock
from avnz.core.errors import app_error_response
from avnz.routing.accounts import usage
from avnz.routing.accounts.models import MerchantAccount, MerchantAccountUsage, Period
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import API, account_row, create_account

# A Wednesday: its ISO week began on Monday 2031-01-13.
WEDNESDAY = datetime(2031, 1, 15, 23, 59, 30, tzinfo=UTC)


async def _account(runtime: Runtime, world: World, **limits: Any) -> MerchantAccount:
    async with runtime.sessions.begin() as session:
        return await account_row(session, runtime, world.a.company, limits=limits)


async def _counters(runtime: Runtime, account_id: str) -> dict[tuple[str, date], tuple[int, int]]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(MerchantAccountUsage).where(MerchantAccountUsage.account_id == account_id)
        )
        return {
            (row.period.value, row.period_start): (row.transaction_count, row.volume_minor)
            for row in rows
        }


async def _reserve(runtime: Runtime, account: MerchantAccount, amount: int, at: datetime) -> Any:
    async with runtime.sessions.begin() as session:
        return await usage.reserve(session, account, amount, at)


def test_buckets_start_on_the_utc_day_iso_monday_first_of_month_and_january_first() -> None:
    in_new_york = datetime(2031, 1, 15, 22, 0, tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    assert [(b.period, b.period_start, b.period_end) for b in usage.buckets_at(in_new_york)] == [
        (Period.DAY, date(2031, 1, 15), date(2031, 1, 16)),
        (Period.WEEK, date(2031, 1, 13), date(2031, 1, 20)),
        (Period.MONTH, date(2031, 1, 1), date(2031, 2, 1)),
        (Period.YEAR, date(2031, 1, 1), date(2032, 1, 1)),
    ]
    december = usage.buckets_at(datetime(2030, 12, 31, 23, 0, tzinfo=UTC))
    assert december[1].period_start == date(2030, 12, 30)  # ISO week 1 of 2031 starts Monday
    assert december[2].period_end == date(2031, 1, 1)


async def test_a_reservation_counts_in_every_bucket_and_release_gives_it_back(
    runtime: Runtime, world: World
) -> None:
    account = await _account(runtime, world)
    first = await _reserve(runtime, account, 1999, WEDNESDAY)
    second = await _reserve(runtime, account, 1, WEDNESDAY)
    expected = {
        ("day", date(2031, 1, 15)): (2, 2000),
        ("week", date(2031, 1, 13)): (2, 2000),
        ("month", date(2031, 1, 1)): (2, 2000),
        ("year", date(2031, 1, 1)): (2, 2000),
    }
    assert await _counters(runtime, account.id) == expected

    async with runtime.sessions.begin() as session:
        await usage.release(session, first)
    assert set((await _counters(runtime, account.id)).values()) == {(1, 1)}
    async with runtime.sessions.begin() as session:  # more than is left: nothing changes
        await usage.release(session, first)
    assert set((await _counters(runtime, account.id)).values()) == {(1, 1)}
    async with runtime.sessions.begin() as session:  # counters never go below zero
        await usage.release(session, second)
        await usage.release(session, second)
    assert set((await _counters(runtime, account.id)).values()) == {(0, 0)}


async def test_the_daily_transaction_cap_refuses_with_a_clear_error(
    runtime: Runtime, world: World
) -> None:
    account = await _account(runtime, world, daily_transaction_limit=2)
    for _ in range(2):
        await _reserve(runtime, account, 100, WEDNESDAY)
    with pytest.raises(usage.LimitExceeded) as refused:
        await _reserve(runtime, account, 100, WEDNESDAY)
    error = refused.value
    assert (error.status_code, error.code) == (422, "limit_exceeded")
    assert error.limit == "daily_transaction_limit" and error.period is Period.DAY
    assert error.message == "The daily transaction limit of 2 is reached on this account."
    assert set((await _counters(runtime, account.id)).values()) == {(2, 200)}

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []})
    response = app_error_response(request, error)
    assert response.status_code == 422
    assert b'"code":"limit_exceeded"' in response.body
    assert b"daily transaction limit of 2" in response.body


async def test_a_refusal_by_a_later_bucket_undoes_the_earlier_ones(
    runtime: Runtime, world: World
) -> None:
    """The day bucket is counted before the week refuses: the savepoint must undo it, and the
    caller's transaction must go on (an orchestrator tries the next account in it)."""
    account = await _account(runtime, world, daily_transaction_limit=10, weekly_volume_limit=5000)
    await _reserve(runtime, account, 4000, WEDNESDAY)
    async with runtime.sessions.begin() as session:
        with pytest.raises(usage.LimitExceeded) as refused:
            await usage.reserve(session, account, 1500, WEDNESDAY)
        assert refused.value.limit == "weekly_volume_limit"
        assert "weekly volume limit of 50.00 USD" in refused.value.message
        assert "40.00 USD used" in refused.value.message
        await usage.reserve(session, account, 1000, WEDNESDAY)  # same transaction, still usable
    assert set((await _counters(runtime, account.id)).values()) == {(2, 5000)}


@pytest.mark.parametrize(
    ("amount", "limit", "message"),
    [
        (49, "min_transaction_amount", "The amount 0.49 USD is below this account's minimum"),
        (100_001, "max_transaction_amount", "above this account's maximum of 1000.00 USD"),
    ],
)
async def test_amounts_outside_the_bounds_are_refused_before_counting(
    runtime: Runtime, world: World, amount: int, limit: str, message: str
) -> None:
    account = await _account(
        runtime, world, min_transaction_amount=50, max_transaction_amount=100_000
    )
    with pytest.raises(usage.LimitExceeded) as refused:
        await _reserve(runtime, account, amount, WEDNESDAY)
    assert refused.value.limit == limit and refused.value.param == "amount"
    assert message in refused.value.message
    assert await _counters(runtime, account.id) == {}
    await _reserve(runtime, account, 50, WEDNESDAY)
    await _reserve(runtime, account, 100_000, WEDNESDAY)


async def test_zero_decimal_currencies_are_named_in_their_own_units(
    runtime: Runtime, world: World
) -> None:
    async with runtime.sessions.begin() as session:
        account = await account_row(
            session, runtime, world.a.company, limits={"daily_volume_limit": 10_000}, currency="JPY"
        )
    with pytest.raises(usage.LimitExceeded) as refused:
        await _reserve(runtime, account, 10_001, WEDNESDAY)
    assert "daily volume limit of 10000 JPY" in refused.value.message


async def test_a_new_period_starts_from_zero(runtime: Runtime, world: World) -> None:
    account = await _account(runtime, world, daily_transaction_limit=1, weekly_transaction_limit=3)
    await _reserve(runtime, account, 100, WEDNESDAY)
    with pytest.raises(usage.LimitExceeded):
        await _reserve(runtime, account, 100, WEDNESDAY)
    thursday = WEDNESDAY + timedelta(seconds=31)  # midnight UTC has passed
    await _reserve(runtime, account, 100, thursday)
    friday = thursday + timedelta(days=1)
    await _reserve(runtime, account, 100, friday)
    with pytest.raises(usage.LimitExceeded) as weekly:  # the day is new, the week is full
        await _reserve(runtime, account, 100, friday + timedelta(days=1))
    assert weekly.value.limit == "weekly_transaction_limit"
    next_monday = datetime(2031, 1, 20, 0, 0, tzinfo=UTC)
    await _reserve(runtime, account, 100, next_monday)

    counters = await _counters(runtime, account.id)
    assert counters[("day", date(2031, 1, 15))] == (1, 100)
    assert counters[("day", date(2031, 1, 16))] == (1, 100)
    assert counters[("week", date(2031, 1, 13))] == (3, 300)
    assert counters[("week", date(2031, 1, 20))] == (1, 100)
    assert counters[("month", date(2031, 1, 1))] == (4, 400)


async def test_usage_endpoint_shows_current_buckets_against_caps_and_history(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    headers = world.headers(Role.COMPANY_USER)
    created = await create_account(
        client,
        world.headers(Role.COMPANY_ADMIN),
        None,
        limits={"daily_transaction_limit": 10, "monthly_volume_limit": 100_000},
    )
    async with runtime.sessions() as session:
        account = await session.get(MerchantAccount, created["id"])
    assert account is not None
    for days_ago, amount in ((3, 700), (2, 800), (2, 50), (0, 1234)):
        await _reserve(runtime, account, amount, WEDNESDAY - timedelta(days=days_ago))
    clock.set_source(lambda: WEDNESDAY)

    response = await client.get(f"{API}/{created['id']}/usage", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account_id"] == created["id"] and body["currency"] == "USD"
    day, week, month, year = body["current"]
    assert (day["period"], day["period_start"], day["transaction_count"]) == (
        "day",
        "2031-01-15",
        1,
    )
    assert (day["transaction_limit"], day["transactions_remaining"]) == (10, 9)
    assert (week["period_start"], week["transaction_count"], week["volume_minor"]) == (
        "2031-01-13",
        3,
        2084,
    )
    assert (month["volume_limit"], month["volume_remaining"]) == (100_000, 100_000 - 2784)
    assert year["transaction_limit"] is None and year["transactions_remaining"] is None
    assert [(h["period_start"], h["transaction_count"]) for h in body["history"]] == [
        ("2031-01-13", 2),
        ("2031-01-12", 1),
    ]
    assert body["history_has_more"] is False

    limited = await client.get(f"{API}/{created['id']}/usage", params={"limit": 1}, headers=headers)
    assert limited.json()["history_has_more"] is True
    weekly = await client.get(
        f"{API}/{created['id']}/usage", params={"period": "week"}, headers=headers
    )
    assert [h["period_start"] for h in weekly.json()["history"]] == ["2031-01-06"]
    bad = await client.get(
        f"{API}/{created['id']}/usage", params={"period": "hour"}, headers=headers
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "period"

    clock.set_source(lambda: WEDNESDAY + timedelta(days=1))  # the next day reads as zero
    detail = await client.get(f"{API}/{created['id']}", headers=headers)
    assert detail.json()["usage"][0]["transaction_count"] == 0
    assert detail.json()["usage"][1]["transaction_count"] == 3
