"""The peer: the router's job done the naive way, as a team without our runtime would.

`python -m bench.peer`, configured by `PEER_*` variables like a service. Per message,
one at a time:

1. consume one record (aiokafka, `getone`);
2. validate it with pydantic (`ContactEnriched`, the same contract model the router uses);
3. one database transaction: count the open contacts of the chosen queue (live load),
   insert the decision (`ON CONFLICT DO NOTHING`, so a replay is harmless), commit;
4. produce the decision and wait for its acknowledgement (acks=all);
5. commit the offset of that one message.

The rules are trivial (queue by channel and contact type, priority by tier) and there
are no metrics, no dead letters and no ledger: what remains is the I/O a per-message
design cannot avoid, on the same broker and database as the router.
"""

from __future__ import annotations

import asyncio
import signal

from aiokafka import TopicPartition
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict
from sqlalchemy import text

from switchboard_events import ContactEnriched
from switchboard_runtime import db, kafka
from switchboard_runtime.settings import ServiceSettings, load_settings

DDL = (
    "CREATE SCHEMA IF NOT EXISTS peer",
    "CREATE TABLE IF NOT EXISTS peer.decisions (contact_id text PRIMARY KEY,"
    " queue text NOT NULL, priority integer NOT NULL, decided_at timestamptz NOT NULL)",
)


class PeerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PEER_", env_nested_delimiter="__")

    source_topic: str
    sink_topic: str


class PeerDecision(BaseModel):
    contact_id: str
    queue: str
    priority: int
    open_in_queue: int


async def main(settings: PeerSettings) -> None:
    engine = db.engine_from(settings)
    async with engine.begin() as conn:
        for statement in DDL:
            await conn.execute(text(statement))
    consumer = kafka.make_consumer(
        settings.kafka, settings.consumer_group or "peer", "peer", settings.source_topic
    )
    producer = kafka.make_producer(settings.kafka, "peer")
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not stop.is_set():
            message = await consumer.getone()
            event = ContactEnriched.model_validate_json(message.value)
            contact = event.data.contact
            queue = f"{contact.channel}-{contact.contact_type}"
            tier = event.data.customer.tier if event.data.customer else "standard"
            priority = {"vip": 1, "premium": 2}.get(tier, 3)
            async with engine.begin() as conn:
                open_in_queue = await conn.scalar(
                    text("SELECT count(*) FROM peer.decisions WHERE queue = :q"), {"q": queue}
                )
                await conn.execute(
                    text(
                        "INSERT INTO peer.decisions VALUES (:id, :q, :p, now())"
                        " ON CONFLICT DO NOTHING"
                    ),
                    {"id": event.contact_id, "q": queue, "p": priority},
                )
            decision = PeerDecision(
                contact_id=event.contact_id,
                queue=queue,
                priority=priority,
                open_in_queue=int(open_in_queue or 0),
            )
            await (
                await producer.send(
                    settings.sink_topic, decision.model_dump_json().encode(), key=message.key
                )
            )
            tp = TopicPartition(message.topic, message.partition)
            await consumer.commit({tp: message.offset + 1})
    finally:
        await consumer.stop()
        await producer.stop()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(load_settings(PeerSettings)))
