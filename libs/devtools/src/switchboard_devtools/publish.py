"""`make publish TOPIC=... FILE=...`: send events from a JSON or JSON Lines file.

The key is the event's `subject` (the contact id), as the connectors key their records.
"""

from __future__ import annotations

import json
from pathlib import Path

from switchboard_runtime.settings import KafkaSettings
from switchboard_runtime.testing.kafka import publish as send


def read_events(path: Path) -> list[bytes]:
    text = path.read_text()
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.rstrip():
        return [json.dumps(json.loads(text)).encode()]
    return [line.encode() for line in text.splitlines() if line.strip()]


async def publish(bootstrap: str, topic: str, path: Path) -> int:
    records = []
    for raw in read_events(path):
        try:
            subject = json.loads(raw).get("subject")
        except (ValueError, AttributeError):
            subject = None
        records.append((subject.encode() if isinstance(subject, str) else None, raw))
    return await send(KafkaSettings(bootstrap=bootstrap), topic, records)
