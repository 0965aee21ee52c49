"""The use case: a batch of decisions and lifecycle steps -> clocks folded, timers rescheduled.

Per batch, in the runner's one transaction:

1. claim the events by (type, source, id): a replayed event changes nothing;
2. store the new decisions (the newest per contact wins) and lifecycle steps, creating
   and locking a row per contact in id order (steps may come before their decision);
3. with the decisions (returned by the upsert) and every step of those contacts (returned
   with the insert of the new ones), fold each contact's clocks from scratch;
4. replace the contact's pending timers with the alerts its clocks still owe, skipping
   alerts already fired, and update its service-level summary.

Cancelling timers happens here, in the same transaction as the step that stops the
clock; firing them is the scheduler's job (`scheduler.py`). The handler produces no
records itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor import metrics, repository
from sla_monitor.config import SCHEMA
from sla_monitor.domain.clock import Decision, QueueRef, fold
from sla_monitor.domain.policy import SlaPolicy
from sla_monitor.repository import DecisionRow, StepRow
from switchboard_events import ContactLifecycle, Event, RoutingDecided
from switchboard_runtime.db import Claim, Delivery, claim_events
from switchboard_runtime.runner import Output, Record


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
        ),
        decision_id=d.decision_id,
        decided_at=d.decided_at,
    )


def step_of(event: ContactLifecycle) -> StepRow:
    d = event.data
    return StepRow(event.id, d.contact_id, d.kind.value, event.time, d.to_queue_id)


class SlaHandler:
    """The runner's handler: holds the policy, owns no other state."""

    def __init__(self, policy: SlaPolicy) -> None:
        self.policy = policy

    async def __call__(
        self, batch: Sequence[Record[Event]], session: AsyncSession
    ) -> Sequence[Output]:
        deliveries = await claim_events(session, SCHEMA, [Claim.of(r) for r in batch])
        decisions: list[DecisionRow] = []
        steps: list[StepRow] = []
        for record, delivery in zip(batch, deliveries, strict=True):
            event = record.event
            if delivery != Delivery.NEW:
                continue
            if isinstance(event, RoutingDecided):
                decisions.append(decision_of(event))
            elif isinstance(event, ContactLifecycle):
                steps.append(step_of(event))
        touched = sorted({d.decision.contact_id for d in decisions} | {s.contact_id for s in steps})
        if not touched:
            return []
        newest: dict[str, DecisionRow] = {}
        for row in decisions:
            known = newest.get(row.decision.contact_id)
            if known is None or row.decided_at > known.decided_at:
                newest[row.decision.contact_id] = row
        decided = await repository.upsert_contacts(session, touched, list(newest.values()))
        histories = await repository.insert_steps(session, steps, list(decided))
        states = [fold(d, histories.get(cid, []), self.policy) for cid, d in decided.items()]
        pending = [alert for state in states for alert in state.pending_alerts()]
        scheduled = await repository.replace_due_alerts(session, list(decided), pending)
        await repository.update_summaries(session, states)

        metrics.DECISIONS.inc(len(decisions))
        for step in steps:
            metrics.STEPS.labels(step.kind).inc()
        metrics.WAITING_FOR_DECISION.inc(sum(1 for s in steps if s.contact_id not in decided))
        metrics.TIMERS_SCHEDULED.inc(scheduled)
        return []
