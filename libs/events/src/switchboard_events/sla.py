"""`switchboard.sla.alert.v1`: an SLA clock reached a warning, breach or escalation (sla.alerts)."""

from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, model_validator

from switchboard_events.contact import Channel
from switchboard_events.envelope import Event, EventData
from switchboard_events.primitives import ContractId, ContractModel, Identifier, Label, Timestamp
from switchboard_events.routing import Priority, PriorityLabel, QueueKind, check_vendor

_MAX_SECONDS = 366 * 24 * 3600
MAX_WAITED = 50
"""At most this many queues in an alert's `waited` (the ones with the most time)."""


class SlaTarget(StrEnum):
    """The clock that fired."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class AlertKind(StrEnum):
    """How far the clock is: before the target, at it, or past it and escalated."""

    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"


class WaitCause(StrEnum):
    """Where the counted waiting went, as a manager acts on it (bounded: a metric label)."""

    QUEUE = "queue"  # all of it in one in-house queue
    TRANSFERS = "transfers"  # split between queues, most of it in-house
    VENDOR = "vendor"  # most of it in an outsourced queue


class Agreement(StrEnum):
    """Whose promise the clock keeps: to the customer (SLA) or between teams (OLA)."""

    SLA = "sla"  # the customer's target, from routing to the answer or resolution
    OLA = "ola"  # a receiving team's target, from a handover to its response or hand-back


class QueueWait(ContractModel):
    """Business time counted while the contact was in one queue."""

    queue_id: Identifier
    queue_kind: QueueKind
    vendor: Label | None = None
    business_seconds: float = Field(ge=0, le=_MAX_SECONDS, allow_inf_nan=False)

    @model_validator(mode="after")
    def _vendor_for_outsourced(self) -> Self:
        check_vendor(self.queue_kind, self.vendor)
        return self


class SlaAlertData(EventData):
    """The payload of `switchboard.sla.alert.v1`; `vendor` is set exactly for outsourced queues."""

    alert_id: Identifier = Field(
        description="Equals the envelope id; derived, so replays repeat it."
    )
    contact_id: Identifier
    queue_id: Identifier
    queue_kind: QueueKind
    vendor: Label | None = None
    priority: Priority
    priority_label: PriorityLabel
    channel: Channel
    target: SlaTarget
    kind: AlertKind
    level: int = Field(
        ge=1, le=100, description="1 for the first alert of its kind in the cycle, then 2, 3 ..."
    )
    cycle: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="Which cycle of the target: 1, then 2 after a reopen (resolution) or the"
        " next customer reply (next response). Each cycle numbers its levels from 1 again."
        " Absent in alerts from before cycles were numbered (levels then counted on).",
    )
    due_at: Timestamp = Field(description="When the target is (or was) due.")
    fired_at: Timestamp
    target_seconds: int = Field(
        gt=0, le=_MAX_SECONDS, description="The target, in business seconds."
    )
    elapsed_business_seconds: float = Field(ge=0, le=_MAX_SECONDS, allow_inf_nan=False)
    policy_rule: Label = Field(description="Id of the SLA policy rule that set the target.")
    contract_id: ContractId | None = Field(
        default=None,
        description="The customer contract whose rule (`policy_rule`) set the target;"
        " absent when a tier rule or the default did.",
    )
    waited: list[QueueWait] = Field(
        default_factory=list,
        max_length=MAX_WAITED,
        description="Where the business time counted until the level went, per queue in the"
        " order the contact reached them (empty in alerts from before it was recorded).",
    )
    cause: WaitCause | None = Field(
        default=None, description="Where most of it went: queue, transfers or vendor."
    )
    wall_seconds: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Wall time from the clock's start to the level; minus the business"
        " and paused seconds, the time the queues were closed.",
    )
    paused_seconds: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Wall time spent waiting on the customer before the level (not counted).",
    )

    agreement: Agreement = Field(
        default=Agreement.SLA,
        description="sla (the customer's target) or ola (a receiving team's target after a"
        " handover; `team` names the team). Absent in alerts from before OLAs: sla.",
    )
    team: Identifier | None = Field(
        default=None, description="The team whose OLA this is; set exactly for ola alerts."
    )
    held_until: Timestamp | None = Field(
        default=None,
        description="Set when the target holds notifications outside the team's hours and"
        " the level was reached while the team was closed: it was sent at the team's next"
        " opening. `time` and `due_at` stay exact.",
    )

    @model_validator(mode="after")
    def _vendor_for_outsourced(self) -> Self:
        check_vendor(self.queue_kind, self.vendor)
        if (self.agreement is Agreement.OLA) != (self.team is not None):
            raise ValueError("team is set exactly for ola alerts")
        return self


class SlaAlert(Event):
    """An SLA alert for a contact. Topic sla.alerts, key: contact id."""

    type: Literal["switchboard.sla.alert.v1"] = "switchboard.sla.alert.v1"
    data: SlaAlertData

    @property
    def contact_id(self) -> str:
        """The contact id from `data`."""
        return self.data.contact_id

    @model_validator(mode="after")
    def _alert_id_is_event_id(self) -> Self:
        if self.data.alert_id != self.id:
            raise ValueError("data.alert_id must equal the event id")
        return self
