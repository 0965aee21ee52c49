"""Write the JSON Schemas and the AsyncAPI document of every topic.

Usage: ``python -m switchboard_events.export OUTDIR`` (what `make schemas` runs).
Output is deterministic (sorted keys, two-space indent, trailing newline), so the
committed files can be compared with freshly rendered ones.
"""

import json
import sys
from pathlib import Path
from typing import Any

from switchboard_events.envelope import Event
from switchboard_events.topics import (
    ALL_TOPICS,
    CLOUDEVENTS_MEDIA_TYPE,
    CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    DLQ_HEADERS,
    VENDOR_DECISIONS,
    TopicSpec,
)

ASYNCAPI_FILE = "asyncapi.json"
SCHEMA_SUFFIX = ".schema.json"
CONTRACT_VERSION = "1.0.0"
_KAFKA_BINDING = "0.5.0"
_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_file(event: type[Event]) -> str:
    """File name of an event's JSON Schema: `<type>.schema.json`."""
    return event.event_type() + SCHEMA_SUFFIX


def event_schema(event: type[Event]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event type."""
    return {"$schema": _JSON_SCHEMA_DIALECT, **event.model_json_schema()}


def _channel_id(topic: str) -> str:
    head, *rest = topic.replace("{", "").replace("}", "").replace(".", "_").split("_")
    return head + "".join(word.capitalize() for word in rest)


def _message_id(event: type[Event]) -> str:
    return event.__name__ + event.event_type().rsplit(".", 1)[-1].upper()


def _string_header(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _channels(spec: TopicSpec) -> dict[str, Any]:
    messages = {
        _message_id(e): {"$ref": f"#/components/messages/{_message_id(e)}"} for e in spec.events
    }
    readers = ", ".join(spec.consumers) or "consumers outside Switchboard"
    channels: dict[str, Any] = {
        _channel_id(spec.name): {
            "address": spec.name,
            "title": spec.name,
            "description": f"{spec.description} Key: {spec.key}. Written by "
            f"{', '.join(spec.producers)}; read by {readers}.",
            "messages": messages,
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
    }
    if "{vendor}" in spec.name:
        channels[_channel_id(spec.name)]["parameters"] = {
            "vendor": {"description": "The vendor id of the routing policy's outsourced queues."}
        }
    if spec.dlq is not None:
        channels[_channel_id(spec.dlq)] = {
            "address": spec.dlq,
            "title": spec.dlq,
            "description": f"Dead letters of {spec.name}: records that can never be processed, "
            "unchanged, with headers saying where they came from and why they failed.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {
                "kafka": {
                    "topic": spec.dlq,
                    "partitions": spec.partitions,
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
    return channels


def _operations(spec: TopicSpec) -> dict[str, Any]:
    channel = _channel_id(spec.name)
    return {
        f"publish{channel[0].upper()}{channel[1:]}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{', '.join(spec.producers)} publish to {spec.name}.",
            "messages": [
                {"$ref": f"#/channels/{channel}/messages/{_message_id(e)}"} for e in spec.events
            ],
        }
    }


def _message(spec: TopicSpec, event: type[Event]) -> dict[str, Any]:
    return {
        "name": event.event_type(),
        "title": event.__name__,
        "summary": (event.__doc__ or "").strip().splitlines()[0],
        "contentType": CLOUDEVENTS_MEDIA_TYPE,
        "headers": {
            "type": "object",
            "properties": {CONTENT_TYPE_HEADER: {"type": "string", "const": CONTENT_TYPE}},
        },
        "payload": {"$ref": f"./{schema_file(event)}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": spec.key},
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


def _dead_letter() -> dict[str, Any]:
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "The original record (key and value unchanged) that could not be processed.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": sorted(DLQ_HEADERS),
            "properties": {name: _string_header(text) for name, text in DLQ_HEADERS.items()},
        },
        "payload": {"type": "string", "format": "binary", "description": "Original value."},
    }


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic and its dead-letter twin."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {"DeadLetter": _dead_letter()}
    for spec in (*ALL_TOPICS, VENDOR_DECISIONS):
        channels.update(_channels(spec))
        operations.update(_operations(spec))
        messages.update({_message_id(e): _message(spec, e) for e in spec.events})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Switchboard events",
            "version": CONTRACT_VERSION,
            "description": "Contact routing events: CloudEvents 1.0 in structured mode (JSON). "
            "The event type carries its version (...v1); consumers ignore unknown fields.",
        },
        "defaultContentType": CLOUDEVENTS_MEDIA_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every file of the export: file name -> content."""
    files = {
        schema_file(event): _dump(event_schema(event))
        for spec in ALL_TOPICS
        for event in spec.events
    }
    files[ASYNCAPI_FILE] = _dump(asyncapi())
    return files


def write(outdir: Path) -> list[Path]:
    """Write the export into `outdir`, removing schemas of event types that no longer exist."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = render()
    for stale in outdir.glob("*" + SCHEMA_SUFFIX):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, content in sorted(files.items()):
        path = outdir / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m switchboard_events.export OUTDIR", file=sys.stderr)
        return 2
    for path in write(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
