"""The CloudEvents 1.0 envelope (structured mode, JSON) that every event shares."""

from abc import abstractmethod
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, JsonValue, model_validator

from switchboard_events.primitives import ContractModel, Identifier, SourceRef, Timestamp

# CloudEvents requires these; the models default them only so Python code needn't repeat them.
_REQUIRED_WITH_DEFAULT = ("specversion", "type")


def _require_cloudevents_attributes(schema: dict[str, JsonValue]) -> None:
    required = schema.get("required")
    others = (
        [name for name in required if name not in _REQUIRED_WITH_DEFAULT]
        if isinstance(required, list)
        else []
    )
    schema["required"] = [*_REQUIRED_WITH_DEFAULT, *others]


class EventData(ContractModel):
    """Base of every event payload (the CloudEvents `data` member)."""


class Event(ContractModel):
    """One event: CloudEvents attributes around a typed payload.

    Concrete events narrow `type` to a literal that carries the version
    (`switchboard.contact.received.v1`) and `data` to their payload model.
    """

    model_config = ConfigDict(json_schema_extra=_require_cloudevents_attributes)

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version.")
    id: Identifier = Field(
        description="Event id, unique per source; consumers de-duplicate on it (idempotency key)."
    )
    source: SourceRef = Field(
        description='Who produced the event, e.g. "connector/telephony" or "switchboard/router".'
    )
    type: str = Field(
        description="Event type with its version, e.g. switchboard.contact.received.v1."
    )
    subject: Identifier = Field(description="The contact id the event is about.")
    time: Timestamp = Field(description="When the thing happened.")
    producedtime: Timestamp = Field(
        description="CloudEvents extension attribute: when this event was produced."
    )
    datacontenttype: Literal["application/json"] = Field(
        default="application/json", description="Media type of `data`."
    )
    data: EventData

    @property
    @abstractmethod
    def contact_id(self) -> str:
        """The contact id inside `data`, which `subject` must repeat."""

    def partition_key(self) -> str:
        """The Kafka record key: the contact id unless the topic says otherwise."""
        return self.subject

    @classmethod
    def event_type(cls) -> str:
        """The versioned type string of this event class."""
        default: Any = cls.model_fields["type"].default
        return str(default)

    @model_validator(mode="after")
    def _subject_is_the_contact(self) -> Self:
        if self.subject != self.contact_id:
            raise ValueError("subject must equal the contact id inside data")
        return self
