"""The exceptions of switchboard_calendars, in one place.

::

    CalendarError            base of everything raised by this library
    ├── PolicyInvalid        a YAML policy file is wrong; `problems` are "path (line n): what" lines
    └── CalendarExhausted    a calendar has no open time for years: business time cannot be added
"""

from __future__ import annotations

from collections.abc import Sequence


class CalendarError(Exception):
    """Base of this library's errors."""


class PolicyInvalid(CalendarError, ValueError):
    """A policy file is wrong; each of `problems` names a YAML path and what is wrong.

    Services subclass it to name their policy in the message (`what`).
    """

    what = "policy"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid {self.what} ({len(self.problems)} problem(s)):\n{lines}")


class CalendarExhausted(CalendarError):
    """No open time within the search horizon (a calendar closed for years)."""
