"""The SLA domain's exceptions, in one place.

::

    SlaError                 base of everything raised by sla_monitor's domain
    └── PolicyInvalid        the SLA policy file is wrong; `problems` are "path (line n): what" lines

Calendar arithmetic raises `switchboard_calendars.CalendarExhausted` when a calendar has
no open time for years (a deadline cannot be computed); the clocks and quiet hours catch
it: such a level never falls due (`clock.reach`), such hours hold nothing (`quiet.held_until`).
"""

from __future__ import annotations

import switchboard_calendars


class SlaError(Exception):
    """Base of the SLA domain's errors."""


class PolicyInvalid(SlaError, switchboard_calendars.PolicyInvalid):
    """The SLA policy file is wrong; each of `problems` names a YAML path and what is wrong."""

    what = "SLA policy"
