"""The Kafka batch runner: at-least-once delivery, exactly-once effects.

One loop owns the transaction and the offsets:

1. fetch a batch (`getmany`), decode and validate each record;
2. dead-letter what can never be processed, with headers naming where it came from
   and why (never the payload), under a cap on the invalid share;
3. run the handler on the valid records inside one database transaction; if it fails
   because of some record's data (`record_failure`), bisect the batch in fresh
   transactions until the offending records are found, dead-letter them as
   `unprocessable` and apply the rest;
4. produce the handler's outputs and the dead letters, awaiting acks=all;
5. commit the offsets of exactly that batch.

Steps 4 and 5 (the batch's tail) run as a task while the next batch is fetched, decoded
and applied: at most one tail is pending, and a batch's tail starts only once the one
before it has ended, so outputs and commits keep batch order and no offset is committed
before its outputs are acknowledged. A crash meanwhile replays both batches, which the
handlers' records of processed events make harmless.

Transient failures (database or broker unreachable) are retried with backoff; the
batch is neither committed nor dead-lettered meanwhile. A crash anywhere replays the
uncommitted batch: handlers make that harmless by recording processed event ids
(`db.claim_events`) and deriving output ids from input ids.

A rebalance waits for the batch in flight and the pending tail, unless one is stuck
retrying: then it is abandoned uncommitted (an abandoned tail takes the batch after it
along) and its partitions are re-read by whoever owns them next.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import traceback
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.producer.message_accumulator import BatchBuilder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard_events import CONTENT_TYPE, CONTENT_TYPE_HEADER, Event, encode
from switchboard_events.errors import InvalidEvent, NotJson, TooLarge, Unprocessable
from switchboard_events.topics import (
    DLQ_CONSUMER_GROUP,
    DLQ_ERROR_CLASS,
    DLQ_FAILED_AT,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_SHA256,
    DLQ_ORIGINAL_SIZE,
    DLQ_ORIGINAL_TOPIC,
    DLQ_REASON,
    DLQ_TRUNCATED,
    dlq,
)
from switchboard_runtime import metrics
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock, sleep_unless
from switchboard_runtime.errors import DeadLetterRateExceeded
from switchboard_runtime.partitioning import partition_for
from switchboard_runtime.retry import DEFAULT_RETRY, RetryPolicy, is_transient
from switchboard_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

E = TypeVar("E")
MAX_REASON_CHARS = 500
POLL_TIMEOUT_MS = 200


class Record(NamedTuple, Generic[E]):
    """A decoded, valid record handed to the handler (a tuple: a frozen dataclass costs
    half a microsecond more per record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int
    event: E
    value: bytes = b""
    """The record's bytes as consumed, for its dead-letter copy should it be unprocessable."""

    def __repr__(self) -> str:
        # The bytes repeat the event: kept out of logs and test failures.
        return (
            f"Record(topic={self.topic!r}, partition={self.partition}, offset={self.offset},"
            f" key={self.key!r}, timestamp_ms={self.timestamp_ms}, event={self.event!r})"
        )


class Output(NamedTuple):
    """A record for the runner to produce once the batch's transaction has committed (a
    tuple, as `Record` is)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()

    @classmethod
    def of(cls, topic: str, event: Event | bytes, key: bytes | None = None) -> Output:
        """An event to produce, encoded (unless it already is), with the CloudEvents headers.

        Every event a service produces goes through here, so none lacks the content type
        its AsyncAPI document declares.
        """
        value = event if isinstance(event, bytes) else encode(event)
        return cls(topic, key, value, EVENT_HEADERS)


EVENT_HEADERS = ((CONTENT_TYPE_HEADER, CONTENT_TYPE.encode()),)


Handler = Callable[[Sequence[Record[E]], AsyncSession], Awaitable[Sequence[Output]]]
Decoder = Callable[[bytes], E]


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one assigned partition is processed, reported after every poll.

    Every record before `position` has its effects committed. `highwater` is the
    broker's end offset as of the fetch answered at `fetched_ms` (this host's clock):
    when `caught_up`, every record the broker held then is processed.
    """

    position: int
    highwater: int
    fetched_ms: int
    last_timestamp_ms: int | None
    """The timestamp of the last record processed from it by this runner, if any."""

    @property
    def caught_up(self) -> bool:
        return self.position >= self.highwater


ProgressHook = Callable[[Mapping[TopicPartition, Progress]], Awaitable[None]]


class _Abandon(Exception):
    """The batch in flight is given up uncommitted (rebalance or shutdown)."""


Batch = Mapping[TopicPartition, Sequence[Any]]


@dataclass(frozen=True, slots=True)
class _Tail:
    """A batch whose transaction has committed, being produced and committed by `task`."""

    batch: Batch
    task: asyncio.Task[None]


@dataclass
class RunnerState:
    """What `/readyz` and the admin API read about the loop."""

    joined: bool = False
    last_poll: float = field(default_factory=time.monotonic)
    assigned: frozenset[TopicPartition] = frozenset()
    retrying: str | None = None

    def stalled(self, limit_seconds: float) -> bool:
        return time.monotonic() - self.last_poll > limit_seconds


# Data exception (22: bad encoding, out of range, invalid text) and integrity constraint
# violation (23): the same rows fail the same way on every retry.
RECORD_LEVEL_SQLSTATE_CLASSES = ("22", "23")


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def record_failure(exc: BaseException) -> str | None:
    """Why `exc` is caused by the data of the records handled, or None when it is not.

    Record-level, so the record is dead-lettered as `unprocessable`: the database refused
    the data (SQLSTATE class 22 or 23, or the driver could not encode an argument), or
    domain code raised `ValueError`. Anything else stays what it was: transient failures
    are retried, and code bugs (TypeError, KeyError, a SQL syntax error...) crash loudly.
    The reason names the error's class, code and where it arose, never its message: a
    database message or a domain message may quote the value (a phone, an email).
    """
    chain = _causes(exc)
    for error in reversed(chain):
        sqlstate = str(getattr(error, "sqlstate", None) or "")
        if sqlstate.startswith(RECORD_LEVEL_SQLSTATE_CLASSES):
            where = [
                f"{attr.removesuffix('_name')} {value}"
                for attr in ("table_name", "column_name", "constraint_name")
                if (value := getattr(error, attr, None))
            ]
            detail = f" ({', '.join(where)})" if where else ""
            name = type(error).__name__
            return (
                f"the database or its driver refused the data: {name} (SQLSTATE {sqlstate}){detail}"
            )
    for error in reversed(chain):
        if isinstance(error, ValueError):
            frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
            origin = f" in {Path(frame[0].filename).name}:{frame[0].name}" if frame else ""
            return f"the data was refused: {type(error).__name__} raised{origin}"
    return None


class _DeadLetterGuard:
    """Stops the consumer when invalid records pass a share of the recent ones."""

    def __init__(self, max_ratio: float, window: int) -> None:
        self._max_ratio = max_ratio
        self._recent: deque[bool] = deque(maxlen=window)
        self._invalid = 0

    def observe(self, invalid: bool) -> None:
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._invalid -= 1
        self._recent.append(invalid)
        self._invalid += invalid
        self._check()

    def reclassify(self) -> None:
        """A record observed as valid turned out unprocessable: count it as invalid."""
        for i in range(len(self._recent) - 1, -1, -1):
            if not self._recent[i]:
                self._recent[i] = True
                self._invalid += 1
                break
        self._check()

    def _check(self) -> None:
        full = len(self._recent) == self._recent.maxlen
        if full and self._invalid / len(self._recent) > self._max_ratio:
            raise DeadLetterRateExceeded(
                f"{self._invalid} of the last {len(self._recent)} records were invalid"
                f" (cap {self._max_ratio:.0%}): stopping rather than dead-lettering a whole topic"
            )


class BatchRunner(Generic[E]):
    """Consumes `decoders`' topics as one group and drives `handler` batch by batch."""

    def __init__(
        self,
        *,
        name: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        decoders: Mapping[str, Decoder[E]],
        handler: Handler[E],
        max_records: int = 1000,
        max_message_bytes: int = 1_048_576,
        max_dead_letter_bytes: int = 16 * 1_048_576,
        dlq_max_ratio: float = 0.5,
        dlq_window: int = 1000,
        poll_timeout_ms: int = POLL_TIMEOUT_MS,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Clock = SYSTEM_CLOCK,
        on_progress: ProgressHook | None = None,
    ) -> None:
        self.name = name
        self._group = consumer._group_id or name
        self.state = RunnerState()
        self._consumer = consumer
        self._producer = producer
        self._sessions = sessions
        self._decoders = decoders
        self._handler = handler
        self._max_records = max_records
        self._max_bytes = max_message_bytes
        self._max_dead_letter_bytes = max_dead_letter_bytes
        self._guard = _DeadLetterGuard(dlq_max_ratio, dlq_window)
        self._poll_timeout_ms = poll_timeout_ms
        self._retry_policy = retry
        self._clock = clock
        self._stop = asyncio.Event()
        self._batch_lock = asyncio.Lock()
        self._revoking = False
        self._on_progress = on_progress
        self._last_timestamp: dict[TopicPartition, int] = {}
        self._tail: _Tail | None = None
        self._retrying: dict[str, str] = {}
        """What each stage retrying now last failed with: the transaction and a pending tail
        retry on their own, so one's end must not clear the other's."""
        self._failure: BaseException | None = None

    @classmethod
    def from_settings(
        cls,
        name: str,
        settings: ServiceSettings,
        *,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        sessions: async_sessionmaker[AsyncSession],
        decoders: Mapping[str, Decoder[E]],
        handler: Handler[E],
        on_progress: ProgressHook | None = None,
        clock: Clock = SYSTEM_CLOCK,
        poll_timeout_ms: int = POLL_TIMEOUT_MS,
    ) -> BatchRunner[E]:
        """A runner with the batch, size and dead-letter limits of a service's settings."""
        return cls(
            name=name,
            consumer=consumer,
            producer=producer,
            sessions=sessions,
            decoders=decoders,
            handler=handler,
            max_records=settings.kafka.max_batch_records,
            max_message_bytes=settings.kafka.max_message_bytes,
            max_dead_letter_bytes=settings.kafka.max_dead_letter_bytes,
            dlq_max_ratio=settings.dlq_max_ratio,
            dlq_window=settings.dlq_window,
            poll_timeout_ms=poll_timeout_ms,
            on_progress=on_progress,
            clock=clock,
        )

    def stop(self) -> None:
        """Ask the loop to finish (or abandon) its batch and leave the group."""
        self._stop.set()

    async def run(self) -> None:
        """Run until `stop()`; raises on what is neither invalid input nor transient."""
        self._consumer.subscribe(list(self._decoders), listener=_Listener(self))
        try:
            while not self._stop.is_set():
                self._raise_failure()
                self._mark_poll()
                batch = await self._poll()
                async with self._batch_lock:
                    if batch:
                        try:
                            await self._process(batch)
                        except _Abandon as why:
                            metrics.ABANDONED_BATCHES.labels(self.name, str(why)).inc()
                            self._rewind(batch)
                    else:
                        await self._finish_tail()
                await self._report_progress()
            async with self._batch_lock:
                await self._finish_tail()
            self._raise_failure()
        finally:
            if self._tail is not None:
                # Leaving on an error: the uncommitted tail is replayed by the next owner.
                self._tail.task.cancel()
                await asyncio.wait([self._tail.task])
                self._tail = None
            self._retrying.clear()
            self.state.retrying = None

    async def _poll(self) -> Batch:
        """The next batch. A pending tail that ends while it is awaited is finished and its
        progress reported at once: an idle stream's commit and watermark are not a poll late."""
        fetch = asyncio.ensure_future(
            self._consumer.getmany(timeout_ms=self._poll_timeout_ms, max_records=self._max_records)
        )
        if self._tail is not None:
            try:
                await asyncio.wait([fetch, self._tail.task], return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    async with self._batch_lock:
                        await self._finish_tail()
                    await self._report_progress()
            except BaseException:
                fetch.cancel()
                raise
        batch: Batch = await fetch
        return batch

    def _raise_failure(self) -> None:
        """Raise what ended a tail awaited by the rebalance listener, which cannot raise it."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    async def _finish_tail(self) -> Batch | None:
        """Wait for the pending tail to end; returns its batch if it was abandoned (and
        rewound), and raises what it raised otherwise."""
        tail, self._tail = self._tail, None
        if tail is None:
            return None
        try:
            await tail.task
        except _Abandon as why:
            metrics.ABANDONED_BATCHES.labels(self.name, str(why)).inc()
            self._rewind(tail.batch)
            return tail.batch
        return None

    def _mark_poll(self) -> None:
        self.state.last_poll = time.monotonic()
        metrics.LAST_POLL.labels(self.name).set(time.time())

    async def _process(self, batch: Batch) -> None:
        """Decode and apply `batch`, then leave its outputs and offsets to a tail task."""
        started = time.monotonic()
        valid: list[Record[E]] = []
        dead: list[Output] = []
        for tp, messages in batch.items():
            metrics.RECORDS.labels(self.name, tp.topic).inc(len(messages))
            for msg in messages:
                record, letter = self._decode(tp, msg)
                self._guard.observe(letter is not None)
                if record is not None:
                    valid.append(record)
                if letter is not None:
                    dead.append(letter)

        outputs: list[Output] = []
        if valid:
            outputs, refused = await self._apply(valid)
            dead.extend(self._unprocessable(record, reason) for record, reason in refused)
        abandoned = await self._finish_tail()
        if abandoned is not None:
            # This batch's outputs must follow the abandoned ones: it is re-read after them.
            metrics.ABANDONED_BATCHES.labels(self.name, "after an abandoned batch").inc()
            self._rewind(abandoned, batch)
            return
        task = asyncio.create_task(self._complete(batch, [*outputs, *dead], valid, started))
        self._tail = _Tail(batch, task)

    async def _complete(
        self, batch: Batch, outputs: Sequence[Output], valid: Sequence[Record[E]], started: float
    ) -> None:
        """The tail of a batch whose transaction has committed: produce, commit, measure."""
        await self._retry("produce", lambda: self._produce(outputs))
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items()}
        await self._retry("commit", lambda: self._commit(offsets))
        for tp, messages in batch.items():
            self._last_timestamp[tp] = messages[-1].timestamp

        now_ms = time.time() * 1000
        ages: dict[str, list[float]] = {}
        for record in valid:
            ages.setdefault(record.topic, []).append(
                max(0.0, (now_ms - record.timestamp_ms) / 1000)
            )
        for topic, topic_ages in ages.items():
            metrics.observe_many(metrics.EVENT_AGE.labels(self.name, topic), topic_ages)
        for tp, offset in offsets.items():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                metrics.LAG.labels(self.name, tp.topic, str(tp.partition)).set(
                    max(0, highwater - offset)
                )
        count = sum(len(m) for m in batch.values())
        metrics.BATCHES.labels(self.name).inc()
        metrics.BATCH_RECORDS.labels(self.name).observe(count)
        metrics.BATCH_SECONDS.labels(self.name).observe(time.monotonic() - started)

    def _decode(self, tp: TopicPartition, msg: Any) -> tuple[Record[E] | None, Output | None]:
        raw: bytes | None = msg.value
        try:
            if raw is None:
                raise NotJson("the record has no value (a tombstone); an event was expected")
            if len(raw) > self._max_bytes:
                raise TooLarge(f"the record is {len(raw)} bytes; the limit is {self._max_bytes}")
            event = self._decoders[tp.topic](raw)
        except InvalidEvent as exc:
            metrics.DEAD_LETTERS.labels(self.name, tp.topic, exc.error_class).inc()
            log.warning(
                "dead-lettered an invalid record",
                extra={
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "offset": msg.offset,
                    "error_class": exc.error_class,
                    "reason": exc.reason,
                },
            )
            return None, self._dead_letter(tp, msg.offset, msg.key, raw, exc)
        record = Record(tp.topic, tp.partition, msg.offset, msg.key, msg.timestamp, event, raw)
        return record, None

    def _dead_letter(
        self,
        tp: TopicPartition,
        offset: int,
        key: bytes | None,
        raw: bytes | None,
        exc: InvalidEvent,
    ) -> Output:
        headers = [
            (DLQ_ORIGINAL_TOPIC, tp.topic.encode()),
            (DLQ_ORIGINAL_PARTITION, str(tp.partition).encode()),
            (DLQ_ORIGINAL_OFFSET, str(offset).encode()),
            (DLQ_ERROR_CLASS, exc.error_class.encode()),
            (DLQ_REASON, exc.reason[:MAX_REASON_CHARS].encode()),
            (DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
            (DLQ_CONSUMER_GROUP, self._group.encode()),
        ]
        # The original bytes are kept whole for replay, up to a limit far above any event's;
        # past it the copy is cut, and its size, hash and the cut say so.
        original = raw or b""
        value = original[: self._max_dead_letter_bytes]
        headers += [
            (DLQ_ORIGINAL_SIZE, str(len(original)).encode()),
            (DLQ_ORIGINAL_SHA256, hashlib.sha256(original).hexdigest().encode()),
            (DLQ_TRUNCATED, b"true" if len(value) < len(original) else b"false"),
        ]
        return Output(dlq(tp.topic), key, value, headers)

    async def _apply(
        self, records: Sequence[Record[E]]
    ) -> tuple[list[Output], list[tuple[Record[E], str]]]:
        """Apply `records`; returns the outputs and the records refused with their reasons.

        A record-level failure rolls the whole transaction back; each half is then applied
        in a fresh transaction, down to the single records that fail on their own. Records
        before and after them commit once, and only committed transactions give outputs.
        """
        try:
            return list(await self._retry("database", lambda: self._transact(records))), []
        except Exception as exc:
            reason = record_failure(exc)
            if reason is None:
                raise
            if len(records) == 1:
                return [], [(records[0], reason)]
            log.info(
                "a record's data failed the transaction: re-applying the batch in halves",
                extra={"records": len(records), "reason": reason},
            )
        middle = len(records) // 2
        first, first_refused = await self._apply(records[:middle])
        second, second_refused = await self._apply(records[middle:])
        return first + second, first_refused + second_refused

    def _unprocessable(self, record: Record[E], reason: str) -> Output:
        self._guard.reclassify()
        metrics.DEAD_LETTERS.labels(self.name, record.topic, Unprocessable.error_class).inc()
        log.warning(
            "dead-lettered an unprocessable record",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error_class": Unprocessable.error_class,
                "reason": reason,
            },
        )
        tp = TopicPartition(record.topic, record.partition)
        return self._dead_letter(tp, record.offset, record.key, record.value, Unprocessable(reason))

    async def _transact(self, valid: Sequence[Record[E]]) -> Sequence[Output]:
        async with self._sessions() as session, session.begin():
            return await self._handler(valid, session)

    async def _produce(self, outputs: Sequence[Output]) -> None:
        """Send the outputs as one batch per partition (placed as `send()` would place
        them: by key, or at random without one) and await every acknowledgement.

        One `send()` per record costs more CPU than the rest of a simple handler.
        """
        by_partition: dict[TopicPartition, list[Output]] = {}
        partitions: dict[str, list[int]] = {}
        for o in outputs:
            if o.topic not in partitions:
                partitions[o.topic] = sorted(await self._producer.partitions_for(o.topic))
            every = partitions[o.topic]
            tp = TopicPartition(o.topic, partition_for(o.key, every))
            by_partition.setdefault(tp, []).append(o)
        pending = []
        for tp, records in by_partition.items():
            batch = self._producer.create_batch()
            for o in records:
                if batch.append(key=o.key, value=o.value, timestamp=None, headers=list(o.headers)):
                    continue
                pending.append(await self._send(batch, tp))
                batch = self._producer.create_batch()
                # An empty batch takes any one record, however large (as `send()` does).
                batch.append(key=o.key, value=o.value, timestamp=None, headers=list(o.headers))
            pending.append(await self._send(batch, tp))
        if pending:
            await asyncio.gather(*pending)
        for topic, count in Counter(o.topic for o in outputs).items():
            metrics.OUTPUTS.labels(self.name, topic).inc(count)

    async def _send(self, batch: BatchBuilder, tp: TopicPartition) -> asyncio.Future[Any]:
        # Closed, the batch is sent at once: an open one would wait out the producer's
        # linger for `send()`s that never come (milliseconds on every batch's latency).
        batch.close()
        future: asyncio.Future[Any] = await self._producer.send_batch(
            batch, tp.topic, partition=tp.partition
        )
        return future

    async def _commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        owned = {tp: off for tp, off in offsets.items() if tp in self._consumer.assignment()}
        if not owned:
            return
        try:
            await self._consumer.commit(owned)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on: the new owner re-reads from the last commit; outputs
            # produced meanwhile are duplicates carrying the same ids.
            log.warning("offset commit refused after a rebalance", extra={"error": str(exc)})

    async def _retry(self, stage: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        delays = self._retry_policy.delays()
        try:
            while True:
                try:
                    return await attempt()
                except Exception as exc:
                    # A failure caused by the data fails again on retry, whatever the driver
                    # calls it.
                    if not is_transient(exc) or record_failure(exc) is not None:
                        raise
                    delay = next(delays, None)
                    if delay is None:
                        raise
                    metrics.TRANSIENT_ERRORS.labels(self.name, stage).inc()
                    self._retrying[stage] = self.state.retrying = f"{stage}: {type(exc).__name__}"
                    log.warning(
                        "transient failure, retrying",
                        extra={"stage": stage, "error": repr(exc)[:300], "retry_in_s": delay},
                    )
                    if self._revoking:
                        raise _Abandon("rebalance") from exc
                    if self._stop.is_set():
                        raise _Abandon("shutdown") from exc
                    await sleep_unless(self._clock, delay, self._stop)
        finally:
            if self._retrying.pop(stage, None) is not None:
                self.state.retrying = next(iter(self._retrying.values()), None)

    async def _report_progress(self) -> None:
        """Tell `on_progress` how far each assigned partition is processed (between batches)."""
        if self._on_progress is None:
            return
        found: dict[TopicPartition, Progress] = {}
        # A pending tail's records are not committed yet: its partitions stand at its start.
        pending = self._tail.batch if self._tail is not None else {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            fetched = self._consumer.last_poll_timestamp(tp)
            if highwater is None or fetched is None:
                continue  # not fetched yet since it was assigned
            if tp in pending:
                position = pending[tp][0].offset
            else:
                try:
                    position = await self._consumer.position(tp)
                except IllegalStateError:
                    continue  # revoked meanwhile
            found[tp] = Progress(position, highwater, fetched, self._last_timestamp.get(tp))
        try:
            await self._on_progress(found)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # Progress only lags behind: the next poll reports it again.
            metrics.TRANSIENT_ERRORS.labels(self.name, "progress").inc()
            log.warning("progress not recorded, will retry", extra={"error": repr(exc)[:300]})

    def _rewind(self, *batches: Batch) -> None:
        """Re-read abandoned batches from their first records on partitions still owned."""
        first: dict[TopicPartition, int] = {}
        for batch in batches:
            for tp, messages in batch.items():
                first[tp] = min(first.get(tp, messages[0].offset), messages[0].offset)
        owned = self._consumer.assignment()
        for tp, offset in first.items():
            if tp in owned:
                self._consumer.seek(tp, offset)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: BatchRunner[Any]) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Let the batch in flight and the pending tail commit before their partitions go,
        # unless one is retrying.
        runner = self._runner
        runner._revoking = True
        try:
            async with runner._batch_lock:
                await runner._finish_tail()
        except Exception as exc:
            runner._failure = exc  # aiokafka would only log it: `run()` raises it instead
        finally:
            runner._revoking = False

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        state = self._runner.state
        state.joined = True
        state.assigned = frozenset(assigned)
        metrics.ASSIGNED.labels(self._runner.name).set(len(assigned))
