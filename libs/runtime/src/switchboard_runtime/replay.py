"""Replay a dead-letter topic into the topics its records came from, each record once.

`python -m switchboard_runtime.replay contacts.lifecycle.dlq --bootstrap HOST:PORT`

The broker settings are the services' `KAFKA__*` names without a service prefix
(`KAFKA__BOOTSTRAP`, `KAFKA__SECURITY_PROTOCOL`, `KAFKA__SASL_*`); `--bootstrap` overrides
`KAFKA__BOOTSTRAP`.

Every consumer group of a topic dead-letters a bad record on its own, so one record of
`contacts.lifecycle` (read by profile-lookup and sla-monitor) can have a copy per group
in `contacts.lifecycle.dlq`, told apart by `dlq.consumer.group`. A replay republishes
the record to its original topic, where every group reads it again (a group that had
applied it recognises its event id and changes nothing): so it republishes each
original record, named by `dlq.original.topic/partition/offset`, exactly once, however
many groups rejected it. `--group` and `--error-class` narrow which copies count. A copy
marked `dlq.truncated: true` is not the whole record: it is listed, never replayed.

This is a command ops run next to any service (the runtime ships in every image), not
part of a service's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from switchboard_events.topics import (
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_CLASS,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    DLQ_TRUNCATED,
)
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.kafka import make_consumer, make_producer
from switchboard_runtime.settings import KafkaSettings, ToolKafkaSettings, load_settings

READ_TIMEOUT_S = 60
REPLAY_OF = "dlq.replay.of"
"""Header on a replayed record: `<topic>/<partition>/<offset>` of the original."""


@dataclass
class ReplayReport:
    letters: int = 0
    """Dead letters read from the topic."""
    selected: int = 0
    """Of those, the copies that match the filters."""
    replayed: list[str] = field(default_factory=list)
    """Each original record republished, as `<topic>/<partition>/<offset>`."""
    truncated: list[str] = field(default_factory=list)
    """Originals whose copies are all cut: they cannot be replayed from the DLQ."""


@dataclass(frozen=True)
class _Letter:
    origin: str
    topic: str
    key: bytes | None
    value: bytes
    whole: bool


async def replay(
    settings: KafkaSettings,
    dlq_topic: str,
    *,
    group: str | None = None,
    error_class: str | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Republish each original record of `dlq_topic` once; see the module's docstring."""
    report = ReplayReport()
    originals: dict[str, _Letter] = {}
    for headers, key, value in await _read_all(settings, dlq_topic):
        report.letters += 1
        if group is not None and headers.get(DLQ_CONSUMER_GROUP) != group:
            continue
        if error_class is not None and headers.get(DLQ_ERROR_CLASS) != error_class:
            continue
        report.selected += 1
        topic = headers[DLQ_ORIGINAL_TOPIC]
        origin = f"{topic}/{headers[DLQ_ORIGINAL_PARTITION]}/{headers[DLQ_ORIGINAL_OFFSET]}"
        letter = _Letter(origin, topic, key, value, headers.get(DLQ_TRUNCATED) != "true")
        if origin not in originals or (letter.whole and not originals[origin].whole):
            originals[origin] = letter
    report.truncated = sorted(o for o, letter in originals.items() if not letter.whole)
    whole = [letter for _, letter in sorted(originals.items()) if letter.whole]
    report.replayed = [letter.origin for letter in whole]
    if whole and not dry_run:
        producer = make_producer(settings, client_id="dlq-replay")
        await producer.start()
        try:
            sent = [
                await producer.send(
                    letter.topic,
                    letter.value,
                    key=letter.key,
                    headers=[(REPLAY_OF, letter.origin.encode())],
                )
                for letter in whole
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
    return report


async def _read_all(
    settings: KafkaSettings, topic: str
) -> list[tuple[dict[str, str], bytes | None, bytes]]:
    """Every record of `topic` up to its current end, without joining a group."""
    consumer = make_consumer(settings, None, "dlq-replay")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise ValueError(f"topic {topic!r} does not exist on {settings.bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # The end is each partition's high watermark as fetches report it: the embedded
        # broker's answer to a list-offsets request can lag the last record.
        found: list[tuple[dict[str, str], bytes | None, bytes]] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        behind = set(tps)
        while behind:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: could not read to the end within {READ_TIMEOUT_S} s")
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                found.extend(
                    ({k: bytes(v).decode() for k, v in m.headers}, m.key, m.value or b"")
                    for m in messages
                )
            behind = {
                tp
                for tp in behind
                if (end := consumer.highwater(tp)) is None or await consumer.position(tp) < end
            }
        return found
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m switchboard_runtime.replay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("dlq_topic", help="the dead-letter topic, e.g. contacts.lifecycle.dlq")
    parser.add_argument(
        "--bootstrap", help="host:port of a broker (default: KAFKA__BOOTSTRAP, else 127.0.0.1:9092)"
    )
    parser.add_argument("--group", help="only copies dead-lettered by this consumer group")
    parser.add_argument("--error-class", help="only copies of this dlq.error.class")
    parser.add_argument("--dry-run", action="store_true", help="list, do not republish")
    args = parser.parse_args(argv)
    try:
        given = {"bootstrap": args.bootstrap} if args.bootstrap else {}
        settings = load_settings(ToolKafkaSettings, **given)
    except ConfigurationError as exc:
        print(f"cannot replay: {exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(
            replay(
                settings,
                args.dlq_topic,
                group=args.group,
                error_class=args.error_class,
                dry_run=args.dry_run,
            )
        )
    except (ValueError, TimeoutError) as exc:
        print(f"cannot replay: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(f"cannot replay: broker {settings.bootstrap}: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(json.dumps(vars(report) | {"dry_run": args.dry_run}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
