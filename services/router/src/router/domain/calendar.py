"""Business hours: is a team working at a given instant, by its own time zone.

The instant is converted to the calendar's local wall time (zoneinfo, so DST changes
are followed); the local date picks the hours: a one-off override if there is one for
that date, else closed on a holiday, else the weekly hours of that weekday. Hours are
half-open intervals [start, end) of local time; several per day make split shifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from router.domain.policy import CalendarSpec, hours_to_minutes

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Intervals = tuple[tuple[int, int], ...]


def _intervals(hours: list[str]) -> Intervals:
    return tuple(sorted(hours_to_minutes(h) for h in hours))


@dataclass(frozen=True, slots=True)
class Calendar:
    """A compiled calendar; build with `Calendar.compile(spec)`."""

    id: str
    zone: ZoneInfo
    always_open: bool
    weekly: tuple[Intervals, ...]
    holidays: frozenset[date]
    overrides: dict[date, Intervals]

    @classmethod
    def compile(cls, spec: CalendarSpec) -> Calendar:
        return cls(
            id=spec.id,
            zone=ZoneInfo(spec.timezone),
            always_open=spec.always_open,
            weekly=tuple(_intervals(spec.weekly.get(day, [])) for day in _WEEKDAYS),  # type: ignore[call-overload]
            holidays=frozenset(spec.holidays),
            overrides={o.date: _intervals(o.hours) for o in spec.overrides},
        )

    def hours_on(self, day: date) -> tuple[Intervals, str]:
        """The local hours of a date and where they come from."""
        if day in self.overrides:
            return self.overrides[day], "override"
        if day in self.holidays:
            return (), "holiday"
        return self.weekly[day.weekday()], _WEEKDAYS[day.weekday()]

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        hours, _ = self.hours_on(local.date())
        return any(start <= minute < end for start, end in hours)

    def describe(self, at: datetime) -> str:
        """For people: open or closed at `at`, and why."""
        if self.always_open:
            return f"calendar {self.id} is 24x7"
        local = at.astimezone(self.zone)
        hours, source = self.hours_on(local.date())
        shown = ", ".join(
            f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in hours
        )
        state = "open" if self.is_open(at) else "closed"
        stamp = local.strftime("%a %Y-%m-%d %H:%M %Z")
        return f"calendar {self.id} {state} at {stamp} ({source}: {shown or 'no hours'})"
