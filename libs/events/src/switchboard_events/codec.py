"""Encode events to bytes and decode raw records into validated events.

Decoding is one pass over the bytes (pydantic's JSON validator, with the
event `type` as the discriminator); the slower checks that tell bad UTF-8
from bad JSON only run once a record has already failed. Nothing in the models
may need the record as Python data first (a `mode="before"` model validator):
pydantic would then build the whole record as dicts and validate those, a third
more per record. So the one check Python code is spared, that a record carries
`specversion`, is made here on the fields the record set.

Decoding is strict: a value must already have the JSON type the schema gives
it (``"2"`` is no integer, ``1`` no boolean), so a connector's bug becomes a
dead letter with a reason instead of a coerced, wrong decision.

The decoder puts no limit on the size of a whole record: that is the consumer's
one setting, ``KAFKA__MAX_MESSAGE_BYTES``, checked by the runtime's runner before
it decodes (every field is bounded here, see `primitives`).
"""

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar, Union, cast

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from switchboard_events.audit import AuditRecorded
from switchboard_events.contact import ContactReceived
from switchboard_events.enriched import ContactEnriched
from switchboard_events.envelope import Event
from switchboard_events.errors import (
    InvalidEvent,
    NotJson,
    NotUtf8,
    SchemaViolation,
    UnknownEventType,
)
from switchboard_events.lifecycle import ContactLifecycle
from switchboard_events.primitives import STORABLE_TEXT, ContractModel
from switchboard_events.routing import RoutingDecided
from switchboard_events.sla import SlaAlert
from switchboard_events.topics import (
    ALL_EVENTS,
    AUDIT_EVENTS,
    CONTACTS_ENRICHED,
    CONTACTS_INBOUND,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    SLA_ALERTS,
)

E_co = TypeVar("E_co", bound=Event, covariant=True)

_MAX_REPORTED_ERRORS = 5
# Only names that look like event types are echoed back; anything else may be data.
_TYPE_NAME = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
# Members of the attribute value union, as pydantic names them in error locations.
_UNION_MEMBERS = frozenset({"str", "bool", "int", "float", "constrained-str"})
_ATTRIBUTE_VALUE = (
    "expected a string of at most 512 characters without NUL, a boolean, an integer or a number"
)
_HINTS = {
    "timezone_aware": "expected a timestamp with a UTC offset such as 2025-03-01T09:30:00Z, "
    "got one without",
    # Strict decoding: only a JSON string can be a timestamp.
    "datetime_type": "expected an RFC 3339 timestamp string such as 2025-03-01T09:30:00Z",
    "missing": "required field is missing",
}
_NUL = "contains a NUL character (U+0000), which no text field may hold"


def encode(event: Event) -> bytes:
    """Compact JSON of the event, without absent optional fields."""
    return event.model_dump_json(exclude_none=True, by_alias=True).encode()


