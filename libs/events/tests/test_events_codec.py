"""Decoding: one error class per kind of bad record, strict types, reasons without personal data."""

import json
from typing import Any

import pytest

from switchboard_events import (
    ANY_DECODER,
    INBOUND_DECODER,
    LIFECYCLE_DECODER,
    ContactLifecycle,
    ContactReceived,
    Event,
    EventDecoder,
    InvalidEvent,
    NotJson,
    NotUtf8,
    SchemaViolation,
    TooLarge,
    UnknownEventType,
    decode,
    encode,
)

PHONE = "+7 (916) 123-45-67"
EMAIL = "ivan.petrov@example.com"


def record(data: dict[str, Any] | None = None, **envelope: Any) -> bytes:
    payload = {
        "contact_id": "c-1",
        "channel": "call",
        "sender": {"phone": PHONE, "email": EMAIL},
        "contact_type": "billing",
        **(data or {}),
    }
    event = {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "connector/telephony",
        "type": "switchboard.contact.received.v1",
        "subject": "c-1",
        "time": "2025-03-03T09:00:00Z",
        "producedtime": "2025-03-03T09:00:00.5Z",
        "data": payload,
        **envelope,
    }
    return json.dumps(event, ensure_ascii=False).encode()


def fail(raw: bytes | None, decoder: EventDecoder[Event] = INBOUND_DECODER) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        decoder.decode(raw)
    assert PHONE not in caught.value.reason
    assert EMAIL not in caught.value.reason
    return caught.value


def test_decode_returns_the_typed_event() -> None:
    event = INBOUND_DECODER.decode(record())
    assert isinstance(event, ContactReceived)
    assert event.data.sender.phone == PHONE


def test_decode_with_a_list_of_models_reuses_one_decoder() -> None:
    assert isinstance(decode(record(), [ContactReceived]), ContactReceived)
    assert decode(record(), [ContactReceived]) == decode(record(), INBOUND_DECODER)


def test_encode_is_compact_and_leaves_out_absent_fields() -> None:
    raw = encode(INBOUND_DECODER.decode(record()))
    assert b": " not in raw
    assert b"null" not in raw
    assert b'"priority_hint"' not in raw


def test_error_classes() -> None:
    assert isinstance(fail(b"\xff" + record()), NotUtf8)
    assert isinstance(fail(record()[:-1]), NotJson)
    assert isinstance(fail(b""), NotJson)
    assert isinstance(fail(None), NotJson)
    assert isinstance(fail(b"42"), SchemaViolation)
    assert isinstance(fail(record(type="switchboard.contact.deleted.v1")), UnknownEventType)


def test_error_class_names_are_stable() -> None:
    names = {cls.error_class for cls in (NotUtf8, NotJson, SchemaViolation, UnknownEventType)}
    assert names == {"not_utf8", "not_json", "schema_violation", "unknown_event_type"}
    assert TooLarge.error_class == "too_large"


def test_an_event_of_another_topic_is_an_unknown_type_here() -> None:
    error = fail(record(), LIFECYCLE_DECODER)
    assert isinstance(error, UnknownEventType)
    assert "'switchboard.contact.received.v1'" in error.reason
    assert "expected one of: switchboard.contact.lifecycle.v1" in error.reason


def test_a_type_that_looks_like_data_is_not_echoed() -> None:
    error = fail(record(type=EMAIL))
    assert isinstance(error, UnknownEventType)
    assert "not shown" in error.reason


def test_missing_type() -> None:
    event = json.loads(record())
    del event["type"]
    error = fail(json.dumps(event).encode())
    assert isinstance(error, SchemaViolation)
    assert error.fields == ("type",)


def test_schema_violation_names_the_fields_not_the_values() -> None:
    error = fail(record({"sender": {"phone": PHONE * 5}, "priority_hint": 9}, time="yesterday"))
    assert isinstance(error, SchemaViolation)
    assert error.fields == ("time", "data.sender.phone", "data.priority_hint")
    assert "data.sender.phone: String should have at most 64 characters" in error.reason
    assert "data.priority_hint: Input should be less than or equal to 5" in error.reason


def test_naive_time_reason_says_what_is_expected() -> None:
    error = fail(record(time="2025-03-03T09:00:00"))
    assert error.reason.endswith(
        "time: expected a timestamp with a UTC offset such as 2025-03-01T09:30:00Z, got one without"
    )


def test_attribute_keys_are_redacted_from_reasons() -> None:
    error = fail(record({"attributes": {EMAIL: "x", "callback": [PHONE]}}))
    assert isinstance(error, SchemaViolation)
    assert error.fields == ("data.attributes.<key>[key]", "data.attributes.<key>")
    assert "a boolean, an integer or a number" in error.reason


