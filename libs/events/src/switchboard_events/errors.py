"""The errors this library raises, all in one place.

::

    EventError                  base of everything raised here
    └── InvalidEvent            the record can never be processed: dead-letter it
        ├── TooLarge            over KAFKA__MAX_MESSAGE_BYTES      error_class "too_large"
        ├── NotUtf8             the bytes are not UTF-8            error_class "not_utf8"
        ├── NotJson             UTF-8, but not JSON                error_class "not_json"
        ├── UnknownEventType    a type this topic does not carry   error_class "unknown_event_type"
        ├── SchemaViolation     JSON that breaks the model         error_class "schema_violation"
        └── Unprocessable       a valid event whose data the       error_class "unprocessable"
                                service's transaction refuses

`error_class` is short and stable (use it for the `dlq.error.class` header and
metric labels); `reason` says what was wrong and what was expected. Reasons
name fields and constraints but never repeat input values, so they carry no
phone numbers or email addresses.
"""

from typing import ClassVar


class EventError(Exception):
    """Base of every error raised by switchboard_events."""


class InvalidEvent(EventError):
    """A record that can never become a valid event."""

    error_class: ClassVar[str] = "invalid_event"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooLarge(InvalidEvent):
    """The record is larger than the consumer's limit (raised by the runtime's runner)."""

    error_class = "too_large"


class NotUtf8(InvalidEvent):
    """The record's bytes are not UTF-8."""

    error_class = "not_utf8"


class NotJson(InvalidEvent):
    """The record is UTF-8 text but not a JSON document (or has no value at all)."""

    error_class = "not_json"


class UnknownEventType(InvalidEvent):
    """The `type` attribute names no event this topic carries."""

    error_class = "unknown_event_type"


class SchemaViolation(InvalidEvent):
    """Valid JSON that does not satisfy the event's model."""

    error_class = "schema_violation"

    def __init__(self, reason: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.fields = fields
        """Dotted paths of the offending fields, e.g. ("data.sender.phone",)."""


class Unprocessable(InvalidEvent):
    """A valid event that fails on its own, every time, inside the service's transaction.

    Raised by the runtime's batch runner (the database refused the data, or domain code
    raised ValueError), not by this library's decoders.
    """

    error_class = "unprocessable"
