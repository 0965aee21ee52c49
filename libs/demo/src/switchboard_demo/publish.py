"""Publish demo traffic to Kafka, each record when it is due."""

import asyncio
from collections import Counter
from collections.abc import Iterable

from switchboard_demo.traffic import Outgoing
from switchboard_events import CONTACTS_INBOUND, CONTENT_TYPE, CONTENT_TYPE_HEADER
from switchboard_runtime.kafka import make_producer
from switchboard_runtime.settings import KafkaSettings

_HEADERS = [(CONTENT_TYPE_HEADER, CONTENT_TYPE.encode())]


class PublishError(Exception):
    """The broker did not acknowledge some records."""


async def publish(
    items: Iterable[Outgoing], settings: KafkaSettings, stop: asyncio.Event
) -> Counter[str]:
    """Send each item at its time (seconds after now) until done or `stop`; count what was sent.

    Sends are not awaited one by one: the producer batches them (acks=all), and
    the run ends with a flush that waits for every acknowledgement.
    """
    loop = asyncio.get_running_loop()
    producer = make_producer(settings, client_id="switchboard-demo")
    await producer.start()
    sent: Counter[str] = Counter()
    failures: list[BaseException] = []
    started = loop.time()

    def on_ack(future: asyncio.Future[object]) -> None:
        if not future.cancelled() and (error := future.exception()) is not None:
            failures.append(error)

    try:
        for item in items:
            if await _stopped(stop, started + item.at - loop.time()):
                break
            ack = await producer.send(
                item.topic, item.value, key=item.key.encode(), headers=_HEADERS
            )
            ack.add_done_callback(on_ack)
            sent[_label(item)] += 1
        await producer.flush()
    finally:
        await producer.stop()
    if failures:
        raise PublishError(f"{len(failures)} records were not acknowledged; first: {failures[0]!r}")
    return sent


async def _stopped(stop: asyncio.Event, delay: float) -> bool:
    """Wait `delay` seconds; True if `stop` was set meanwhile."""
    if delay > 0:
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            return False
    return stop.is_set()


def _label(item: Outgoing) -> str:
    if item.kind.startswith("malformed:"):
        return item.kind
    prefix = "contact" if item.topic == CONTACTS_INBOUND else "lifecycle"
    return f"{prefix}:{item.kind}"


def summary(sent: Counter[str], seconds: float) -> str:
    """One line: contacts per channel, lifecycle events per kind, malformed records."""

    def part(prefix: str) -> str:
        found = sorted((k.removeprefix(prefix), n) for k, n in sent.items() if k.startswith(prefix))
        return " ".join(f"{k}={n}" for k, n in found) or "none"

    malformed = sum(n for k, n in sent.items() if k.startswith("malformed:"))
    return (
        f"sent {sum(sent.values())} records in {seconds:.1f}s; "
        f"contacts: {part('contact:')}; lifecycle: {part('lifecycle:')}; "
        f"malformed: {malformed} ({part('malformed:')})"
    )
