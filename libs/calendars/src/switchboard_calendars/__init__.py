"""Business calendars shared by the services that work by team hours.

- `spec`: the calendar's YAML shape (`CalendarSpec`) and its validation.
- `calendar`: `Calendar`, compiled from a spec: open at an instant, open intervals,
  business seconds between two instants, the instant after adding business seconds.
- `policy_file`: loading a YAML policy into a pydantic model with errors that name
  the YAML path and line (`PolicyInvalid`).
- `errors`: the exceptions of this library.
"""

from switchboard_calendars.calendar import MAX_SEARCH_DAYS, Calendar, Interval, instant
from switchboard_calendars.errors import CalendarError, CalendarExhausted, PolicyInvalid
from switchboard_calendars.policy_file import (
    calendar_problems,
    duplicate_ids,
    load_yaml_model,
    queue_problems,
    unknown,
)
from switchboard_calendars.spec import CalendarSpec, DateOverride, Name, Range

__all__ = [
    "MAX_SEARCH_DAYS",
    "Calendar",
    "CalendarError",
    "CalendarExhausted",
    "CalendarSpec",
    "DateOverride",
    "Interval",
    "Name",
    "PolicyInvalid",
    "Range",
    "calendar_problems",
    "duplicate_ids",
    "instant",
    "load_yaml_model",
    "queue_problems",
    "unknown",
]
