"""The use case: a batch of enriched contacts and lifecycle events -> decisions and load.

Per batch, inside the runner's one transaction:

1. claim the batch's lifecycle events by (type, source, id) and its enriched contacts by
   the decision each yields: what was claimed before is a replay;
2. the record that claimed a contact, read again, re-emits its stored decision byte for
   byte and changes nothing; any other copy of it emits nothing;
3. new contacts are decided against one snapshot: the policy in force when the batch
   started, the batch's instant, and the open contacts per queue read in one query;
   the decisions are stored and their contacts opened;
4. lifecycle events close (resolved, abandoned), reopen or move (transferred) contacts;
5. every decision goes to routing.decisions, a vendor's queues' also to that vendor's topic;
6. the decisions are counted, and the load gauges set, once the transaction commits
   (`RoutingRepository.after_commit`), never for an attempt rolled back.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from router import metrics
from router.domain.engine import CompiledPolicy, Snapshot
from router.domain.outcome import SOURCE, decision_bytes, decision_data
from router.domain.rules import Facts
from router.policies import RoutingPolicies
from router.repository import (
    ContactChange,
    PostgresRoutingRepository,
    RoutingRepository,
    StoredDecision,
)
from switchboard_events import (
    ContactEnriched,
    ContactLifecycle,
    LifecycleKind,
    RoutingDecided,
    decision_id,
)
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.db import Claim, Delivery, EventKey
from switchboard_runtime.metrics import observe_many
from switchboard_runtime.runner import Output, Record

log = logging.getLogger(__name__)

_CLOSING = {LifecycleKind.RESOLVED: "resolved", LifecycleKind.ABANDONED: "abandoned"}
_DECIDED_TYPE = RoutingDecided.event_type()


def claim_of(record: Record[ContactEnriched | ContactLifecycle], ident: str | None) -> Claim:
    """A lifecycle record claims its event, an enriched one the decision it yields (`ident`,
    derived from the inbound event's source and id); `legacy_id` is what the router
    claimed before the ledger had keys."""
    event = record.event
    if isinstance(event, ContactEnriched):
        assert ident is not None, "an enriched record claims its decision id"
        return Claim.of(record, EventKey(_DECIDED_TYPE, SOURCE, ident), legacy_id=ident)
    return Claim.of(record, legacy_id=f"lifecycle:{event.source}:{event.id}")


def decision_of(event: ContactEnriched) -> str:
    return decision_id(event.data.inbound_event_id, event.data.inbound_source)


def contact_changes(events: Sequence[ContactLifecycle]) -> list[ContactChange]:
    """Fold each contact's lifecycle events, in order, into one net change; a closing one
    records its event time (when it happened, not when the router read it)."""
    net: dict[str, ContactChange] = {}
    for event in events:
        data = event.data
        change = net.get(data.contact_id) or ContactChange(data.contact_id, None, None)
        if data.kind in _CLOSING:
            change = replace(change, status=_CLOSING[data.kind], closed_at=event.time)
        elif data.kind == LifecycleKind.REOPENED:
            change = replace(change, status="open", closed_at=None)
        elif data.kind == LifecycleKind.TRANSFERRED:
            change = replace(change, queue_id=data.to_queue_id)
        else:
            continue
        net[data.contact_id] = change
    return list(net.values())


@dataclass
class Router:
    """Routes batches with the policy in force, at the instant of `clock`.

    `handle` is the runner's handler (PostgreSQL, in the runner's transaction); `route`
    is the same on any `RoutingRepository` (the in-memory one in unit tests)."""

    policies: RoutingPolicies
    pseudonym_key: bytes
    decisions_topic: str
    open_contact_ttl: timedelta
    clock: Clock = SYSTEM_CLOCK
    # A vendor's decisions also go to its own topic (None: only to `decisions_topic`).
    vendor_topic: Callable[[str], str] | None = None

    async def handle(
        self, batch: Sequence[Record[ContactEnriched | ContactLifecycle]], session: AsyncSession
    ) -> Sequence[Output]:
        return await self.route(batch, PostgresRoutingRepository(session))

    async def route(
        self, batch: Sequence[Record[ContactEnriched | ContactLifecycle]], store: RoutingRepository
    ) -> Sequence[Output]:
        policy = self.policies.current
        # Derived once per record: a UUIDv5 over JSON costs as much as deciding.
        idents = [
            decision_of(r.event) if isinstance(r.event, ContactEnriched) else None for r in batch
        ]
        deliveries = await store.claim([claim_of(r, i) for r, i in zip(batch, idents, strict=True)])
        emit: list[tuple[str, ContactEnriched]] = []  # decisions to emit, in batch order
        fresh: dict[str, ContactEnriched] = {}
        lifecycle: list[ContactLifecycle] = []
        for record, ident, delivery in zip(batch, idents, deliveries, strict=True):
            event = record.event
            if isinstance(event, ContactLifecycle):
                if delivery == Delivery.NEW:
                    lifecycle.append(event)
            elif delivery != Delivery.COPY:
                assert ident is not None
                emit.append((ident, event))
                if delivery == Delivery.NEW:
                    fresh.setdefault(ident, event)
        earlier = await store.stored_decisions(
            [i for i in dict.fromkeys(i for i, _ in emit) if i not in fresh]
        )
        stored, produced, vendors = (
            await self._decide(policy, fresh, store) if fresh else ([], {}, {})
        )
        await store.write_batch(stored, contact_changes(lifecycle))
        produced |= {i: event.encode() for i, event in earlier.items()}
        # A replay only: parsing the stored event is no cost on the hot path.
        vendors |= {i: v for i, e in earlier.items() if (v := json.loads(e)["data"].get("vendor"))}
        outputs = [
            Output.of(self.decisions_topic, produced[i], key=e.contact_id.encode())
            for i, e in emit
            if i in produced
        ]
        if self.vendor_topic is not None:
            # The same bytes: a vendor's queues see the view the policy gave them.
            outputs += [
                Output.of(self.vendor_topic(vendors[i]), produced[i], key=e.contact_id.encode())
                for i, e in emit
                if i in vendors
            ]
        return outputs

    async def _decide(
        self, policy: CompiledPolicy, fresh: dict[str, ContactEnriched], store: RoutingRepository
    ) -> tuple[list[StoredDecision], dict[str, bytes], dict[str, str]]:
        """The fresh contacts' decisions to store, each one's encoded event by its id, and
        the vendor of those that went to a vendor's queue."""
        now = self.clock.now()
        load = await store.open_load(now - self.open_contact_ttl)
        snap = Snapshot(policy, now, load)
        stored: list[StoredDecision] = []
        produced: dict[str, bytes] = {}
        vendors: dict[str, str] = {}
        counted: Counter[tuple[str, str, str]] = Counter()
        overflows: Counter[tuple[str, str]] = Counter()
        latencies: list[float] = []
        for ident, event in fresh.items():
            decision = policy.decide(Facts.of(event), snap)
            out = decision_data(
                event, decision, policy.version, now, self.pseudonym_key, ident=ident
            )
            value = produced[ident] = decision_bytes(out)
            # The row and the counters read the data just built: no model or enum read again.
            data = out["data"]
            if (vendor := data.get("vendor")) is not None:
                vendors[ident] = vendor
            queue_id = data["queue_id"]
            stored.append(
                StoredDecision(
                    ident,
                    data["contact_id"],
                    queue_id,
                    data["channel"],
                    policy.version,
                    now,
                    value.decode(),
                    data["arrived_at"],  # the contact's event time
                )
            )
            counted[(queue_id, data["queue_kind"], data["rule"])] += 1
            if (overflow := data.get("overflow")) is not None:
                overflows[(overflow["reason"], overflow["from_queue"])] += 1
            latencies.append(data["routing_latency_ms"] / 1000)

        def applied() -> None:
            observe_many(metrics.DECISION_LATENCY, latencies)
            for labels, n in counted.items():
                metrics.DECISIONS.labels(*labels).inc(n)
            for reason_queue, n in overflows.items():
                metrics.OVERFLOWS.labels(*reason_queue).inc(n)
            publish_load(policy, snap)

        # Once committed: an attempt rolled back (retried, or halved around a bad record)
        # decided contacts that another attempt decides again.
        store.after_commit(applied)
        log.debug(
            "routed a batch", extra={"decisions": len(stored), "policy_version": policy.version}
        )
        return stored, produced, vendors


def publish_load(policy: CompiledPolicy, snap: Snapshot) -> None:
    """Set the per-queue gauges from a snapshot (after the batch's own decisions)."""
    for queue in policy.queues.values():
        metrics.OPEN_CONTACTS.labels(queue.id).set(sum(snap.open_contacts(queue.id).values()))
        metrics.OCCUPANCY.labels(queue.id).set(snap.occupancy(queue))
        for channel in queue.spec.channels:
            wait = snap.wait(queue, channel)
            metrics.ESTIMATED_WAIT.labels(queue.id, channel.value).set(
                wait if math.isinf(wait) else round(wait, 3)
            )
