"""`switchboard.contact.received.v1`: a connector saw a new contact (topic contacts.inbound)."""

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from switchboard_events.envelope import Event, EventData
from switchboard_events.primitives import (
    MAX_ATTRIBUTES,
    ContractModel,
    Identifier,
    LanguageTag,
    RawEmail,
    RawPhone,
    Slug,
    Text,
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
    """

    phone: RawPhone | None = Field(
        default=None, description="Phone number as the channel spelled it."
    )
    email: RawEmail | None = Field(
        default=None, description="Email address as the channel spelled it."
    )
    display_name: Text | None = Field(default=None, description="Name the sender gave or showed.")
    external_ref: Identifier | None = Field(
        default=None,
        description="The channel's own id for the sender (CRM id, chat visitor id, social handle).",
    )
    withheld: bool = Field(
        default=False,
        description="The caller withheld their number (calls only; ignored on other channels).",
    )


class EntryPoint(ContractModel):
    """Where the contact came in; which member is set depends on the channel."""

    dialled_number: RawPhone | None = Field(default=None, description="Number the caller dialled.")
    mailbox: RawEmail | None = Field(default=None, description="Mailbox the email was sent to.")
    widget_id: Identifier | None = Field(default=None, description="Chat widget id.")
    page: Text | None = Field(default=None, description="Page or social account of the contact.")


AttributeKey = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
]
AttributeValue = (
    Annotated[str, StringConstraints(max_length=512)]
    | bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
)


class ContactReceivedData(EventData):
    """The payload of `switchboard.contact.received.v1`.

    Sender rules by channel (checked on input):

    - call: `sender.phone` unless `sender.withheld` is true;
    - email: `sender.email`;
    - chat and social: at least one of `external_ref`, `phone`, `email`,
      `display_name`, so the contact can be told apart and answered.
    """

    contact_id: Identifier = Field(description="The connector's id for this contact.")
    channel: Channel
    sender: Sender
    entry_point: EntryPoint | None = None
    contact_type: Slug = Field(
        description='Category the connector or IVR chose: "billing", "technical", "general", '
        '"sales", "complaint" ... (trimmed and lower-cased).'
    )
    priority_hint: int | None = Field(
        default=None, ge=1, le=5, description="Connector's urgency hint: 1 most urgent, 5 least."
    )
    language_hint: LanguageTag | None = Field(
        default=None, description='Language the contact is in, BCP 47 shaped: "en", "de-DE".'
    )
    subject: Annotated[str, StringConstraints(max_length=998)] | None = Field(
        default=None, description="Email subject or chat topic."
    )
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description="Free-form connector attributes (IVR choices, campaign ...).",
    )

    @model_validator(mode="after")
    def _sender_fits_channel(self) -> Self:
        sender = self.sender
        if self.channel == Channel.CALL and sender.phone is None and not sender.withheld:
            raise ValueError("a call needs sender.phone unless sender.withheld is true")
        if self.channel == Channel.EMAIL and sender.email is None:
            raise ValueError("an email needs sender.email")
        if self.channel in (Channel.CHAT, Channel.SOCIAL) and not (
            sender.external_ref or sender.phone or sender.email or sender.display_name
        ):
            raise ValueError(
                f"a {self.channel.value} contact needs at least one of sender.external_ref, "
                "sender.phone, sender.email or sender.display_name"
            )
        return self


class ContactReceived(Event):
    """A connector saw a new contact. Topic contacts.inbound, key: contact id."""

    type: Literal["switchboard.contact.received.v1"] = "switchboard.contact.received.v1"
    data: ContactReceivedData

    @property
    def contact_id(self) -> str:
        """The contact id from `data`."""
        return self.data.contact_id
