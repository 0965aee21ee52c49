"""`make tail TOPIC=...`: print a topic's records as they arrive, one JSON line each."""

from __future__ import annotations

import json
import uuid

from switchboard_runtime.kafka import make_consumer
from switchboard_runtime.settings import KafkaSettings


async def tail(settings: KafkaSettings, topic: str, from_start: bool) -> None:
    """Print `topic` until cancelled: from its first record, or what arrives from now on."""
    consumer = make_consumer(settings, f"tail-{uuid.uuid4().hex[:8]}", "make-tail", topic)
    await consumer.start()
    try:
        if not from_start:
            await consumer.seek_to_end()
        async for message in consumer:
            headers = {k: v.decode(errors="replace") for k, v in message.headers}
            line = {
                "partition": message.partition,
                "offset": message.offset,
                "key": message.key.decode(errors="replace") if message.key else None,
                "headers": headers or None,
                "value": _value(message.value),
            }
            print(json.dumps({k: v for k, v in line.items() if v is not None}), flush=True)
    finally:
        await consumer.stop()


def _value(raw: bytes | None) -> object:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
