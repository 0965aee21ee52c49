"""`make tail TOPIC=...`: print a topic's records as they arrive, one JSON line each."""

from __future__ import annotations

import json
import uuid

from aiokafka import AIOKafkaConsumer


async def tail(bootstrap: str, topic: str, from_start: bool) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"tail-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
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
