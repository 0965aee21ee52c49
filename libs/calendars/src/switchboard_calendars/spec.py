"""The calendar's YAML shape and its validation.

A calendar says when a team works: weekly hours in its IANA time zone (several ranges
a day make split shifts), holidays, one-off date overrides, or 24x7 (`always_open`).
Hours are half-open ranges of local wall time, ``'08:30-12:00'``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
"""An identifier in a policy file: calendar, queue or rule id."""
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Range = tuple[int, int]
"""Seconds after local midnight, [start, end)."""

DAY = 86_400
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


def _check_hours(value: str) -> str:
    found = _HOURS.match(value.replace(" ", ""))
    if found is None:
        raise ValueError(f"expected hours like '08:30-12:00' (24-hour clock), got {value!r}")
    start, end = hours_to_seconds(found.group(0))
    if end > DAY or end <= start:
        raise ValueError(
            f"hours {value!r} must end after they start, on the same day (at most 24:00);"
            " split a night shift over two days"
        )
    return found.group(0)


Hours = Annotated[str, AfterValidator(_check_hours)]


def hours_to_seconds(hours: str) -> Range:
    """'08:30-12:00' -> (30600, 43200): seconds after local midnight, end exclusive."""
    start, end = hours.split("-")
    return _seconds(start), _seconds(end)


def _seconds(clock: str) -> int:
    hour, minute = clock.split(":")
    return int(hour) * 3600 + int(minute) * 60


def ranges(hours: Sequence[str], where: str) -> tuple[Range, ...]:
    """Sorted ranges of validated hours; ValueError naming `where` when two overlap."""
    found = sorted(hours_to_seconds(h) for h in hours)
    for (_, end), (start, _) in itertools.pairwise(found):
        if start < end:
            raise ValueError(f"{where}: hours overlap ({', '.join(hours)})")
    return tuple(found)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DateOverride(_Spec):
    """One date with its own hours (an empty list: closed all day)."""

    date: date
    hours: list[Hours] = Field(default_factory=list)
    note: str | None = None


class CalendarSpec(_Spec):
    """When a team works: weekly hours (split shifts allowed), holidays, date overrides, or 24x7."""

    id: Name
    timezone: str = "UTC"
    always_open: bool = False
    weekly: dict[Weekday, list[Hours]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    overrides: list[DateOverride] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; expected an IANA name like 'Europe/London'"
            ) from None
        return value

    def problems(self, where: str) -> list[str]:
        """What is wrong across fields: overlapping hours, 24x7 with hours, no hours at all.

        `where` is the calendar's YAML path, e.g. ``calendars[2]``; each problem starts with it.
        """
        found: list[str] = []
        if self.always_open and (self.weekly or self.overrides or self.holidays):
            found.append(
                f"{where}.always_open: a 24x7 calendar takes no weekly hours, holidays or overrides"
            )
        if not self.always_open and not any(self.weekly.values()):
            found.append(f"{where}.weekly: give weekly hours, or set always_open: true for 24x7")
        for day, hours in self.weekly.items():
            try:
                ranges(hours, f"{where}.weekly.{day}")
            except ValueError as exc:
                found.append(str(exc))
        seen: dict[date, int] = {}
        for i, override in enumerate(self.overrides):
            try:
                ranges(override.hours, f"{where}.overrides[{i}].hours")
            except ValueError as exc:
                found.append(str(exc))
            if override.date in seen:
                found.append(
                    f"{where}.overrides[{i}].date: {override.date} is overridden twice"
                    f" (also overrides[{seen[override.date]}])"
                )
            seen.setdefault(override.date, i)
        return found
