"""Rule schedules: start and end instants, days of the week and time windows in the company's
timezone, windows across midnight, and the validation of each part."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from avnz.rules.schedule import Schedule, zone_of

NEW_YORK = ZoneInfo("America/New_York")
# 2026-11-27 is a Friday; New York is UTC-5 in November.
FRIDAY_2300_NY = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
SATURDAY_0130_NY = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
SATURDAY_0300_NY = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def schedule(**fields: object) -> Schedule:
    return Schedule.model_validate(fields)


def test_no_schedule_fields_is_always_on() -> None:
    assert schedule().is_on(FRIDAY_2300_NY, NEW_YORK)


def test_start_and_end_are_instants() -> None:
    window = schedule(starts_at="2026-11-28T04:00:00Z", ends_at="2026-11-28T06:30:00Z")
    assert window.is_on(FRIDAY_2300_NY, NEW_YORK)  # the start is inclusive
    assert not window.is_on(SATURDAY_0130_NY, NEW_YORK)  # the end is exclusive
    assert window.has_ended(SATURDAY_0130_NY)
    assert not window.has_ended(FRIDAY_2300_NY)
    assert not window.is_on(datetime(2026, 11, 28, 3, 59, tzinfo=UTC), NEW_YORK)


def test_days_are_read_in_the_company_timezone() -> None:
    fridays = schedule(days_of_week=["fri"])
    # 04:00 UTC on Saturday is still Friday evening in New York.
    assert fridays.is_on(FRIDAY_2300_NY, NEW_YORK)
    assert not fridays.is_on(FRIDAY_2300_NY, ZoneInfo("UTC"))


def test_a_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    late_friday = schedule(days_of_week=["fri"], windows=[{"start": "22:00", "end": "02:00"}])
    assert late_friday.is_on(FRIDAY_2300_NY, NEW_YORK)
    assert late_friday.is_on(SATURDAY_0130_NY, NEW_YORK)  # Friday's window, small hours
    assert not late_friday.is_on(SATURDAY_0300_NY, NEW_YORK)
    late_saturday = schedule(days_of_week=["sat"], windows=[{"start": "22:00", "end": "02:00"}])
    assert not late_saturday.is_on(SATURDAY_0130_NY, NEW_YORK)  # that is Friday's night


def test_windows_are_start_inclusive_end_exclusive() -> None:
    office = schedule(windows=[{"start": "09:00", "end": "17:00"}])
    at = lambda hour, minute: datetime(2026, 11, 27, hour, minute, tzinfo=NEW_YORK)  # noqa: E731
    assert office.is_on(at(9, 0), NEW_YORK)
    assert office.is_on(at(16, 59), NEW_YORK)
    assert not office.is_on(at(17, 0), NEW_YORK)
    assert not office.is_on(at(8, 59), NEW_YORK)


def test_any_of_several_windows() -> None:
    split = schedule(
        windows=[{"start": "08:00", "end": "10:00"}, {"start": "20:00", "end": "21:00"}]
    )
    assert split.is_on(datetime(2026, 11, 27, 20, 30, tzinfo=NEW_YORK), NEW_YORK)
    assert not split.is_on(datetime(2026, 11, 27, 12, 0, tzinfo=NEW_YORK), NEW_YORK)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"windows": [{"start": "10:00", "end": "10:00"}]}, "end different from its start"),
        ({"starts_at": "2026-01-02T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}, "after"),
        ({"starts_at": "2026-01-02T00:00:00"}, "timezone"),
        ({"days_of_week": ["funday"]}, "mon"),
        ({"days_of_week": []}, "at least 1"),
        ({"windows": [{"start": "25:00", "end": "02:00"}]}, "time"),
    ],
)
def test_invalid_schedules_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate(fields)


def test_an_unknown_timezone_reads_as_utc() -> None:
    assert zone_of("Mars/Olympus") == ZoneInfo("UTC")
    assert zone_of("Europe/Paris") == ZoneInfo("Europe/Paris")
