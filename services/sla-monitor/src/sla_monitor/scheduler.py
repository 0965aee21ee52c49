"""The alert scheduler: fires due timers exactly once, from any number of instances.

Each round, in one transaction: take up to `batch` due timers (`DELETE ... WHERE due_at
<= now ... FOR UPDATE SKIP LOCKED`), build their alerts, and claim each alert's unique
key (contact, target, kind, cycle, level) in `sla.alerts` with `ON CONFLICT DO NOTHING`; commit.
Then publish the alerts claimed and wait for the broker's acks, and mark them published.

A timer is due only once the consumer has read its contact's partition, on every
consumed topic, past the timer's time (`sla.watermarks`, written after each poll): a
step that would have stopped the clock can then no longer be unread. When the consumer
lags, alerts wait for it rather than fire on wall time alone.

- Two instances never take the same timer (SKIP LOCKED), and an alert key can be
  recorded only once, so each alert is fired once.
- A crash after the commit but before the ack leaves the alert recorded and not
  published: every instance looks for such alerts older than `republish_after_s` and
  publishes them again, with the same payload and id (consumers de-duplicate on id).
- A consumer that stops a clock deletes its timers in its own transaction; a timer
  the scheduler holds makes that delete wait, so it is fired or cancelled, never both.

The loop sleeps until the next timer is due, at most `poll_s`, on its `Clock` (tests move
a `ManualClock`); a round that takes fewer than `batch` timers looks that instant up in
its own transaction, so an idle round is one checkout and one transaction. Transient
failures (database or broker down) are retried with the runtime's backoff
(`RetryPolicy`): publishing the alerts of a round is retried in place until acknowledged
(they are recorded already, so none is lost, and a retry repeats the same ids); anything
else fails the round and is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor import metrics
from sla_monitor.domain.alerts import build_alert, main_wait
from sla_monitor.domain.clock import PendingAlert
from sla_monitor.repository.rows import FiredAlert
from sla_monitor.repository.scheduler import AlertStore, PgAlertStore
from switchboard_events import AlertKind, encode
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock, sleep_unless
from switchboard_runtime.metrics import observe_many
from switchboard_runtime.retry import DEFAULT_RETRY, RetryPolicy, is_transient, until_done
from switchboard_runtime.runner import Output

log = logging.getLogger(__name__)
MIN_WAIT_S = 0.01


class Scheduler:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        topic: str,
        watermark_topics: Sequence[str],
        poll_s: float = 0.25,
        batch: int = 500,
        republish_after_s: float = 5.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Clock = SYSTEM_CLOCK,
        stores: Callable[[AsyncSession], AlertStore] = PgAlertStore,
    ) -> None:
        self._sessions = sessions
        self._producer = producer
        self._topic = topic
        self._gate = list(watermark_topics)
        self._clock = clock
        self._stores = stores
        self._poll_s = poll_s
        self._batch = batch
        self._republish_after = timedelta(seconds=republish_after_s)
        self._retry = retry
        self._stop = asyncio.Event()
        self._next_due: datetime | None = None  # as the last round saw it
        self.last_round = clock.monotonic()
        self.fired = 0
        self.retrying: str | None = None

    def stalled(self, limit_s: float) -> bool:
        return self._clock.monotonic() - self.last_round > limit_s

    async def run(self, stop: asyncio.Event) -> None:
        """Fire due alerts until `stop` is set (a host task); raises on anything not transient.

        The round in flight when `stop` is set is finished: claimed alerts are published
        and marked (a publish still failing then is left to the next instance's sweep).
        """
        self._stop = stop
        delays = self._retry.delays()
        next_sweep = 0.0
        while not stop.is_set():
            try:
                fired = await self.fire_due()
                if self._clock.monotonic() >= next_sweep:
                    await self.republish_stale()
                    await self.count_held_back()
                    sweep_every = min(1.0, self._republish_after.total_seconds())
                    next_sweep = self._clock.monotonic() + sweep_every
                wait = 0.0 if fired >= self._batch else self._until_next_due()
                delays = self._retry.delays()
            except Exception as exc:
                delay = next(delays, None) if is_transient(exc) else None
                if delay is None:  # not transient, or the policy's attempts are spent
                    raise
                wait = delay
                metrics.SCHEDULER_ERRORS.inc()
                log.warning(
                    "scheduler: transient failure, retrying",
                    extra={"error": repr(exc)[:300], "retry_in_s": wait},
                )
            self._mark()
            if wait > 0:
                await sleep_unless(self._clock, wait, stop)

    def _mark(self) -> None:
        self.last_round = self._clock.monotonic()
        metrics.SCHEDULER_LAST_RUN.set(self._clock.time())

    async def fire_due(self) -> int:
        """One round: claim, record, publish, mark. Returns how many timers were taken."""
        now = self._clock.now()
        async with self._sessions() as session:
            store = self._stores(session)
            async with session.begin():
                due = await store.claim_due(now, self._batch, self._gate)
                if len(due) < self._batch:  # the loop waits for the next one
                    self._next_due = await store.next_due(now)
                if not due:
                    return 0
                fired = []
                for pending in due:
                    alert = build_alert(pending, now)
                    fired.append(FiredAlert(pending, alert.id, now, encode(alert)))
                claimed = await store.record_fired(fired)
            fresh = [f for f in fired if f.alert_id in claimed]
            if not await self._publish([(f.pending.contact_id, f.payload) for f in fresh]):
                return len(due)  # stopping: the outbox keeps them for the sweep
            async with session.begin():
                await store.mark_published([f.alert_id for f in fresh], now)
        count_fired([f.pending for f in fresh], now)
        self.fired += len(fresh)
        if len(fresh) < len(fired):
            log.info(
                "timers for alerts already fired were dropped",
                extra={"count": len(fired) - len(fresh)},
            )
        return len(due)

    async def republish_stale(self) -> int:
        """Publish again what was recorded but not acknowledged `republish_after_s` ago."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            store = self._stores(session)
            stale = await store.claim_unpublished(now - self._republish_after, self._batch)
            if not stale:
                return 0
            # One attempt: the rows stay locked meanwhile; a failure is retried next sweep.
            await self._send([(contact, payload) for _, contact, payload in stale])
            await store.mark_published([ident for ident, _, _ in stale], now)
        metrics.REPUBLISHED.inc(len(stale))
        log.warning("re-published alerts left unacknowledged", extra={"count": len(stale)})
        return len(stale)

    async def _publish(self, records: list[tuple[str, bytes]]) -> bool:
        """Send and await the acks, retrying transient failures; False once stopped.

        The alerts are recorded already: a retry sends the same ids again, and alerts
        given up at a stop are published by the sweep of the next instance to run. A send
        in flight at the stop is not cancelled: the round finishes (see `run`).
        """
        try:
            await until_done(
                f"publish {len(records)} alert(s)",
                lambda: self._send(records),
                stop=asyncio.Event(),  # never set: a failure after the stop ends it instead
                report=self._report,
                policy=self._retry,
                clock=self._clock,
                retry_if=lambda exc: is_transient(exc) and not self._stop.is_set(),
            )
        except Exception as exc:
            if not is_transient(exc):
                raise
            return False
        return True

    def _report(self, reason: str | None) -> None:
        self.retrying = reason
        if reason is not None:
            metrics.SCHEDULER_ERRORS.inc()
            self._mark()  # alive, and retrying: readiness says so

    async def _send(self, records: list[tuple[str, bytes]]) -> None:
        outputs = [
            Output.of(self._topic, payload, key=contact.encode()) for contact, payload in records
        ]
        futures = [
            await self._producer.send(o.topic, o.value, key=o.key, headers=list(o.headers))
            for o in outputs
        ]
        if futures:
            await asyncio.gather(*futures)

    async def count_held_back(self) -> None:
        """Export how many timers past due wait for the consumer (the monitor lags)."""
        async with self._sessions() as session:
            held = await self._stores(session).held_back(self._clock.now(), self._gate)
        metrics.HELD_BACK.set(held)

    def _until_next_due(self) -> float:
        """Until the next timer falls due (as the last round found it); at most `poll_s`,
        when watermarks are looked at again."""
        if self._next_due is None:
            return self._poll_s
        wait = (self._next_due - self._clock.now()).total_seconds()
        return min(self._poll_s, max(MIN_WAIT_S, wait))


def count_fired(fired: Sequence[PendingAlert], now: datetime) -> None:
    """The counters of a round's alerts, one increment per label set and bucket."""
    held: Counter[str] = Counter()
    olas: Counter[tuple[str, str]] = Counter()
    alerts: Counter[tuple[str, str]] = Counter()
    causes: Counter[tuple[str, str, str]] = Counter()
    lags: dict[str, list[float]] = {}
    at = now.timestamp()
    for p in fired:
        kind = p.kind.value
        if p.held_until is not None:
            held[kind] += 1
        if p.team is not None:  # an OLA's: counted per team, not as the SLA's
            olas[p.team, kind] += 1
        else:
            alerts[p.target.value, kind] += 1
            if p.kind is AlertKind.BREACH:
                main = main_wait(p.waited)
                queue = p.queue.id if main is None else main[0].id
                cause = "unknown" if main is None else main[1].value
                causes[p.target.value, queue, cause] += 1
        lags.setdefault(kind, []).append(max(0.0, at - p.send_at))
    for kind, n in held.items():
        metrics.HELD_FOR_HOURS.labels(kind).inc(n)
    for (team, kind), n in olas.items():
        metrics.OLA_ALERTS.labels(team, kind).inc(n)
    for (target, kind), n in alerts.items():
        metrics.ALERTS.labels(target, kind).inc(n)
    for labels, n in causes.items():
        metrics.BREACH_CAUSES.labels(*labels).inc(n)
    for kind, values in lags.items():
        observe_many(metrics.ALERT_LAG.labels(kind), values)
