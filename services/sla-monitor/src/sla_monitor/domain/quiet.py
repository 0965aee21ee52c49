"""Quiet hours: a warning or escalation reached while the team is closed, held to its opening.

Per target (`outside_hours: hold`); the default sends at once. The breach is never held,
and the level's time (the alert's `time`, `due_at`) stays exact: only the sending moves.
A warning whose hold would end at or after its cycle's breach is dropped (`superseded`):
the breach says more, so a manager never gets a warning after the breach it warns of.
Escalations come after the breach by definition and are only held. A calendar with no
opening within its horizon (`CalendarExhausted`) holds nothing: the alert goes out when
reached, and that is logged once per calendar, rather than the fold raising.
"""

from __future__ import annotations

import logging

from switchboard_calendars import Calendar, CalendarExhausted
from switchboard_events import AlertKind

log = logging.getLogger(__name__)
_logged: set[tuple[str, str]] = set()
"""(calendar, consequence) pairs already logged as exhausted: once each per process."""


def log_exhausted(calendar: Calendar, consequence: str, exc: CalendarExhausted) -> None:
    """Log once per calendar and consequence that `calendar` has no open time within its
    horizon (every alert it touches would log it again otherwise)."""
    if (calendar.id, consequence) in _logged:
        return
    _logged.add((calendar.id, consequence))
    log.warning(
        f"the calendar has no open time within its horizon: {consequence}",
        extra={"calendar": calendar.id, "reason": str(exc)},
    )


def held_until(kind: AlertKind, hours: Calendar, at: float) -> float | None:
    """For a target that holds: the team's next opening after `at` if the alert waits for
    it (`hours` closed at `at`); None to send it at `at`, also when `hours` has no opening
    within its horizon (held, it would never go out)."""
    if kind is AlertKind.BREACH or hours.is_open(at):
        return None
    try:
        opening, _ = next(hours.intervals(at))
    except CalendarExhausted as exc:
        log_exhausted(hours, "quiet hours hold nothing, alerts are sent at once", exc)
        return None
    return opening


def superseded(kind: AlertKind, send_at: float, breach_at: float | None) -> bool:
    """Whether a level sent at `send_at` is dropped because its cycle's breach, reached at
    `breach_at` (None: not scheduled, the clock is paused), comes first or at once."""
    return kind is AlertKind.WARNING and breach_at is not None and send_at >= breach_at
