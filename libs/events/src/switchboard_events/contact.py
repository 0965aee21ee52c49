"""`switchboard.contact.received.v1`: a connector saw a new contact (topic contacts.inbound)."""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from switchboard_events.envelope import Event, EventData
from switchboard_events.primitives import (
    MAX_ATTRIBUTES,
    STORABLE_TEXT,
    ContractModel,
    Identifier,
    OptionalEmail,
    OptionalIdentifier,
    OptionalLanguageTag,
    OptionalPhone,
    OptionalText,
    Slug,
)


class Channel(StrEnum):
    """How the customer reached us."""

    CALL = "call"
    CHAT = "chat"
    EMAIL = "email"
    SOCIAL = "social"


class Sender(ContractModel):
    """Who sent the contact, spelled exactly as the channel gave it.

    Phone and email are NOT normalised or format-checked here: "8 (916) 123-45-67",
    "tel:+7-916-1234567;ext=12" and "Ivan Petrov <IVAN@Example.com>" are all valid.
    Making sense of them is profile-lookup's job, and a sender it cannot parse is
    routed as unknown, never dead-lettered.

    Every member is optional and an empty or blank string is the same as an absent
    one (connectors send "" for "no caller id"): a sender with nothing usable is an
    unknown sender, routed like any other.
    """

    phone: OptionalPhone = Field(
        default=None, description="Phone number as the channel spelled it; blank means none."
    )
    email: OptionalEmail = Field(
        default=None, description="Email address as the channel spelled it; blank means none."
    )
    display_name: OptionalText = Field(
        default=None, description="Name the sender gave or showed; blank means none."
    )
    external_ref: OptionalIdentifier = Field(
        default=None,
        description="The channel's own id for the sender (CRM id, chat visitor id, social "
        "handle); blank means none.",
    )
    withheld: bool = Field(
        default=False,
        description="The caller withheld their number (calls only; ignored on other channels).",
    )


class EntryPoint(ContractModel):
    """Where the contact came in; which member is set depends on the channel.

    As in `Sender`, a blank member is the same as an absent one.
    """

    dialled_number: OptionalPhone = Field(default=None, description="Number the caller dialled.")
    mailbox: OptionalEmail = Field(default=None, description="Mailbox the email was sent to.")
    widget_id: OptionalIdentifier = Field(default=None, description="Chat widget id.")
    page: OptionalText = Field(default=None, description="Page or social account of the contact.")


AttributeKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
AttributeValue = (
    Annotated[str, StringConstraints(max_length=512, pattern=STORABLE_TEXT)]
    | bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
)


class ContactReceivedData(EventData):
    """The payload of `switchboard.contact.received.v1`.

    No sender member is required on any channel: a call without a caller id (absent,
    blank or withheld), an email without a usable From, a chat without a visitor id
    are all real contacts, so they are routed as unknown senders, never dead-lettered.
    Only what cannot be a contact at all (no contact id, channel or contact type,
    wrong types, a bad timestamp) is refused.
    """

    contact_id: Identifier = Field(description="The connector's id for this contact.")
    channel: Channel
    sender: Sender = Field(
        default_factory=Sender, description="Who sent it; absent means nothing is known."
    )
    entry_point: EntryPoint | None = None
    contact_type: Slug = Field(
        description='Category the connector or IVR chose: "billing", "technical", "general", '
        '"sales", "complaint" ... (trimmed and lower-cased).'
    )
    priority_hint: int | None = Field(
        default=None, ge=1, le=5, description="Connector's urgency hint: 1 most urgent, 5 least."
    )
    language_hint: OptionalLanguageTag = Field(
        default=None,
        description='Language the contact is in, BCP 47 shaped: "en", "de-DE"; blank means none.',
    )
    subject: Annotated[str, StringConstraints(max_length=998, pattern=STORABLE_TEXT)] | None = (
        Field(default=None, description="Email subject or chat topic.")
    )
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description="Free-form connector attributes (IVR choices, campaign ...).",
    )


class ContactReceived(Event):
    """A connector saw a new contact. Topic contacts.inbound, key: contact id."""

    type: Literal["switchboard.contact.received.v1"] = "switchboard.contact.received.v1"
    data: ContactReceivedData

    @property
    def contact_id(self) -> str:
        """The contact id from `data`."""
        return self.data.contact_id
