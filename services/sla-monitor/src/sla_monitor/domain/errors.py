"""The SLA domain's exceptions, in one place.

::

    SlaError                 base of everything raised by sla_monitor's domain
    ├── PolicyInvalid        the SLA policy file is wrong; `problems` are "path: what" lines
    └── CalendarExhausted    a calendar has no open time for years: a deadline cannot be computed
"""

from __future__ import annotations

from collections.abc import Sequence


class SlaError(Exception):
    """Base of the SLA domain's errors."""


class PolicyInvalid(SlaError, ValueError):
    """The policy file is wrong; each of `problems` names a YAML path and what is wrong."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid SLA policy ({len(self.problems)} problem(s)):\n{lines}")


class CalendarExhausted(SlaError):
    """No open time within the search horizon (a calendar closed for years)."""
