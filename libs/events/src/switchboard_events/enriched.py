"""`switchboard.contact.enriched.v1`: profile-lookup identified the sender (contacts.enriched)."""

from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, model_validator

from switchboard_events.contact import Channel, ContactReceivedData
from switchboard_events.envelope import Event, EventData
from switchboard_events.primitives import (
    ContractId,
    ContractModel,
    Csat,
    Identifier,
    Label,
    LanguageTag,
    Money,
    Reasons,
    Slug,
    SourceRef,
    Text,
    Timestamp,
    TimeZoneName,
)

_MAX_COUNT = 1_000_000


class IdentificationStatus(StrEnum):
    """Whether the sender was matched to exactly one customer."""

    KNOWN = "known"
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"


class MatchedBy(StrEnum):
    """The sender identity that matched the customer."""

    EXTERNAL_REF = "external_ref"
    PHONE = "phone"
    EMAIL = "email"


class Outcome(StrEnum):
    """How a finished contact ended."""

    RESOLVED = "resolved"
    ABANDONED = "abandoned"


class IdentityConflict(ContractModel):
    """The phone and the email of one sender belong to different customers."""

    phone_customer_id: Identifier
    email_customer_id: Identifier


class Identification(ContractModel):
    """The result of matching the sender against known identities.

    `known` needs `matched_by`; `unknown` has none; `ambiguous` means two or more
    candidates (e.g. a shared family phone) and no single customer was chosen.
    """

    status: IdentificationStatus
    matched_by: MatchedBy | None = None
    candidates: int = Field(
        default=0, ge=0, le=_MAX_COUNT, description="Customers the sender's identities matched."
    )
    conflict: IdentityConflict | None = None
    reasons: Reasons = Field(
        default_factory=list,
        description='Why, for people, without personal data: "phone unparseable: too few '
        'digits", "matched by email".',
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.status == IdentificationStatus.KNOWN and self.matched_by is None:
            raise ValueError("status known needs matched_by")
        if self.status == IdentificationStatus.UNKNOWN and self.matched_by is not None:
            raise ValueError("status unknown must not have matched_by")
        if self.status == IdentificationStatus.AMBIGUOUS and self.candidates < 2:
            raise ValueError("status ambiguous needs candidates >= 2")
        return self


class CustomerProfile(ContractModel):
    """Who the customer is, from the customer records."""

    customer_id: Identifier
    tier: Slug = Field(description='Service tier: "standard", "premium", "vip" ...')
    segment: Slug | None = Field(default=None, description='Segment: "consumer", "smb" ...')
    display_name: Text | None = None
    language: LanguageTag | None = Field(default=None, description="Preferred language.")
    region: Label | None = Field(default=None, description='Region: "UK", "DE", "US-West" ...')
    timezone: TimeZoneName | None = Field(default=None, description='IANA name: "Europe/Berlin".')
    lifetime_value: Money | None = Field(
        default=None, description="Lifetime value in the organisation's reporting currency."
    )
    contract_id: ContractId | None = None


class HistorySummary(ContractModel):
    """The customer's contacts before this one (all zero for unknown senders)."""

    contacts_24h: int = Field(default=0, ge=0, le=_MAX_COUNT)
    contacts_7d: int = Field(default=0, ge=0, le=_MAX_COUNT)
    contacts_30d: int = Field(default=0, ge=0, le=_MAX_COUNT)
    open_contacts: int = Field(default=0, ge=0, le=_MAX_COUNT)
    last_contact_at: Timestamp | None = None
    last_channel: Channel | None = None
    last_outcome: Outcome | None = None
    repeat_contact: bool = Field(
        default=False, description="profile-lookup's repeat-contact rule matched this contact."
    )
    last_csat: Csat | None = None
    avg_csat: float | None = Field(default=None, ge=1, le=5, allow_inf_nan=False)

    @model_validator(mode="after")
    def _windows_nest(self) -> Self:
        if not self.contacts_24h <= self.contacts_7d <= self.contacts_30d:
            raise ValueError("expected contacts_24h <= contacts_7d <= contacts_30d")
        return self


class ContactEnrichedData(EventData):
    """The payload of `switchboard.contact.enriched.v1`; `customer` is set iff status is known."""

    inbound_event_id: Identifier = Field(description="Id of the contact.received event.")
    inbound_source: SourceRef | None = Field(
        default=None,
        description="Source of the contact.received event (ids are unique per source);"
        " absent in events produced before it was added.",
    )
    contact: ContactReceivedData = Field(description="The contact exactly as received.")
    identification: Identification
    customer: CustomerProfile | None = None
    history: HistorySummary = Field(default_factory=HistorySummary)

    @model_validator(mode="after")
    def _customer_iff_known(self) -> Self:
        known = self.identification.status == IdentificationStatus.KNOWN
        if known != (self.customer is not None):
            raise ValueError("customer must be present exactly when identification.status is known")
        return self


class ContactEnriched(Event):
    """A contact with its customer. Topic contacts.enriched, key: customer id, else contact id."""

    type: Literal["switchboard.contact.enriched.v1"] = "switchboard.contact.enriched.v1"
    data: ContactEnrichedData

    @property
    def contact_id(self) -> str:
        """The contact id of the original contact."""
        return self.data.contact.contact_id

    def partition_key(self) -> str:
        """Customer id, so one customer's contacts stay in order; contact id when unknown."""
        customer = self.data.customer
        return customer.customer_id if customer is not None else self.data.contact.contact_id
