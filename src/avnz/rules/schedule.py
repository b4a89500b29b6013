"""When a rule is in force: optional start and end, days of the week and time windows.

Days and windows are read in the company's timezone (a 22:00-02:00 window runs across midnight
and belongs to the day it starts on); `starts_at` and `ends_at` are instants, so they need no
zone. A rule with no schedule is always in force.
"""

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeWindow(BaseModel):
    """From `start` (inclusive) to `end` (exclusive); an `end` before `start` runs past midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> "TimeWindow":
        if self.start == self.end:
            raise ValueError("a window needs an end different from its start")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are wall-clock times in the company's timezone")
        return self

    @property
    def wraps(self) -> bool:
        return self.end < self.start


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    days_of_week: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    windows: list[TimeWindow] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _ordered(self) -> "Schedule":
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def has_ended(self, now: datetime) -> bool:
        return self.ends_at is not None and now >= self.ends_at

    def is_on(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Whether the rule is in force at the aware instant `moment`."""
        if self.starts_at is not None and moment < self.starts_at:
            return False
        if self.has_ended(moment):
            return False
        if self.days_of_week is None and not self.windows:
            return True
        local = moment.astimezone(zone)
        if not self.windows:
            return self._day_allowed(local.weekday())
        return any(self._in_window(window, local) for window in self.windows)

    def _day_allowed(self, weekday: int) -> bool:
        return self.days_of_week is None or WEEKDAYS[weekday] in self.days_of_week

    def _in_window(self, window: TimeWindow, local: datetime) -> bool:
        clock_time = local.time().replace(tzinfo=None)
        if not window.wraps:
            return window.start <= clock_time < window.end and self._day_allowed(local.weekday())
        if clock_time >= window.start:  # the evening part: today's window
            return self._day_allowed(local.weekday())
        if clock_time < window.end:  # the small hours: the window began yesterday
            return self._day_allowed((local - timedelta(days=1)).weekday())
        return False


def zone_of(name: str) -> ZoneInfo:
    """The company's timezone; UTC when the stored name is unknown to this machine."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")