class EventDecoder(Generic[E_co]):
    """Decodes raw records into one of a fixed set of event types; build once, reuse."""

    def __init__(self, models: Sequence[type[E_co]]) -> None:
        """Accept exactly `models` (distinct event types)."""
        types = [model.event_type() for model in models]
        if not types or len(set(types)) != len(types):
            raise ValueError(f"expected one or more distinct event models, got types {types}")
        self._models = tuple(models)
        self._types = tuple(types)
        self._field_names = _known_field_names() | {"[key]"}
        union: Any = Annotated[cast(Any, Union)[self._models], Field(discriminator="type")]
        self._adapter: TypeAdapter[E_co] = TypeAdapter(union)

    @property
    def models(self) -> tuple[type[E_co], ...]:
        """The event classes this decoder accepts."""
        return self._models

    @property
    def event_types(self) -> tuple[str, ...]:
        """The `type` strings this decoder accepts."""
        return self._types

    def decode(self, raw: bytes | None) -> E_co:
        """Validate one record value; raise an `InvalidEvent` subclass when it can never be one."""
        if raw is None:
            raise NotJson("record has no value (a tombstone); expected a JSON event")
        try:
            event = self._adapter.validate_json(raw, strict=True)
        except ValidationError as exc:
            raise self._classify(raw, exc.errors(include_url=False, include_input=False)) from None
        if "specversion" not in event.model_fields_set:
            # As the schema says (the models default it for Python code only); `type` needs
            # no check, the decoder dispatches on it.
            raise SchemaViolation(
                f'{event.type} is invalid: specversion is required; expected "1.0" (CloudEvents)',
                ("specversion",),
            )
        return event

    def _classify(self, raw: bytes, errors: list[ErrorDetails]) -> InvalidEvent:
        first = errors[0]
        kind = first["type"]
        expected = ", ".join(self._types)
        if kind == "json_invalid":
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                return NotUtf8(
                    f"record is not UTF-8: byte 0x{raw[bad.start]:02x} at offset {bad.start}"
                )
            detail = first.get("ctx", {}).get("error", first["msg"])
            return NotJson(f"record is not JSON ({detail}); expected a JSON object")
        if kind == "union_tag_invalid":
            tag = str(first.get("ctx", {}).get("tag", ""))
            shown = repr(tag) if _TYPE_NAME.match(tag) else "(not shown: not a type name)"
            return UnknownEventType(
                f"event type {shown} is not carried here; expected one of: {expected}"
            )
        if kind == "union_tag_not_found":
            return SchemaViolation(
                f"missing the type attribute; expected one of: {expected}", ("type",)
            )
        if kind in ("dict_type", "model_attributes_type") and not first["loc"]:
            return SchemaViolation("expected a JSON object (a structured-mode CloudEvent)")
        return self._schema_violation(errors)

    def _schema_violation(self, errors: list[ErrorDetails]) -> SchemaViolation:
        event_type = errors[0]["loc"][0] if errors[0]["loc"] else "event"
        problems: dict[str, str] = {}
        for error in errors:
            path, in_union = self._path(error["loc"])
            # An attribute value failing the union fails every member: say it once.
            problems.setdefault(path, _ATTRIBUTE_VALUE if in_union else _describe(error))
        parts = [f"{path}: {problem}" for path, problem in problems.items()]
        if len(parts) > _MAX_REPORTED_ERRORS:
            parts[_MAX_REPORTED_ERRORS:] = [f"and {len(parts) - _MAX_REPORTED_ERRORS} more"]
        return SchemaViolation(f"{event_type} is invalid: " + "; ".join(parts), tuple(problems))

    def _path(self, loc: tuple[int | str, ...]) -> tuple[str, bool]:
        """Dotted path of an error location, and whether it ended in a union member."""
        # loc[0] is the discriminator tag; dict keys (attributes) may be data: redact them.
        parts = list(loc[1:])
        in_union = bool(parts) and parts[-1] in _UNION_MEMBERS
        segments = [
            f"[{part}]" if isinstance(part, int) else part if part in self._field_names else "<key>"
            for part in (parts[:-1] if in_union else parts)
        ]
        return ".".join(segments).replace(".[", "[") or "(event)", in_union


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in _HINTS:
        return _HINTS[kind]
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == STORABLE_TEXT:
        return _NUL
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    return f"{error['msg']} ({kind})"


def _subclasses(cls: type[ContractModel]) -> Iterator[type[ContractModel]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _known_field_names() -> set[str]:
    return {name for model in _subclasses(ContractModel) for name in model.model_fields}


@lru_cache(maxsize=64)
def _decoder(models: tuple[type[Event], ...]) -> EventDecoder[Event]:
    return EventDecoder(models)


def decode(raw: bytes | None, models: Sequence[type[Event]] | EventDecoder[Event]) -> Event:
    """Decode one record into one of `models` (or with a ready decoder); see EventDecoder."""
    decoder = models if isinstance(models, EventDecoder) else _decoder(tuple(models))
    return decoder.decode(raw)


INBOUND_DECODER = EventDecoder((ContactReceived,))
ENRICHED_DECODER = EventDecoder((ContactEnriched,))
LIFECYCLE_DECODER = EventDecoder((ContactLifecycle,))
DECISIONS_DECODER = EventDecoder((RoutingDecided,))
SLA_ALERTS_DECODER = EventDecoder((SlaAlert,))
AUDIT_DECODER = EventDecoder((AuditRecorded,))
ANY_DECODER = EventDecoder(ALL_EVENTS)
"""Accepts every event type; for tools and samples, not for consumers of one topic."""

_BY_TOPIC: dict[str, EventDecoder[Event]] = {
    CONTACTS_INBOUND: INBOUND_DECODER,
    CONTACTS_ENRICHED: ENRICHED_DECODER,
    CONTACTS_LIFECYCLE: LIFECYCLE_DECODER,
    ROUTING_DECISIONS: DECISIONS_DECODER,
    SLA_ALERTS: SLA_ALERTS_DECODER,
    AUDIT_EVENTS: AUDIT_DECODER,
}


def decoder_for(topic: str) -> EventDecoder[Event]:
    """The ready-made decoder of a topic; KeyError naming the known topics otherwise."""
    try:
        return _BY_TOPIC[topic]
    except KeyError:
        known = ", ".join(_BY_TOPIC)
        raise KeyError(f"no decoder for topic {topic!r}; expected one of: {known}") from None