@pytest.mark.parametrize(
    ("envelope", "data", "field", "expected"),
    [
        ({"time": 1764000000}, {}, "time", "expected an RFC 3339 timestamp string"),
        ({"time": "1764000000"}, {}, "time", "expected an RFC 3339 timestamp with seconds"),
        ({"time": "2025-03-03T09:00Z"}, {}, "time", "expected an RFC 3339 timestamp with seconds"),
        ({"time": "2025-03-03 09:00:00Z"}, {}, "time", "expected an RFC 3339 timestamp"),
        ({}, {"priority_hint": True}, "data.priority_hint", "valid integer"),
        ({}, {"priority_hint": "2"}, "data.priority_hint", "valid integer"),
        ({}, {"priority_hint": 2.0}, "data.priority_hint", "valid integer"),
        ({}, {"sender": {"withheld": "yes"}}, "data.sender.withheld", "valid boolean"),
        ({}, {"sender": {"withheld": 1}}, "data.sender.withheld", "valid boolean"),
        ({}, {"sender": {"phone": 79161234567}}, "data.sender.phone", "valid string"),
        ({}, {"channel": ["call"]}, "data.channel", "(enum)"),
    ],
)
def test_wrong_json_types_are_refused_not_coerced(
    envelope: dict[str, Any], data: dict[str, Any], field: str, expected: str
) -> None:
    error = fail(record(data, **envelope))
    assert isinstance(error, SchemaViolation)
    assert error.fields == (field,)
    assert expected in error.reason


def test_rfc3339_timestamps_in_every_spelling_are_accepted() -> None:
    for time in ("2025-03-03T12:00:00+03:00", "2025-03-03t09:00:00.123456789z"):
        assert INBOUND_DECODER.decode(record(time=time)).time.isoformat().startswith("2025-03-03")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"contact_type": "billing\u0000x"}, "data.contact_type"),
        ({"sender": {"phone": PHONE + "\u0000"}}, "data.sender.phone"),
        ({"sender": {"display_name": "Ivan\u0000"}}, "data.sender.display_name"),
        ({"subject": "double charge\u0000"}, "data.subject"),
        ({"entry_point": {"page": "\u0000"}}, "data.entry_point.page"),
    ],
)
def test_nul_in_any_text_field_is_a_schema_violation_naming_the_field(
    data: dict[str, Any], field: str
) -> None:
    raw = record(data)
    assert b"\\u0000" in raw, "JSON carries NUL as the escape \\u0000, as a connector sends it"
    error = fail(raw)
    assert isinstance(error, SchemaViolation)
    assert error.fields == (field,)
    assert f"{field}: contains a NUL character (U+0000)" in error.reason


def test_nul_in_an_attribute_value_is_refused_too() -> None:
    error = fail(record({"attributes": {"ivr_path": "1\x00"}}))
    assert isinstance(error, SchemaViolation)
    assert error.fields == ("data.attributes.<key>",)
    assert "without NUL" in error.reason


def test_a_lone_surrogate_is_not_json() -> None:
    # It could never be stored as UTF-8; the JSON parser already refuses it.
    assert isinstance(fail(record().replace(b"billing", b"\\ud800")), NotJson)


def test_the_decoder_leaves_the_record_size_to_the_consumer_setting() -> None:
    # Unknown members are ignored, so a valid event can be far larger than its fields;
    # only KAFKA__MAX_MESSAGE_BYTES (checked by the runner) bounds the whole record.
    raw = record(traceparent="00-" + "a" * 200 * 1024)
    assert len(raw) > 200 * 1024
    assert INBOUND_DECODER.decode(raw) == INBOUND_DECODER.decode(record())


def test_unknown_future_fields_are_tolerated() -> None:
    raw = record({"sentiment": {"score": 0.2}}, traceparent="00-4bf92f-01", partitionkey="c-1")
    assert ANY_DECODER.decode(raw) == INBOUND_DECODER.decode(record())


def test_decoder_needs_distinct_models() -> None:
    with pytest.raises(ValueError, match="distinct"):
        EventDecoder((ContactLifecycle, ContactLifecycle))
    with pytest.raises(ValueError, match="distinct"):
        EventDecoder(())


def test_a_record_must_carry_specversion_though_python_code_may_omit_it() -> None:
    event = json.loads(record())
    del event["specversion"]
    error = fail(json.dumps(event).encode())
    assert isinstance(error, SchemaViolation)
    assert "specversion is required" in error.reason
    assert ContactReceived.model_validate(event).specversion == "1.0"
