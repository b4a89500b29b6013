"""Time conditions, all in the company's timezone (`RuleContext.timezone`, through zoneinfo).

`hour_of_day between [22, 2]` runs across midnight; business hours whose end is before their
start do too (the day is the local day the moment falls on). `is_holiday` uses the `holidays`
calendar of the leaf's `country`, else of the company's home country; a country without a
calendar never matches.
"""

from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from avnz.rules.conditions.base import Predicate, from_getter, plain
from avnz.rules.context import BusinessHours, RuleContext
from avnz.rules.schema import TimeCondition


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _calendar(country: str) -> holidays.HolidayBase | None:
    try:
        return holidays.country_holidays(country)
    except NotImplementedError:
        return None


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


def compile(leaf: TimeCondition) -> Predicate:
    """The leaf as a predicate, built once."""
    field, operator, value = leaf.field, leaf.operator, leaf.value
    if field == "hour_of_day" and operator == "between" and value[0] > value[1]:
        start, end = value
        return lambda c: (hour := local(c).hour) >= start or hour <= end
    if field == "hour_of_day":
        return from_getter(lambda c: local(c).hour, operator, value)
    if field == "day_of_week":
        return from_getter(lambda c: local(c).weekday(), operator, value)
    if field == "is_weekend":
        return lambda c: (local(c).weekday() >= 5) == value
    if field == "is_business_hours":
        return lambda c: _in_hours(c.business_hours, local(c)) == value
    if field == "date_range":
        low, high = value
        return lambda c: low <= local(c).date() <= high
    country = leaf.country

    def holiday(context: RuleContext) -> bool:
        found = _is_holiday(country or context.home_country, local(context).date())
        return found is not None and found == value

    return holiday


def extract(leaf: TimeCondition, context: RuleContext) -> Any:
    """The value the leaf looks at, computed from scratch."""
    moment = context.moment.astimezone(ZoneInfo(context.timezone))
    if leaf.field == "hour_of_day":
        return moment.hour
    if leaf.field == "day_of_week":
        return moment.weekday()
    if leaf.field == "is_weekend":
        return moment.weekday() in (5, 6)
    if leaf.field == "is_business_hours":
        return _in_hours(context.business_hours, moment)
    if leaf.field == "date_range":
        return moment.date()
    country = leaf.country or context.home_country
    try:
        calendar = holidays.country_holidays(country, years=moment.year)
    except NotImplementedError:
        return None
    return moment.date() in calendar


def evaluate(leaf: TimeCondition, context: RuleContext) -> bool:
    """The leaf's result for one context, without compiling."""
    actual = extract(leaf, context)
    if leaf.field == "hour_of_day" and leaf.operator == "between":
        start, end = leaf.value
        if start > end:
            return bool(actual >= start or actual <= end)
    return plain(actual, leaf.operator, leaf.value)
