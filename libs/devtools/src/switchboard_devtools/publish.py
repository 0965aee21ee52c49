"""`make publish TOPIC=... FILE=...`: send a file's bytes as they are, one or many records.

How a file becomes records (the bytes are never re-encoded, so an invalid sample
arrives byte for byte and shows the dead-letter path):

- a `.jsonl` or `.ndjson` file: one record per non-empty line;
- any other file that is one JSON value: one record, the whole file;
- any other file whose every non-empty line is a JSON value: one record per line;
- anything else (not JSON, not UTF-8, truncated): one record, the whole file.

The key is `--key` when given, else the event's `subject` (the contact id, as the
connectors key their records) when the bytes parse far enough to show one, else none.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from switchboard_runtime.kafka import make_producer
from switchboard_runtime.settings import KafkaSettings

LINE_SUFFIXES = (".jsonl", ".ndjson")
# A subject early in a record that does not parse as a whole (truncated, trailing comma).
_SUBJECT = re.compile(rb'"subject"\s*:\s*("(?:[^"\\]|\\.)*")')


def read_records(path: Path) -> list[bytes]:
    """The records a file stands for, each exactly as its bytes are in the file."""
    content = path.read_bytes()
    lines = [line for line in content.splitlines() if line.strip()]
    if path.suffix.lower() in LINE_SUFFIXES:
        return lines
    if _is_json(content) or len(lines) < 2 or not all(_is_json(line) for line in lines):
        return [content]
    return lines


def subject_of(record: bytes) -> str | None:
    """The `subject` of a record, if its bytes parse far enough to show one."""
    try:
        event = json.loads(record)
    except ValueError:
        found = _SUBJECT.search(record)
        if found is None:
            return None
        try:
            event = {"subject": json.loads(found.group(1))}
        except ValueError:
            return None
    subject = event.get("subject") if isinstance(event, dict) else None
    return subject if isinstance(subject, str) else None


async def publish(settings: KafkaSettings, topic: str, path: Path, key: str | None = None) -> int:
    """Send the file's records with acks from all replicas; returns how many were sent."""
    records = []
    for value in read_records(path):
        record_key = key if key is not None else subject_of(value)
        records.append((record_key.encode() if record_key is not None else None, value))
    producer = make_producer(settings, client_id="make-publish")
    try:
        await producer.start()
        sent = [await producer.send(topic, value, key=k) for k, value in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return len(sent)


def _is_json(content: bytes) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return False
    return True
