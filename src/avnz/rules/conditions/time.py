"""Time conditions, all in the company's timezone (`RuleContext.timezone`, through zoneinfo).

`hour_of_day between [22, 2]` runs across midnight; business hours whose end is before their
start do too (the day is the local day the moment falls on). `is_holiday` uses the `holidays`
calendar of the leaf's `country`, else of the company's home country; a country without a
calendar never matches. The leaf's `country` may be an ISO 3166-2 subdivision (`GB-ENG`, `US-CA`):
its calendar is the country's plus the subdivision's own days (England's Late Summer Bank Holiday,
California's Cesar Chavez Day).
"""

from datetime import date, datetime
from functools import lru_cache
from typing import ClassVar
from zoneinfo import ZoneInfo

import holidays
from pydantic import field_validator

from avnz.rules.conditions import values
from avnz.rules.conditions.base import EQ, Condition, FieldSpec, Predicate, either_way, flag
from avnz.rules.context import BusinessHours, RuleContext

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _calendar(region: str) -> holidays.HolidayBase | None:
    country, _, subdivision = region.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        return None


def holiday_region(value: object) -> str:
    """An ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision (`GB-ENG`) with a holiday
    calendar, upper case; ValueError naming what is missing otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a country or ISO 3166-2 subdivision code")
    country, dash, subdivision = value.upper().partition("-")
    country = values.country(country)
    calendars = holidays.list_supported_countries()
    if country not in calendars:
        raise ValueError(f"no holiday calendar for {country}")
    if not dash:
        return country
    if subdivision not in calendars[country]:
        known = ", ".join(f"{country}-{code}" for code in calendars[country][:12])
        more = ", ..." if len(calendars[country]) > 12 else ""
        hint = f" (known: {known}{more})" if known else f" ({country} has no subdivisions)"
        raise ValueError(f"no holiday calendar for the subdivision {value.upper()}{hint}")
    return f"{country}-{subdivision}"


@lru_cache(maxsize=64)
def _local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(_zone(timezone))


def local(context: RuleContext) -> datetime:
    """The transaction's moment on the company's wall clock (cached: many leaves ask for it)."""
    return _local(context.moment, context.timezone)


def _in_hours(hours: BusinessHours, moment: datetime) -> bool:
    if moment.weekday() not in hours.days:
        return False
    now = moment.time().replace(tzinfo=None)
    if hours.start <= hours.end:
        return hours.start <= now < hours.end
    return now >= hours.start or now < hours.end


def _is_holiday(country: str, day: date) -> bool | None:
    calendar = _calendar(country)
    return None if calendar is None else day in calendar


class TimeCondition(Condition):
    """Evaluated in the company's timezone; `country` picks the holiday calendar (default: home)."""

    NAME: ClassVar[str] = "time"
    LABEL: ClassVar[str] = "Time"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec(
            "hour_of_day",
            EQ | {"between"},
            values.integer(0, 23),
            lambda c: local(c).hour,
            input="int",
            label="Hour of day",
            check_range=either_way,
            domain=frozenset(range(24)),
        ),
        FieldSpec(
            "day_of_week",
            EQ,
            values.index_of(WEEKDAYS),
            lambda c: local(c).weekday(),
            input="choice",
            choices=WEEKDAYS,
            domain=frozenset(range(len(WEEKDAYS))),
        ),
        flag("is_weekend", lambda c: local(c).weekday() >= 5),
        flag("is_business_hours", lambda c: _in_hours(c.business_hours, local(c))),
        flag("is_holiday", None, params=("country",)),  # the leaf's calendar: see `compile`
        FieldSpec(
            "date_range",
            frozenset({"between"}),
            values.iso_date,
            lambda c: local(c).date(),
            input="date",
        ),
    )
    country: str | None = None

    @field_validator("country")
    @classmethod
    def _holiday_country(cls, country: str | None) -> str | None:
        return None if country is None else holiday_region(country)

    def compile(self) -> Predicate:
        if self.field == "is_holiday":
            return self._holiday()
        if self.field == "hour_of_day" and self.operator == "between":
            start, end = self.value
            if start > end:  # across midnight
                return lambda c: (hour := local(c).hour) >= start or hour <= end
        return super().compile()

    def _holiday(self) -> Predicate:
        country, wanted = self.country, self.value

        def holiday(context: RuleContext) -> bool:
            found = _is_holiday(country or context.home_country, local(context).date())
            return found is not None and found == wanted

        return holiday
