"""Example input events, built the way the router and the agent desktop build them.

For tests, the benchmark and trying `explain` by hand; never used by the service itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard_events import (
    Channel,
    ContactLifecycle,
    ContactLifecycleData,
    CustomerView,
    IdentificationStatus,
    LifecycleKind,
    QueueKind,
    RoutingDecided,
    RoutingDecidedData,
    decision_id,
    derive_id,
)


def decision(
    contact_id: str,
    *,
    channel: Channel | str = Channel.CALL,
    arrived_at: datetime | None = None,
    queue_id: str = "general",
    queue_kind: QueueKind | str = QueueKind.IN_HOUSE,
    vendor: str | None = None,
    priority: int = 400,
    priority_label: str = "P3",
    tier: str | None = None,
    decided_at: datetime | None = None,
) -> RoutingDecided:
    """A routing decision for `contact_id` (its inbound event id is the contact id)."""
    arrived = arrived_at or datetime.now(UTC)
    decided = decided_at or max(arrived, datetime.now(UTC))
    ident = decision_id(f"in-{contact_id}-{decided.timestamp()}")
    kind = QueueKind(queue_kind)
    return RoutingDecided(
        id=ident,
        source="switchboard/router",
        subject=contact_id,
        time=decided,
        producedtime=decided,
        data=RoutingDecidedData(
            decision_id=ident,
            inbound_event_id=f"in-{contact_id}",
            contact_id=contact_id,
            customer_status=IdentificationStatus.UNKNOWN,
            queue_id=queue_id,
            queue_kind=kind,
            vendor=vendor if vendor or kind is QueueKind.IN_HOUSE else "acme-bpo",
            priority=priority,
            priority_label=priority_label,
            rule="sample",
            policy_version="sample",
            arrived_at=arrived,
            decided_at=decided,
            routing_latency_ms=max(0.0, (decided - arrived).total_seconds() * 1000),
            channel=Channel(channel),
            contact_type="general",
            customer=CustomerView(tier=tier) if tier else None,
        ),
    )


def step(
    contact_id: str,
    kind: LifecycleKind | str,
    at: datetime | None = None,
    *,
    to_queue_id: str | None = None,
    n: int = 0,
) -> ContactLifecycle:
    """A lifecycle step; `n` tells apart two steps of the same kind and time."""
    when = at or datetime.now(UTC)
    step_kind = LifecycleKind(kind)
    return ContactLifecycle(
        id=derive_id("sample.lifecycle", contact_id, step_kind.value, when.isoformat(), str(n)),
        source="desktop/sample",
        subject=contact_id,
        time=when,
        producedtime=datetime.now(UTC),
        data=ContactLifecycleData(
            contact_id=contact_id,
            kind=step_kind,
            to_queue_id=to_queue_id,
            csat_score=4 if step_kind is LifecycleKind.CSAT_RECORDED else None,
        ),
    )
