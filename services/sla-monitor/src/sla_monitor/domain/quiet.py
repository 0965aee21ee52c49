"""Quiet hours: a warning or escalation reached while the team is closed, held to its opening.

Per target (`outside_hours: hold`); the default sends at once. The breach is never held,
and the level's time (the alert's `time`, `due_at`) stays exact: only the sending moves.
"""

from __future__ import annotations

from switchboard_calendars import Calendar
from switchboard_events import AlertKind


def held_until(kind: AlertKind, hours: Calendar, at: float) -> float | None:
    """For a target that holds: the team's next opening after `at` if the alert waits for
    it (`hours` closed at `at`); None to send it at `at`."""
    if kind is AlertKind.BREACH or hours.is_open(at):
        return None
    opening, _ = next(hours.intervals(at))
    return opening
