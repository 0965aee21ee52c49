"""The committed JSON Schemas and AsyncAPI document match the models."""

import json
from pathlib import Path

from switchboard_events import ALL_EVENTS, ALL_TOPICS
from switchboard_events.export import ASYNCAPI_FILE, asyncapi, render, schema_file, write

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_are_fresh() -> None:
    fresh = render()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS.iterdir()}

    stale = sorted(
        name for name in fresh.keys() | on_disk.keys() if fresh.get(name) != on_disk.get(name)
    )
    assert not stale, f"libs/events/schemas is out of date ({', '.join(stale)}): run make schemas"


def test_render_is_deterministic_and_newline_terminated() -> None:
    first, second = render(), render()
    assert first == second
    assert all(content.endswith("}\n") for content in first.values())
    assert set(first) == {schema_file(event) for event in ALL_EVENTS} | {ASYNCAPI_FILE}


def test_asyncapi_lists_every_topic_and_dead_letter_twin() -> None:
    document = asyncapi()
    addresses = {channel["address"] for channel in document["channels"].values()}

    assert document["asyncapi"] == "3.0.0"
    for spec in ALL_TOPICS:
        assert spec.name in addresses
        assert spec.dlq is None or spec.dlq in addresses
    for event in ALL_EVENTS:
        assert any(
            message["payload"] == {"$ref": f"./{schema_file(event)}"}
            for message in document["components"]["messages"].values()
        )


def test_schema_requires_the_cloudevents_attributes() -> None:
    for event in ALL_EVENTS:
        schema = json.loads(render()[schema_file(event)])
        assert {"specversion", "id", "source", "type", "time", "data"} <= set(schema["required"])


def test_write_replaces_schemas_of_removed_event_types(tmp_path: Path) -> None:
    (tmp_path / "switchboard.gone.v1.schema.json").write_text("{}\n", encoding="utf-8")

    write(tmp_path)

    assert {path.name for path in tmp_path.iterdir()} == set(render())
