"""What the decoders accept is what the committed JSON Schemas allow.

Connectors are built from the published schemas, so a record the models accept
but the schema forbids (or a value the models quietly coerce) is a contract the
code does not keep. The property: every instance a decoder accepts validates
against its committed schema. Instances are the valid samples with a few members
replaced by JSON values of every type, including the tricky ones connectors send.
"""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from switchboard_events import ANY_DECODER, InvalidEvent, SchemaViolation

EVENTS = Path(__file__).resolve().parents[1]
SAMPLES = {
    path: json.loads(path.read_bytes()) for path in sorted(EVENTS.glob("samples/switchboard.*/*"))
}
VALIDATORS = {
    path.name.removesuffix(".schema.json"): Draft202012Validator(
        json.loads(path.read_bytes()), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for path in EVENTS.glob("schemas/switchboard.*.schema.json")
}

TRICKY_STRINGS = [
    "",
    " ",
    "\t\n",
    "\u3000",
    "2",
    "yes",
    "true",
    "null",
    "1764000000",
    "2025-03-03T09:00:00Z",
    "2025-03-03t09:00:00.5+03:00",
    "2025-03-03T09:00Z",
    "2025-03-03 09:00:00Z",
    "2025-03-03T09:00:00",
    "2025-03-03T09:00:00Z\n",
    "billing\x00x",
    "call",
    "known",
    "in_house",
    "outsourced",
    "first_response",
    "csat_recorded",
    " Billing ",
    " " + "a" * 64 + " ",
    "a" * 65,
    "a b",
    "abc\n",
    "switchboard.contact.received.v1",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=2**41),
    st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.5, 1e300, -1.0]),
    st.sampled_from(TRICKY_STRINGS),
    st.text(max_size=80),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["phone", "x", "status", "kind"]), inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member and item path in a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


_DELETE = object()


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set the member at `path` to `value`; `_DELETE` removes a member instead."""
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if value is _DELETE and isinstance(parent, dict):
        del parent[path[-1]]
    elif value is not _DELETE:
        parent[path[-1]] = value


@st.composite
def mutated_samples(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(list(SAMPLES.values()))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _replace(document, path, draw(st.one_of(JSON_VALUES, st.just(_DELETE))))
    return document


def _accepted(instance: Any) -> bool:
    try:
        ANY_DECODER.decode(json.dumps(instance).encode())
    except InvalidEvent:
        return False
    return True


def test_every_sample_validates_against_its_schema() -> None:
    assert set(VALIDATORS) == {sample["type"] for sample in SAMPLES.values()}
    for path, sample in SAMPLES.items():
        errors = [e.message for e in VALIDATORS[sample["type"]].iter_errors(sample)]
        assert not errors, f"{path.name}: {errors}"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_samples())
def test_whatever_the_decoders_accept_the_schema_allows(instance: dict[str, Any]) -> None:
    if _accepted(instance):
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in VALIDATORS[instance["type"]].iter_errors(instance)
        ]
        assert not errors, f"the decoder accepted what the schema forbids: {errors}"


RECEIVED = "switchboard.contact.received.v1/call-ru-national-format.json"
LIFECYCLE = "switchboard.contact.lifecycle.v1/csat-recorded.json"
DECIDED = "switchboard.routing.decided.v1/in-house-vip.json"
ALERT = "switchboard.sla.alert.v1/first-response-warning.json"
ENRICHED = "switchboard.contact.enriched.v1/known-by-phone.json"
OFF_TYPE = [
    (RECEIVED, ("time",), 1764000000),
    (RECEIVED, ("time",), "1764000000"),
    (RECEIVED, ("time",), "2025-03-03 09:14:05Z"),
    (RECEIVED, ("producedtime",), "2025-03-03T09:14Z"),
    (RECEIVED, ("data", "priority_hint"), True),
    (RECEIVED, ("data", "priority_hint"), "2"),
    (RECEIVED, ("data", "priority_hint"), 2.5),
    (RECEIVED, ("data", "sender", "withheld"), "yes"),
    (RECEIVED, ("data", "sender", "withheld"), 0),
    (RECEIVED, ("data", "sender", "phone"), 79161234567),
    (RECEIVED, ("data", "contact_type"), "billing\x00x"),
    (RECEIVED, ("data", "subject"), "double\x00charge"),
    (RECEIVED, ("data", "attributes", "ivr_path"), "1\x00"),
    (RECEIVED, ("data", "channel"), "fax"),
    (LIFECYCLE, ("data", "csat_score"), "5"),
    (LIFECYCLE, ("data", "csat_score"), True),
    (LIFECYCLE, ("data", "reason"), "\x00"),
    (DECIDED, ("data", "priority"), "870"),
    (DECIDED, ("data", "routing_latency_ms"), "87.5"),
    (DECIDED, ("data", "decided_at"), 1741000000),
    (DECIDED, ("data", "customer", "repeat_contact"), "true"),
    (DECIDED, ("data", "queue_kind"), 1),
    (ALERT, ("data", "level"), True),
    (ALERT, ("data", "target_seconds"), "300"),
    (ALERT, ("data", "due_at"), "1741000000"),
    (ENRICHED, ("data", "history", "repeat_contact"), "no"),
    (ENRICHED, ("data", "identification", "candidates"), "1"),
    (ENRICHED, ("data", "contact", "priority_hint"), False),
]


@pytest.mark.parametrize(("sample", "path", "value"), OFF_TYPE)
def test_off_type_values_are_refused_by_the_decoder_and_the_schema(
    sample: str, path: tuple[str, ...], value: object
) -> None:
    instance = copy.deepcopy(SAMPLES[EVENTS / "samples" / sample])
    _replace(instance, path, value)

    with pytest.raises(SchemaViolation) as caught:
        ANY_DECODER.decode(json.dumps(instance).encode())
    # Attribute keys may be data, so reasons name them <key>.
    field = "data.attributes.<key>" if "attributes" in path else ".".join(path)
    assert caught.value.fields == (field,)
    assert not VALIDATORS[instance["type"]].is_valid(instance)
