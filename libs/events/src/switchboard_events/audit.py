"""`switchboard.audit.recorded.v1`: one access to customer data (audit.events).

Who did what to which customers, when, and how it ended; never the values read or
written (no phone, email, name or any other profile field). The subject is the audit
record's id, not a contact id: audit events are about an access, not a contact.
"""

from enum import StrEnum
from typing import Literal

from pydantic import Field

from switchboard_events.envelope import Event, EventData
from switchboard_events.ids import derive_id
from switchboard_events.primitives import Identifier, Label, Timestamp

MAX_AUDITED_CUSTOMERS = 1000
"""Customer ids in one record; a bigger import chunk is recorded as several records."""
AUDIT_NAMESPACE = "audit.recorded"


class AuditAction(StrEnum):
    """What was done: reads of customer data, then writes."""

    CUSTOMER_READ = "customer.read"
    CUSTOMER_LOOKUP = "customer.lookup"
    CONTACTS_READ = "customer.contacts.read"
    CUSTOMER_CREATE = "customer.create"
    CUSTOMER_UPDATE = "customer.update"
    CUSTOMER_DELETE = "customer.delete"
    IDENTITY_ADD = "customer.identity.add"
    IDENTITY_REMOVE = "customer.identity.remove"
    CUSTOMER_MERGE = "customer.merge"
    CUSTOMER_IMPORT = "customer.import"
    CUSTOMER_ERASE = "customer.erase"


class AuditOutcome(StrEnum):
    """How it ended: done, or why it was refused."""

    OK = "ok"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    ERASED = "erased"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


class AuditRecordedData(EventData):
    """The payload of `switchboard.audit.recorded.v1`."""

    audit_id: Identifier = Field(
        description="The record's id in the producer's append-only audit table (decimal)."
    )
    actor: Label = Field(
        description="Who: an API token's name, a JWT's subject, or \"cli:<os user>\"."
    )
    action: AuditAction
    customer_ids: list[Identifier] = Field(
        max_length=MAX_AUDITED_CUSTOMERS,
        description="The customers concerned (asked for, found or written); may be empty,"
        " e.g. a lookup that found nobody.",
    )
    outcome: AuditOutcome
    at: Timestamp = Field(description="When the action was done or refused.")


class AuditRecorded(Event):
    """An access to customer data, as the producer's audit table recorded it."""

    type: Literal["switchboard.audit.recorded.v1"] = "switchboard.audit.recorded.v1"
    data: AuditRecordedData

    @property
    def contact_id(self) -> str:
        # The envelope's subject: here the audit record, as no contact is concerned.
        return self.data.audit_id

    def partition_key(self) -> str:
        """By actor, so one actor's trail stays in order."""
        return self.data.actor


def audit_event_id(source: str, audit_id: str) -> str:
    """The event id of an audit record: derived, so publishing it again repeats it."""
    return derive_id(AUDIT_NAMESPACE, source, audit_id)
