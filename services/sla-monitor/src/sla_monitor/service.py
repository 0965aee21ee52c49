"""The use case: a batch of decisions and lifecycle steps -> clocks folded, timers rescheduled.

Per batch, in the runner's one transaction:

1. claim the events by (type, source, id): a replayed event changes nothing;
2. store the new decisions (the newest per contact wins) and lifecycle steps, creating
   and locking a row per contact in id order (steps may come before their decision);
3. with the decisions (returned by the upsert) and every step of those contacts (returned
   with the insert of the new ones), fold each contact's clocks from scratch;
4. replace the contact's pending timers with the alerts its clocks still owe, skipping
   alerts already fired, and update its service-level summary;
5. count what it applied once the transaction commits (`once_committed`), never for an
   attempt rolled back.

Cancelling timers happens here, in the same transaction as the step that stops the
clock; firing them is the scheduler's job (`scheduler.py`). The handler produces no
records itself.

After every poll, `Watermarks` records how far each partition is processed: the
instant up to which every record is read. A caught-up partition is read up to the
fetch that showed it had nothing more; one behind, up to its last record processed.
The scheduler fires a timer only once its partition is read past the timer's time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from aiokafka import TopicPartition
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor import metrics, scorecard
from sla_monitor.domain.clock import Decision, QueueRef, fold
from sla_monitor.domain.compiled import SlaPolicy
from sla_monitor.repository.consumer import ClockStore, PgClockStore
from sla_monitor.repository.rows import DecisionRow, StepRow
from sla_monitor.repository.scorecard import PgScorecardStore, ScorecardUpdate
from sla_monitor.scorecard import ScorecardStores
from switchboard_events import ContactLifecycle, Event, LifecycleKind, RoutingDecided
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.db import Claim, Delivery, once_committed
from switchboard_runtime.policies import PolicyHolder
from switchboard_runtime.runner import Output, Progress, Record

log = logging.getLogger(__name__)

REPLAN_CHUNK = 500
"""Open contacts re-planned per transaction after a policy change."""
WATERMARK_INTERVAL_S = 0.1
"""Write watermarks at most this often: a skipped report is repeated by the next poll."""

Stores = Callable[[AsyncSession], ClockStore]
"""The clock store on a transaction's session (`PgClockStore`; a fake in tests)."""


def decision_of(event: RoutingDecided) -> DecisionRow:
    d = event.data
    tier = d.customer.tier if d.customer is not None else None
    return DecisionRow(
        decision=Decision(
            contact_id=d.contact_id,
            queue=QueueRef(d.queue_id, d.queue_kind, d.vendor),
            priority=d.priority,
            priority_label=d.priority_label,
            channel=d.channel,
            tier=tier,
            arrived_at=d.arrived_at.timestamp(),
            contract_id=d.contract_id,
        ),
        decision_id=d.decision_id,
        decided_at=d.decided_at,
    )


def unknown_contracts(policy: SlaPolicy, decisions: Iterable[Decision]) -> list[str]:
    """The contract ids of the decisions that name one the policy does not define (not an
    error of the event: the contract may be added to the policy later, and a reload re-plans)."""
    return [
        d.contract_id
        for d in decisions
        if d.contract_id is not None and policy.contract_for(d.facts) is None
    ]


def note_unknown_contracts(
    session: AsyncSession, policy: SlaPolicy, decisions: Iterable[Decision]
) -> None:
    """Count and log the decisions applied in `session`'s transaction that name an undefined
    contract, once it commits (`once_committed`)."""
    unknown = unknown_contracts(policy, decisions)
    if not unknown:
        return

    def applied() -> None:
        metrics.UNKNOWN_CONTRACTS.inc(len(unknown))
        log.warning(
            "decisions name contracts the SLA policy does not define; their tiers' targets apply",
            extra={"contracts": sorted(set(unknown))[:10], "policy_version": policy.version},
        )

    once_committed(session, applied)


def count_applied(
    session: AsyncSession, decisions: int, steps: Sequence[StepRow], waiting: int, timers: int
) -> None:
    """Count the batch's decisions, steps (`waiting` of them before their decision) and timers
    written, once its transaction commits (`once_committed`)."""
    kinds = Counter(step.kind for step in steps)

    def applied() -> None:
        metrics.DECISIONS.inc(decisions)
        for kind, n in kinds.items():
            metrics.STEPS.labels(kind).inc(n)
        metrics.WAITING_FOR_DECISION.inc(waiting)
        metrics.TIMERS_SCHEDULED.inc(timers)

    once_committed(session, applied)


def step_of(event: ContactLifecycle) -> StepRow:
    d = event.data
    # An assignment names the queue it is in: to another team's queue, it is a handover (OLA).
    queue = d.queue_id if d.kind is LifecycleKind.ASSIGNED else d.to_queue_id
    return StepRow(event.id, d.contact_id, d.kind.value, event.time, queue)


