"""The scorecard's rules: what a contact cost and how it went, per queue, vendor and channel.

A contact counts for the queue it was routed to (its newest decision), which also
gives its cost: the queue's `cost_per_contact` in the routing policy that decided.

- first response and resolution times are the SLA clocks' (business time where the
  target counts business hours, pauses excluded; the policy's default gives every
  contact both targets); a reopened contact's resolution time adds up its cycles;
- SLA attainment is the share of contacts for which no breach alert fired (yet);
- CSAT is the latest score recorded for the contact;
- first-contact resolution (FCR): a resolved contact of a known customer is resolved at
  first contact when no other contact of that customer about the same contact type
  arrives after it and within `window` of its resolution. It is decided once such a
  contact arrives (not FCR) or the window has passed without one (FCR); until then it is
  pending and counts neither way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sla_monitor.domain.clock import ClockStatus, ContactClocks, ContactStatus
from switchboard_events import SlaTarget

GROUPS = ("queue", "queue_kind", "vendor", "channel", "day")
"""What a scorecard can be grouped by (day: the UTC date the contact arrived)."""


class Outcome(StrEnum):
    """How one target went for one contact (the values of `clock.FirstResponse`)."""

    PENDING = "pending"
    MET = "met"
    MISSED = "missed"
    EXCLUDED = "excluded"


class Fcr(StrEnum):
    YES = "yes"
    NO = "no"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Outcomes:
    """What the clocks say about a contact, as the scorecard stores it."""

    contact_id: str
    first_response_s: float | None
    first_response: Outcome
    resolved_at: float | None
    resolution_s: float | None
    resolution: Outcome
    abandoned: bool


def outcomes(state: ContactClocks) -> Outcomes:
    """The scorecard's view of a contact's folded clocks."""
    fr_outcome, _, fr_elapsed = state.first_response_outcome()
    resolution_s, resolution = _resolution(state)
    return Outcomes(
        contact_id=state.decision.contact_id,
        first_response_s=fr_elapsed,
        first_response=Outcome(fr_outcome.value),
        resolved_at=state.resolved_at,
        resolution_s=resolution_s,
        resolution=resolution,
        abandoned=state.status is ContactStatus.ABANDONED,
    )


def _resolution(state: ContactClocks) -> tuple[float | None, Outcome]:
    if state.status is ContactStatus.ABANDONED:
        return None, Outcome.EXCLUDED
    if state.status is not ContactStatus.RESOLVED:
        return None, Outcome.PENDING
    total, late = 0.0, False
    for clock in state.clocks.get(SlaTarget.RESOLUTION, []):
        if clock.status is ClockStatus.MET and clock.ended_at is not None:
            elapsed = clock.elapsed(clock.ended_at)
            total += elapsed
            late = late or elapsed > clock.target.seconds
    return total, Outcome.MISSED if late else Outcome.MET


def first_contact_resolution(
    arrived_at: float,
    resolved_at: float | None,
    later_arrivals: Iterable[float],
    window_s: float,
    now: float,
) -> Fcr | None:
    """FCR of one contact of a known customer; None when it does not count (unresolved).

    `later_arrivals`: when the customer's other contacts of the same type arrived.
    """
    if resolved_at is None:
        return None
    until = resolved_at + window_s
    if any(arrived_at < at <= until for at in later_arrivals):
        return Fcr.NO
    return Fcr.YES if now >= until else Fcr.PENDING
