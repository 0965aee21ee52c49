"""Every committed sample is a working example of the contract, and every invalid one fails."""

import json
import re
from pathlib import Path

import pytest

from switchboard_events import ALL_TOPICS, ANY_DECODER, InvalidEvent, decoder_for, encode

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
VALID = sorted(SAMPLES.glob("switchboard.*/*.json"))
INVALID = sorted((SAMPLES / "invalid").iterdir())
TOPIC_OF = {event.event_type(): spec.name for spec in ALL_TOPICS for event in spec.events}
# Values of these members are personal data; error messages must never repeat them.
PII_MEMBER = re.compile(rb'"(?:phone|email|dialled_number|mailbox|display_name)"\s*:\s*"([^"]+)"')


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_every_event_type_has_samples() -> None:
    assert {path.parent.name for path in VALID} == set(TOPIC_OF)
    for event_type in TOPIC_OF:
        assert len(list((SAMPLES / event_type).glob("*.json"))) >= 3, event_type


@pytest.mark.parametrize("path", VALID, ids=_id)
def test_sample_decodes_on_its_topic_and_round_trips(path: Path) -> None:
    decoder = decoder_for(TOPIC_OF[path.parent.name])
    event = decoder.decode(path.read_bytes())

    assert event.event_type() == path.parent.name
    assert decoder.decode(encode(event)) == event
    # Unknown fields are ignored, so a misspelt one would vanish silently: none may.
    assert _paths(json.loads(path.read_bytes())) <= _paths(json.loads(encode(event)))


@pytest.mark.parametrize("path", INVALID, ids=_id)
def test_invalid_sample_fails_with_the_class_in_its_name(path: Path) -> None:
    expected_class = path.name.split("--")[0]
    raw = path.read_bytes()

    with pytest.raises(InvalidEvent) as caught:
        ANY_DECODER.decode(raw)

    assert caught.value.error_class == expected_class
    assert caught.value.reason
    for value in PII_MEMBER.findall(raw):
        assert value.decode("utf-8", "replace") not in caught.value.reason


def _paths(value: object, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in _paths(v, f"{prefix}.{k}")} | {prefix}
    if isinstance(value, list):
        return {p for i, v in enumerate(value) for p in _paths(v, f"{prefix}[{i}]")} | {prefix}
    return {prefix}
