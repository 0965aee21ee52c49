"""Calendars and business-time arithmetic.

A calendar says when a team works: weekly hours in its IANA time zone (several ranges a
day make split shifts), holidays, one-off date overrides, or 24x7. The YAML shape is
the router's (`services/router/policies/routing.yaml`); services share no code, so this
module keeps its own copy of the model.

Semantics: an instant is *open* when its local wall time (by the calendar's zone) falls
in one of the ranges of its local date: the override of that date if there is one, else
nothing on a holiday, else the weekday's hours. Ranges are half-open [start, end).
This definition is exact through DST: on a spring-forward day the skipped wall times
simply never occur; on a fall-back day the repeated hour counts twice if it is open.

Business time between two instants is the measure of the open instants between them.
The arithmetic works on POSIX seconds: per UTC day it splits the day at the zone's
offset changes, maps each constant-offset segment to wall time, intersects it with the
open ranges, and maps the result back. Days are cached per calendar.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
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

from sla_monitor.domain.errors import CalendarExhausted

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
_DAY = 86_400
_EPOCH = date(1970, 1, 1)
# How far ahead the arithmetic looks for open time before it gives up.
MAX_SEARCH_DAYS = 3 * 366
_CACHE_DAYS = 20_000

Range = tuple[int, int]
"""Seconds after local midnight, [start, end)."""
Interval = tuple[float, float]
"""POSIX seconds, [start, end)."""


def _check_hours(value: str) -> str:
    found = _HOURS.match(value.replace(" ", ""))
    if found is None:
        raise ValueError(f"expected hours like '08:30-12:00' (24-hour clock), got {value!r}")
    start, end = hours_to_seconds(found.group(0))
    if end > _DAY or end <= start:
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


def _ranges(hours: Sequence[str], where: str) -> tuple[Range, ...]:
    ranges = sorted(hours_to_seconds(h) for h in hours)
    for (_, end), (start, _) in itertools.pairwise(ranges):
        if start < end:
            raise ValueError(f"{where}: hours overlap ({', '.join(hours)})")
    return tuple(ranges)


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
        """What is wrong across fields: overlapping hours, 24x7 with hours, no hours at all."""
        found: list[str] = []
        if self.always_open and (self.weekly or self.overrides or self.holidays):
            found.append(
                f"{where}.always_open: a 24x7 calendar takes no weekly hours, holidays or overrides"
            )
        if not self.always_open and not any(self.weekly.values()):
            found.append(f"{where}.weekly: give weekly hours, or set always_open: true for 24x7")
        for day, hours in self.weekly.items():
            try:
                _ranges(hours, f"{where}.weekly.{day}")
            except ValueError as exc:
                found.append(str(exc))
        seen: dict[date, int] = {}
        for i, override in enumerate(self.overrides):
            try:
                _ranges(override.hours, f"{where}.overrides[{i}].hours")
            except ValueError as exc:
                found.append(str(exc))
            if override.date in seen:
                found.append(
                    f"{where}.overrides[{i}].date: {override.date} is overridden twice"
                    f" (also overrides[{seen[override.date]}])"
                )
            seen.setdefault(override.date, i)
        return found


class Calendar:
    """A compiled calendar with exact business-time arithmetic on POSIX seconds."""

    def __init__(
        self,
        id: str,
        zone: ZoneInfo,
        *,
        always_open: bool = False,
        weekly: Sequence[Sequence[Range]] = ((),) * 7,
        holidays: frozenset[date] = frozenset(),
        overrides: dict[date, tuple[Range, ...]] | None = None,
    ) -> None:
        if len(weekly) != 7:
            raise ValueError(f"weekly needs 7 days (Monday first), got {len(weekly)}")
        self.id = id
        self.zone = zone
        self.always_open = always_open
        self.weekly = tuple(tuple(day) for day in weekly)
        self.holidays = holidays
        self.overrides = dict(overrides or {})
        self._days: dict[int, tuple[Interval, ...]] = {}
        if not always_open and not any(self.weekly) and not any(self.overrides.values()):
            raise ValueError(f"calendar {id!r} is never open")

    @classmethod
    def compile(cls, spec: CalendarSpec) -> Calendar:
        return cls(
            spec.id,
            ZoneInfo(spec.timezone),
            always_open=spec.always_open,
            weekly=[_ranges(spec.weekly.get(day, []), day) for day in WEEKDAYS],
            holidays=frozenset(spec.holidays),
            overrides={o.date: _ranges(o.hours, str(o.date)) for o in spec.overrides},
        )

    @classmethod
    def twenty_four_seven(cls, id: str = "24x7") -> Calendar:
        return cls(id, ZoneInfo("UTC"), always_open=True)

    def __repr__(self) -> str:
        return f"Calendar({self.id!r})"

    # -- what a date looks like -------------------------------------------------------

    def ranges_on(self, day: date) -> tuple[tuple[Range, ...], str]:
        """The local open ranges of a date and where they come from."""
        if self.always_open:
            return ((0, _DAY),), "24x7"
        if day in self.overrides:
            return self.overrides[day], "override"
        if day in self.holidays:
            return (), "holiday"
        return self.weekly[day.weekday()], WEEKDAYS[day.weekday()]

    def describe(self) -> str:
        """For people: the zone and weekly hours."""
        if self.always_open:
            return f"{self.id} (24x7)"
        week = "; ".join(
            f"{name} {', '.join(_show(r) for r in ranges)}"
            for name, ranges in zip(WEEKDAYS, self.weekly, strict=True)
            if ranges
        )
        extra = f", {len(self.holidays)} holidays" if self.holidays else ""
        extra += f", {len(self.overrides)} overrides" if self.overrides else ""
        return f"{self.id} ({self.zone.key}: {week}{extra})"

    # -- the arithmetic -----------------------------------------------------------------

    def is_open(self, at: float) -> bool:
        return any(start <= at < end for start, end in self._utc_day(int(at // _DAY)))

    def intervals(self, start: float, end: float | None = None) -> Iterator[Interval]:
        """Open intervals from `start` (to `end`, or for ever), in order.

        Adjacent intervals are not merged (a 24x7 stretch comes a UTC day at a time).
        Raises `CalendarExhausted` when no open time exists for MAX_SEARCH_DAYS.
        """
        if self.always_open:
            yield (start, end if end is not None else float("inf"))
            return
        day = int(start // _DAY)
        last_open_day = day
        while end is None or day * _DAY < end:
            for s, e in self._utc_day(day):
                s, e = max(s, start), e if end is None else min(e, end)
                if s < e:
                    last_open_day = day
                    yield (s, e)
            day += 1
            if day - last_open_day > MAX_SEARCH_DAYS:
                raise CalendarExhausted(
                    f"calendar {self.id!r} has no open time for {MAX_SEARCH_DAYS} days"
                    f" after {_iso(last_open_day * _DAY)}"
                )

    def business_seconds(self, start: float, end: float) -> float:
        """Open seconds in [start, end); 0 when end <= start."""
        if end <= start:
            return 0.0
        if self.always_open:
            return end - start
        return sum(e - s for s, e in self.intervals(start, end))

    def add(self, start: float, seconds: float) -> float:
        """The earliest instant t with business_seconds(start, t) == seconds."""
        return self.add_many(start, (seconds,))[0]

    def add_many(self, start: float, offsets: Sequence[float]) -> list[float]:
        """`add(start, x)` for each x of `offsets` (ascending), in one pass."""
        if any(b < a for a, b in itertools.pairwise(offsets)):
            raise ValueError(f"offsets must be ascending, got {list(offsets)}")
        if self.always_open:
            return [start + max(0.0, x) for x in offsets]
        results: list[float] = []
        remaining = list(offsets)
        done = 0.0
        for s, e in self.intervals(start):
            while remaining and remaining[0] <= 0:
                results.append(start)
                remaining.pop(0)
            while remaining and done + (e - s) >= remaining[0]:
                results.append(s + (remaining.pop(0) - done))
            if not remaining:
                break
            done += e - s
        return results

    def _utc_day(self, day: int) -> tuple[Interval, ...]:
        """Open intervals inside the UTC day `day` (days since the epoch), cached."""
        cached = self._days.get(day)
        if cached is None:
            if len(self._days) > _CACHE_DAYS:
                self._days.clear()
            cached = self._days[day] = tuple(self._compute_day(day))
        return cached

    def _compute_day(self, day: int) -> Iterator[Interval]:
        if self.always_open:
            yield (day * _DAY, (day + 1) * _DAY)
            return
        for seg_start, seg_end, offset in self._segments(day * _DAY, (day + 1) * _DAY):
            wall_start, wall_end = seg_start + offset, seg_end + offset
            for local_day in range(wall_start // _DAY, (wall_end - 1) // _DAY + 1):
                base = local_day * _DAY
                ranges, _ = self.ranges_on(_EPOCH + timedelta(days=local_day))
                for r_start, r_end in ranges:
                    s, e = max(base + r_start, wall_start), min(base + r_end, wall_end)
                    if s < e:
                        yield (s - offset, e - offset)

    def _segments(self, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        """Split [start, end) where the zone's UTC offset changes: (from, to, offset)."""
        seg_start, offset = start, self._offset(start)
        probe_from = start
        for probe in range(start + 3600, end + 3600, 3600):
            probe = min(probe, end)
            probed = self._offset(probe)
            if probed != offset:
                lo, hi = probe_from, probe  # offset(lo) == offset, offset(hi) differs
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self._offset(mid) == offset:
                        lo = mid
                    else:
                        hi = mid
                if hi > seg_start:
                    yield (seg_start, hi, offset)
                seg_start, offset = hi, probed
            probe_from = probe
            if probe == end:
                break
        if end > seg_start:
            yield (seg_start, end, offset)

    def _offset(self, at: int) -> int:
        delta = datetime.fromtimestamp(at, self.zone).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())


def _show(r: Range) -> str:
    return f"{r[0] // 3600:02d}:{r[0] % 3600 // 60:02d}-{r[1] // 3600:02d}:{r[1] % 3600 // 60:02d}"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def timestamp(at: datetime) -> float:
    """POSIX seconds of an aware datetime."""
    return at.timestamp()


def instant(at: float) -> datetime:
    """The aware UTC datetime of POSIX seconds."""
    return datetime.fromtimestamp(at, UTC)
