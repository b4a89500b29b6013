"""`is_holiday` by ISO 3166-2 subdivision (issue 19 item 4): the leaf's calendar is the
`holidays` package's calendar of that subdivision, and an unknown code is a 400 naming the field."""

from datetime import UTC, date, datetime

import holidays
import httpx
import pytest

from avnz.tenancy.models import Role
from tests.factories import World
from tests.rules.factories import context, leaf, matches
from tests.rules.support import BLOCK, RULES
from tests.rules.test_schema import errors


def on(day: date, timezone: str = "Europe/London") -> object:
    return context(moment=datetime(day.year, day.month, day.day, 12, tzinfo=UTC), timezone=timezone)


def test_late_summer_bank_holiday_is_englands_not_the_uks() -> None:
    late_summer = on(date(2026, 8, 31))
    assert matches(leaf("time", "is_holiday", "is", True, country="GB-ENG"), late_summer)
    assert matches(leaf("time", "is_holiday", "is", True, country="gb-eng"), late_summer)
    # The UK-wide calendar and Scotland's do not have it (Scotland's is on 2026-08-03).
    assert not matches(leaf("time", "is_holiday", "is", True, country="GB"), late_summer)
    assert not matches(leaf("time", "is_holiday", "is", True, country="GB-SCT"), late_summer)
    assert matches(leaf("time", "is_holiday", "is", True, country="GB-SCT"), on(date(2026, 8, 3)))


def test_every_day_of_the_package_calendar_matches_and_no_other() -> None:
    for region, timezone in (("GB-ENG", "Europe/London"), ("US-CA", "America/Los_Angeles")):
        country, subdivision = region.split("-")
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=2026)
        holiday = leaf("time", "is_holiday", "is", True, country=region)
        day = date(2026, 1, 1)
        while day.year == 2026:
            assert matches(holiday, on(day, timezone)) is (day in calendar), (region, day)
            day = date.fromordinal(day.toordinal() + 1)


def test_cesar_chavez_day_only_in_california() -> None:
    chavez = on(date(2026, 3, 31), "America/Los_Angeles")
    assert matches(leaf("time", "is_holiday", "is", True, country="US-CA"), chavez)
    assert not matches(leaf("time", "is_holiday", "is", True, country="US-NY"), chavez)


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("GB-XYZ", "GB-ENG"),  # lists the subdivisions it knows
        ("US-ZZ", "US-CA"),
        ("ZZ-ENG", "alpha-2"),
        ("GB-", "GB-ENG"),
        ("AQ-XX", "AQ has no subdivisions"),
    ],
)
def test_unknown_subdivision_is_refused_at_the_country_field(code: str, hint: str) -> None:
    [(path, message)] = errors(leaf("time", "is_holiday", "is", True, country=code))
    assert path == "conditions.0.country"
    assert hint in message


async def test_the_api_answers_400_naming_the_field(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    bad = leaf("time", "is_holiday", "is", True, country="GB-XX")
    response = await client.post(
        RULES, json={"name": "Bad", "conditions": [bad], "actions": [BLOCK]}, headers=headers
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "conditions.0.country"
    assert "GB-XX" in error["message"]
    good = leaf("time", "is_holiday", "is", True, country="gb-eng")
    response = await client.post(
        RULES, json={"name": "Good", "conditions": [good], "actions": [BLOCK]}, headers=headers
    )
    assert response.status_code == 201, response.text