class SlaHandler:
    """The runner's handler: reads the policy in force, owns no other state."""

    def __init__(
        self,
        policies: PolicyHolder[SlaPolicy],
        stores: Stores = PgClockStore,
        scorecards: ScorecardStores = PgScorecardStore,
    ) -> None:
        self.policies = policies
        self._stores = stores
        self._scorecards = scorecards

    async def __call__(
        self, batch: Sequence[Record[Event]], session: AsyncSession
    ) -> Sequence[Output]:
        store = self._stores(session)
        deliveries = await store.claim([Claim.of(r) for r in batch])
        decisions: list[DecisionRow] = []
        steps: list[StepRow] = []
        partitions: dict[str, int] = {}  # both topics put a contact on the same partition
        for record, delivery in zip(batch, deliveries, strict=True):
            event = record.event
            if delivery != Delivery.NEW:
                continue
            if isinstance(event, RoutingDecided):
                decisions.append(decision_of(event))
                partitions[event.data.contact_id] = record.partition
            elif isinstance(event, ContactLifecycle):
                steps.append(step_of(event))
                partitions[event.data.contact_id] = record.partition
        touched = sorted({d.decision.contact_id for d in decisions} | {s.contact_id for s in steps})
        if not touched:
            return []
        newest: dict[str, DecisionRow] = {}
        for row in decisions:
            known = newest.get(row.decision.contact_id)
            if known is None or row.decided_at > known.decided_at:
                newest[row.decision.contact_id] = row
        decided = await store.upsert_contacts(touched, list(newest.values()))
        # Read once the contacts are locked: a re-plan after a swap waits for this batch
        # and sees its version, or ran before it and the swap is visible here.
        policy = self.policies.current
        note_unknown_contracts(session, policy, [row.decision for row in newest.values()])
        histories = await store.insert_steps(steps, list(decided))
        states = [fold(d, histories.get(cid, []), policy) for cid, d in decided.items()]
        pending = [alert for state in states for alert in state.pending_alerts()]
        scheduled = await store.replace_due_alerts(list(decided), pending, partitions)
        await store.update_summaries(states)
        await scorecard.record(self._scorecards(session), batch, deliveries, states)

        waiting = sum(1 for s in steps if s.contact_id not in decided)
        count_applied(session, len(decisions), steps, waiting, scheduled)
        return []


async def replan(
    sessions: async_sessionmaker[AsyncSession],
    policy: SlaPolicy,
    chunk: int = REPLAN_CHUNK,
    stores: Stores = PgClockStore,
    scorecards: ScorecardStores = PgScorecardStore,
) -> int:
    """Fold every open contact planned with another policy again with `policy`; how many.

    In chunks, each in its own transaction holding the contacts' rows (the consumer's
    batches wait for it, and it for them), so timers are replaced as the consumer would
    replace them. Alerts already fired are not scheduled again.
    """
    total = 0
    while True:
        async with sessions() as session, session.begin():
            store = stores(session)
            decisions = await store.lock_stale_open(policy.version, chunk)
            if not decisions:
                return total
            if unknown := unknown_contracts(policy, decisions):
                # counted when their decisions were applied; a re-plan only says they still are
                log.warning(
                    "re-planned contacts name contracts the SLA policy does not define",
                    extra={
                        "contracts": sorted(set(unknown))[:10],
                        "policy_version": policy.version,
                    },
                )
            ids = [d.contact_id for d in decisions]
            histories = await store.load_steps(ids)
            states = [fold(d, histories.get(d.contact_id, []), policy) for d in decisions]
            partitions = await store.timer_partitions(ids)
            pending = [alert for state in states for alert in state.pending_alerts()]
            scheduled = await store.replace_due_alerts(ids, pending, partitions)
            await store.update_summaries(states)
            await scorecards(session).record(ScorecardUpdate(scored=scorecard.scored(states)))
        metrics.REPLANNED.inc(len(decisions))
        metrics.TIMERS_SCHEDULED.inc(scheduled)
        total += len(decisions)


def consumed_until(progress: Progress) -> datetime | None:
    """The instant up to which every record of the partition is processed, if known."""
    if progress.caught_up:
        ms: int | None = progress.fetched_ms
    else:
        ms = progress.last_timestamp_ms  # record timestamps roughly follow offsets
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


class Watermarks:
    """The runner's progress hook: stores each partition's watermark for the scheduler."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock = SYSTEM_CLOCK,
        stores: Stores = PgClockStore,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._stores = stores
        self._last_write: float | None = None
        self._written: dict[tuple[str, int], datetime] = {}

    async def __call__(self, progress: Mapping[TopicPartition, Progress]) -> None:
        now = self._clock.monotonic()
        if self._last_write is not None and now - self._last_write < WATERMARK_INTERVAL_S:
            return
        # Only the partitions that moved on since this instance's last write: the table
        # never goes back, so writing the same instant again changes nothing (an idle
        # poll of a lagging partition, a backlog whose records share a timestamp).
        consumed = [
            (tp.topic, tp.partition, until)
            for tp, p in sorted(progress.items())
            if (until := consumed_until(p)) is not None
            and ((known := self._written.get((tp.topic, tp.partition))) is None or until > known)
        ]
        if not consumed:
            return
        async with self._sessions() as session, session.begin():
            await self._stores(session).record_watermarks(consumed)
        self._written.update(((topic, partition), until) for topic, partition, until in consumed)
        self._last_write = self._clock.monotonic()
