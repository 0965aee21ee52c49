"""`switchboard.routing.decided.v1`: the router chose a queue and a priority (routing.decisions)."""

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from switchboard_events.contact import Channel
from switchboard_events.enriched import IdentificationStatus
from switchboard_events.envelope import Event, EventData
from switchboard_events.primitives import (
    MAX_FACTORS,
    ContractId,
    ContractModel,
    Identifier,
    Label,
    LanguageTag,
    Reasons,
    Slug,
    Text,
    Timestamp,
    TimeZoneName,
)

MAX_PRIORITY = 10_000

Priority = Annotated[
    int, Field(ge=0, le=MAX_PRIORITY, description="Priority score: higher is more urgent.")
]
PriorityLabel = Annotated[Label, Field(description='The policy\'s band for the score: "P1" ...')]


class QueueKind(StrEnum):
    """Who staffs a queue."""

    IN_HOUSE = "in_house"
    OUTSOURCED = "outsourced"


def check_vendor(queue_kind: QueueKind, vendor: str | None) -> None:
    """Raise ValueError unless a vendor is named exactly for outsourced queues."""
    if (queue_kind == QueueKind.OUTSOURCED) != (vendor is not None):
        raise ValueError("vendor must be set exactly when queue_kind is outsourced")


class PriorityFactor(ContractModel):
    """One term of the priority score, for explaining it."""

    factor: Label = Field(description='What contributed: "tier:vip", "repeat_contact" ...')
    contribution: int = Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY)


class Overflow(ContractModel):
    """The contact left its first-choice queue."""

    from_queue: Identifier
    reason: Label = Field(
        description='Why: "expected_wait_breaches_sla", "outside_business_hours", "queue_full".'
    )
    expected_wait_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class CustomerView(ContractModel):
    """The customer data the queue's agents may see; minimised for outsourced queues."""

    tier: Slug | None = None
    segment: Slug | None = None
    language: LanguageTag | None = None
    region: Label | None = None
    timezone: TimeZoneName | None = None
    display_name: Text | None = None
    masked_phone: Label | None = Field(
        default=None,
        description='The last four digits, the rest starred: "+********0958" for '
        '"+44 7700 900958", "*******4567" for "8 (916) 123-45-67".',
    )
    masked_email: Label | None = Field(default=None, description='e.g. "i***@example.com".')
    repeat_contact: bool | None = None


class RoutingDecidedData(EventData):
    """The payload of `switchboard.routing.decided.v1`.

    `vendor` is required for outsourced queues and forbidden for in-house ones;
    `customer_id` is only set for known customers (pseudonymous for vendors), as is
    `customer_key`.
    """

    decision_id: Identifier = Field(
        description="Equals the envelope id: derived from the inbound event's source and id"
        " (switchboard_events.decision_id), so a replay yields the same id."
    )
    inbound_event_id: Identifier
    contact_id: Identifier
    customer_id: Identifier | None = None
    customer_key: Identifier | None = Field(
        default=None,
        description="A pseudonymous key of the known customer, the same for every queue"
        " (in-house or outsourced) under one router key: counts repeat contacts (first-contact"
        " resolution) across queues. A keyed hash for this purpose only: never the customer"
        " id, nor the pseudonymous `customer_id` of a vendor's decision. Absent for unknown"
        " customers and in decisions made before this field existed.",
    )
    customer_status: IdentificationStatus
    identity_conflict: bool = Field(
        default=False,
        description="The sender's phone and email belong to different customers (the"
        " enriched event's identification.conflict); no ids are given, so agents and"
        " vendors alike know to verify who they speak to.",
    )
    queue_id: Identifier
    queue_kind: QueueKind
    vendor: Label | None = None
    priority: Priority
    priority_label: PriorityLabel
    priority_factors: list[PriorityFactor] = Field(default_factory=list, max_length=MAX_FACTORS)
    rule: Label = Field(description="Id of the policy rule that matched.")
    reasons: Reasons = Field(default_factory=list, description="Why, for people.")
    overflow: Overflow | None = None
    policy_version: Label
    arrived_at: Timestamp = Field(
        description="When the contact arrived: the SLA clocks start here."
    )
    decided_at: Timestamp
    evaluated_at: Timestamp | None = Field(
        default=None,
        description="The instant the queues' calendars (open or closed) and load were"
        " evaluated: the time of the decision, not the event's `time`, so a contact that"
        " waited in a backlog is routed by the hours when it is routed. Absent in decisions"
        " made before this field existed.",
    )
    routing_latency_ms: float = Field(ge=0, allow_inf_nan=False)
    channel: Channel
    contact_type: Slug
    cost_per_contact: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="The queue's cost of one contact in the policy version that decided"
        " (its `cost_per_contact`): what the contact costs in the scorecard. Absent in"
        " decisions made before this field existed.",
    )
    language: LanguageTag | None = None
    customer: CustomerView | None = None
    contract_id: ContractId | None = Field(
        default=None,
        description="The customer's SLA contract (the enriched event's customer.contract_id),"
        " whose targets sla-monitor applies; set for vendors' queues too, as the vendor is"
        " held to it.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_vendor(self.queue_kind, self.vendor)
        known = self.customer_status == IdentificationStatus.KNOWN
        for name in ("customer_id", "customer_key"):
            if not known and getattr(self, name) is not None:
                raise ValueError(f"{name} is only allowed when customer_status is known")
        return self


class RoutingDecided(Event):
    """The routing decision for a contact. Topic routing.decisions, key: contact id."""

    type: Literal["switchboard.routing.decided.v1"] = "switchboard.routing.decided.v1"
    data: RoutingDecidedData

    @property
    def contact_id(self) -> str:
        """The contact id from `data`."""
        return self.data.contact_id

    @model_validator(mode="after")
    def _decision_id_is_event_id(self) -> Self:
        if self.data.decision_id != self.id:
            raise ValueError("data.decision_id must equal the event id")
        return self
