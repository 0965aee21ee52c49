"""Bounded field types and the model base shared by every event.

Every string, list and mapping in the contract has an upper bound, so one
oversized field can never make an event expensive to store or forward:

================================  =====================================================
field kind                        limit
================================  =====================================================
identifiers (event, contact ...)  1..128 printable ASCII characters, no whitespace
event source                      1..256 printable ASCII characters, no whitespace
category slugs (contact type,     1..64 characters, trimmed and lower-cased on input
tier, segment)
short labels (queue, rule,        1..128 characters
vendor, names of factors)
free text (reasons, names)        1..256 characters
raw phone as spelled              1..64 characters (format NOT checked)
raw email as spelled              1..512 characters (format NOT checked)
email subject                     up to 998 characters (the RFC 5322 line limit)
language tags                     BCP 47 shaped: "en", "en-GB", "pt_BR"; 2..35 characters
time zones                        IANA shaped: "Europe/London", "UTC"; 1..64 characters
any other string                  1024 characters (the model-wide safety net)
lists of reasons / factors        16 / 32 items
attributes mapping                32 entries; keys 1..64, string values up to 512
whole encoded event               ``MAX_EVENT_BYTES`` (checked by the codec)
================================  =====================================================
"""

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

MAX_EVENT_BYTES = 128 * 1024
"""Largest encoded event the codec accepts; far above what the field limits allow."""

MAX_STRING = 1024
MAX_REASONS = 16
MAX_FACTORS = 32
MAX_ATTRIBUTES = 32

# Printable ASCII without whitespace: ids travel in Kafka keys, logs and URLs.
_VISIBLE_ASCII = r"^[!-~]+$"

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_VISIBLE_ASCII)]
SourceRef = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_VISIBLE_ASCII)]
Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]
RawPhone = Annotated[str, StringConstraints(min_length=1, max_length=64)]
RawEmail = Annotated[str, StringConstraints(min_length=1, max_length=512)]
LanguageTag = Annotated[
    str,
    StringConstraints(
        min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$"
    ),
]
TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+\-/]*$")
]
Reasons = Annotated[list[Text], Field(max_length=MAX_REASONS)]
Csat = Annotated[int, Field(ge=1, le=5, description="Satisfaction score, 1 (worst) to 5 (best).")]
Timestamp = Annotated[
    AwareDatetime,
    Field(description="RFC 3339 timestamp with a UTC offset; naive timestamps are rejected."),
]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ContractModel(BaseModel):
    """Base of every model in the contract: immutable, tolerant of unknown fields."""

    model_config = ConfigDict(
        # Producers may add fields before consumers learn them: ignore, don't reject.
        extra="ignore",
        frozen=True,
        str_max_length=MAX_STRING,
        # Inputs carry phone numbers and emails: keep them out of error texts and logs.
        hide_input_in_errors=True,
    )
