"""An in-memory `RoutingRepository`: what the PostgreSQL one does, per the contract suite
(test_router_repository_contract.py), without a database. Unit tests use it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from router.repository import ContactChange, StoredDecision
from switchboard_events.testing import T0
from switchboard_runtime.db import Claim, Delivery, EventKey

CLOSED = ("resolved", "abandoned")


@dataclass
class Contact:
    queue_id: str | None
    channel: str | None
    status: str
    decision_id: str | None
    opened_at: datetime
    arrived_at: datetime | None
    """None while only a lifecycle event created the row."""


@dataclass
class FakeRoutingRepository:
    """One store shared by every batch, like the database; `now` stamps rows that only a
    lifecycle event created (the database's `now()`)."""

    now: Callable[[], datetime] = lambda: T0
    ledger: dict[EventKey, tuple[str, int, int]] = field(default_factory=dict)
    decisions: dict[str, StoredDecision] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        earlier = dict(self.ledger)
        deliveries = []
        for claim in claims:
            position = (claim.topic, claim.partition, claim.offset)
            if claim.key in earlier:
                same = earlier[claim.key] == position
                deliveries.append(Delivery.REDELIVERED if same else Delivery.COPY)
            elif claim.key in self.ledger:
                deliveries.append(Delivery.COPY)  # a repeat in the same batch
            else:
                self.ledger[claim.key] = position
                deliveries.append(Delivery.NEW)
        return deliveries

    def after_commit(self, applied: Callable[[], None]) -> None:
        applied()  # every call is committed as soon as it returns

    async def open_load(self, since: datetime) -> dict[tuple[str, str], int]:
        return self._placed(lambda c: c.status == "open" and c.opened_at > since)

    async def arrivals(self, since: datetime) -> dict[tuple[str, str], int]:
        return self._placed(lambda c: c.arrived_at is not None and c.arrived_at > since)

    def _placed(self, counted: Callable[[Contact], bool]) -> dict[tuple[str, str], int]:
        return dict(
            Counter(
                (c.queue_id, c.channel or "")
                for c in self.contacts.values()
                if counted(c) and c.queue_id is not None
            )
        )

    async def stored_decisions(self, decision_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.decisions[i].event for i in decision_ids if i in self.decisions}

    async def write_batch(
        self, decisions: Sequence[StoredDecision], changes: Sequence[ContactChange]
    ) -> None:
        for decision in decisions:
            self.decisions.setdefault(decision.decision_id, decision)
        for d in {d.contact_id: d for d in decisions}.values():  # a later decision wins
            known = self.contacts.get(d.contact_id)
            if known is None:
                self.contacts[d.contact_id] = Contact(
                    d.queue_id, d.channel, "open", d.decision_id, d.decided_at, d.arrived_at
                )
            elif known.decision_id is None:  # closed (or moved) before its decision arrived
                known.queue_id = known.queue_id or d.queue_id
                known.channel, known.decision_id = d.channel, d.decision_id
                known.opened_at, known.arrived_at = d.decided_at, d.arrived_at
        for change in changes:
            known = self.contacts.get(change.contact_id)
            if known is not None:
                known.status = change.status or known.status
                known.queue_id = change.queue_id or known.queue_id
            elif change.status in CLOSED:
                self.contacts[change.contact_id] = Contact(
                    change.queue_id, None, change.status, None, self.now(), None
                )

    async def recent_decisions(self, contact_id: str, limit: int) -> list[str]:
        mine = [d for d in self.decisions.values() if d.contact_id == contact_id]
        mine.sort(key=lambda d: d.decided_at, reverse=True)
        return [d.event for d in mine[:limit]]

    def open_by_queue(self) -> dict[str | None, int]:
        """Open contacts per queue, whatever their age (what the tests count)."""
        return dict(Counter(c.queue_id for c in self.contacts.values() if c.status == "open"))
