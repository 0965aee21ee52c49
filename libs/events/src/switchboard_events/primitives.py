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
timestamps                        RFC 3339 strings with seconds and a UTC offset
any other string                  1024 characters (the model-wide safety net)
lists of reasons / factors        16 / 32 items
attributes mapping                32 entries; keys 1..64, string values up to 512
whole record                      the consumer's ``KAFKA__MAX_MESSAGE_BYTES`` (runtime)
================================  =====================================================

No text may contain NUL (U+0000): PostgreSQL text cannot store it, so it is
refused here, at the edge, rather than failing a service's transaction.

Optional values a connector fills in (`Optional*` below) treat an empty or
blank string as absent: connectors send ``""`` for "no caller id", and that is
an unknown sender, not a broken event.

Types are strict when decoding (see `codec`): ``"2"`` is not an integer,
``"yes"`` is not a boolean and ``1764000000`` is not a timestamp, exactly as the
published JSON Schema says.
"""

import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

MAX_STRING = 1024
MAX_REASONS = 16
MAX_FACTORS = 32
MAX_ATTRIBUTES = 32

# Printable ASCII without whitespace: ids travel in Kafka keys, logs and URLs.
_VISIBLE_ASCII = r"^[!-~]+$"
STORABLE_TEXT = r"^[^\x00]*$"
"""Pattern of every free-text field: anything but NUL, which PostgreSQL text cannot hold."""
# Blank as a connector sends it for "none"; only JSON's own whitespace, so that the
# pattern means the same to pydantic, Python's re and ECMA-262 (JSON Schema).
_BLANK = r"[\t\n\r ]*"
_LANGUAGE_TAG = r"[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*"
_OFFSET = r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
_LOCAL_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
RFC3339 = f"{_LOCAL_TIME}{_OFFSET}$"
"""What the contract calls a timestamp; pydantic alone also takes "1764000000" or "09:30Z"."""
# The offset is optional here only so that a naive time gets its own, clearer error.
_TIMESTAMP_SHAPE = re.compile(f"{_LOCAL_TIME}{_OFFSET}?$")

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_VISIBLE_ASCII)]
SourceRef = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_VISIBLE_ASCII)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=STORABLE_TEXT)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=STORABLE_TEXT)]
RawPhone = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=STORABLE_TEXT)]
RawEmail = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=STORABLE_TEXT)]
LanguageTag = Annotated[
    str, StringConstraints(min_length=2, max_length=35, pattern=f"^{_LANGUAGE_TAG}$")
]
TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+\-/]*$")
]
Reasons = Annotated[list[Text], Field(max_length=MAX_REASONS)]
ContractId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$"),
    Field(
        description="A customer's SLA contract, as the SLA policy's `contracts` name it; an"
        " opaque reference (never a customer's name: vendors' decisions carry it too)."
    ),
]


def _slug(value: str) -> str:
    slug = value.strip().lower()
    if not slug:
        raise ValueError("expected a category such as billing, got only whitespace")
    return slug


# Bounds apply to the value as sent (as the schema says), then it is trimmed and lower-cased.
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=STORABLE_TEXT),
    AfterValidator(_slug),
]
Csat = Annotated[int, Field(ge=1, le=5, description="Satisfaction score, 1 (worst) to 5 (best).")]


def _parse_rfc3339(value: object) -> object:
    """Parse a timestamp string ourselves: strict mode would refuse a str after a validator."""
    if not isinstance(value, str):
        return value
    return _rfc3339(value)


@lru_cache(maxsize=4096)
def _rfc3339(value: str) -> datetime:
    # Cached (a datetime is immutable, a refusal is not cached): an event's `time` and
    # `producedtime` are mostly one instant, and a batch's events share a few.
    try:
        if _TIMESTAMP_SHAPE.fullmatch(value):
            return datetime.fromisoformat(value.upper())  # RFC 3339 allows "t" and "z"
    except ValueError:
        pass
    raise ValueError(
        "expected an RFC 3339 timestamp with seconds and a UTC offset, such as 2025-03-01T09:30:00Z"
    )


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_parse_rfc3339),
    Field(
        description="RFC 3339 timestamp with a UTC offset; naive timestamps are rejected.",
        json_schema_extra={"pattern": RFC3339},
    ),
]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _absent_if_blank(value: str | None) -> str | None:
    return value if value is None or value.strip() else None


_AbsentIfBlank = AfterValidator(_absent_if_blank)

# Optional connector-filled values: the same limits as above, but blank means absent.
OptionalIdentifier = Annotated[
    Annotated[str, StringConstraints(max_length=128, pattern=rf"^(?:[!-~]+|{_BLANK})$")] | None,
    _AbsentIfBlank,
]
OptionalText = Annotated[
    Annotated[str, StringConstraints(max_length=256, pattern=STORABLE_TEXT)] | None,
    _AbsentIfBlank,
]
OptionalPhone = Annotated[
    Annotated[str, StringConstraints(max_length=64, pattern=STORABLE_TEXT)] | None,
    _AbsentIfBlank,
]
OptionalEmail = Annotated[
    Annotated[str, StringConstraints(max_length=512, pattern=STORABLE_TEXT)] | None,
    _AbsentIfBlank,
]
OptionalLanguageTag = Annotated[
    Annotated[str, StringConstraints(max_length=35, pattern=rf"^(?:{_LANGUAGE_TAG}|{_BLANK})$")]
    | None,
    _AbsentIfBlank,
]


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
