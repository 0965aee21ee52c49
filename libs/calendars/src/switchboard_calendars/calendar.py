"""Compiled calendars: open at an instant, open intervals, business-time arithmetic.

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
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from switchboard_calendars.errors import CalendarExhausted
from switchboard_calendars.spec import DAY as _DAY
from switchboard_calendars.spec import WEEKDAYS, CalendarSpec, Range, ranges

_EPOCH = date(1970, 1, 1)
# How far ahead the arithmetic looks for open time before it gives up.
MAX_SEARCH_DAYS = 3 * 366
_CACHE_DAYS = 20_000

Interval = tuple[float, float]
"""POSIX seconds, [start, end)."""


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
            weekly=[ranges(spec.weekly.get(day, []), day) for day in WEEKDAYS],
            holidays=frozenset(spec.holidays),
            overrides={o.date: ranges(o.hours, str(o.date)) for o in spec.overrides},
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

    def explain(self, at: datetime) -> str:
        """For people: open or closed at `at`, and why (the local date's hours and their source)."""
        if self.always_open:
            return f"calendar {self.id} is 24x7"
        local = at.astimezone(self.zone)
        hours, source = self.ranges_on(local.date())
        shown = ", ".join(_show(r) for r in hours)
        state = "open" if self.is_open(at.timestamp()) else "closed"
        stamp = local.strftime("%a %Y-%m-%d %H:%M %Z")
        return f"calendar {self.id} {state} at {stamp} ({source}: {shown or 'no hours'})"

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


def instant(at: float) -> datetime:
    """The aware UTC datetime of POSIX seconds."""
    return datetime.fromtimestamp(at, UTC)
