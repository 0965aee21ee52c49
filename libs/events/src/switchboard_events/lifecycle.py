"""`switchboard.contact.lifecycle.v1`: what happened to a contact after routing."""

from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, model_validator

from switchboard_events.envelope import Event, EventData
from switchboard_events.primitives import Csat, Identifier, OptionalIdentifier, OptionalText


class LifecycleKind(StrEnum):
    """A step in a contact's life, as the agent desktop reports it."""

    ASSIGNED = "assigned"
    FIRST_RESPONSE = "first_response"
    AGENT_REPLIED = "agent_replied"
    CUSTOMER_REPLIED = "customer_replied"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ABANDONED = "abandoned"
    TRANSFERRED = "transferred"
    CSAT_RECORDED = "csat_recorded"


_ONLY_WITH_KIND = {
    "csat_score": LifecycleKind.CSAT_RECORDED,
    "to_queue_id": LifecycleKind.TRANSFERRED,
}


class ContactLifecycleData(EventData):
    """The payload of `switchboard.contact.lifecycle.v1`.

    `csat_score` is required for `csat_recorded` and forbidden otherwise;
    `to_queue_id` likewise for `transferred`. A blank optional string is the same
    as an absent one, so a desktop sending "" for "no agent" loses no step.
    """

    contact_id: Identifier
    kind: LifecycleKind
    agent_id: OptionalIdentifier = None
    queue_id: OptionalIdentifier = Field(default=None, description="Queue the contact is in.")
    csat_score: Csat | None = None
    to_queue_id: OptionalIdentifier = Field(default=None, description="Target queue of a transfer.")
    reason: OptionalText = None

    @model_validator(mode="after")
    def _conditional_fields(self) -> Self:
        for field, kind in _ONLY_WITH_KIND.items():
            present = getattr(self, field) is not None
            if self.kind == kind and not present:
                raise ValueError(f"kind {kind.value} needs {field}")
            if present and self.kind != kind:
                raise ValueError(f"{field} is only allowed with kind {kind.value}")
        return self


class ContactLifecycle(Event):
    """A lifecycle step of a contact. Topic contacts.lifecycle, key: contact id."""

    type: Literal["switchboard.contact.lifecycle.v1"] = "switchboard.contact.lifecycle.v1"
    data: ContactLifecycleData

    @property
    def contact_id(self) -> str:
        """The contact id from `data`."""
        return self.data.contact_id
