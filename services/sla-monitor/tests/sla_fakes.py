"""In-memory fakes of sla-monitor's ports, for the service tests (no database).

`FakeClockStore` behaves as `PgClockStore` does, as far as
test_sla_repository_contract.py says; one instance is the whole database, whatever
session it is handed. (Named sla_fakes, not fakes: mypy and pytest need top-level test
modules with names unique across the services.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

from sla_scorecard_fakes import FakeScorecardStore
from sla_support import short_policy_yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor.config import SlaSettings
from sla_monitor.domain.clock import ContactClocks, Decision, PendingAlert, Step
from sla_monitor.repository.rows import DecisionRow, StepRow
from sla_monitor.service import SlaHandler
from sla_monitor.wiring import policies
from switchboard_events import LifecycleKind
from switchboard_events.testing import T0
from switchboard_runtime.db import Claim, Delivery, EventKey
from switchboard_runtime.testing import ManualClock


def no_session() -> AsyncSession:
    """What a handler on fakes is given for the runner's session: bound to no database (the
    fakes never use it); what the handler counts when the batch commits waits for its
    `commit()`, which a test calls when it looks at those counters."""
    return AsyncSession()


NO_SESSIONS = cast(async_sessionmaker[AsyncSession], object())
"""For what takes a sessionmaker it does not use in the test (the re-plan after a reload)."""

AlertKey = tuple[str, str, str, int, int, str]
"""(contact, target, kind, cycle, level, team): what `sla.alerts` is unique on."""


@dataclass
class Contact:
    decision: DecisionRow | None = None
    status: str = "open"
    policy_version: str | None = None


class FakeClockStore:
    def __init__(self) -> None:
        self.ledger: dict[EventKey, tuple[str, int, int]] = {}
        self.contacts: dict[str, Contact] = {}
        self.lifecycle: list[tuple[str, Step]] = []
        self.timers: dict[AlertKey, tuple[PendingAlert, int | None]] = {}
        self.fired: set[AlertKey] = set()
        """Alerts the scheduler fired: their timers are not scheduled again."""
        self.watermarks: dict[tuple[str, int], datetime] = {}

    def __call__(self, _session: AsyncSession) -> FakeClockStore:
        """The store factory the handler takes: the same state for every session."""
        return self

    async def claim(self, claims: Sequence[Claim]) -> list[Delivery]:
        found = []
        for c in claims:
            at = (c.topic, c.partition, c.offset)
            held = self.ledger.setdefault(c.key, at)
            found.append(
                Delivery.NEW
                if held is at
                else Delivery.REDELIVERED
                if held == at
                else Delivery.COPY
            )
        return found

    async def upsert_contacts(
        self, contact_ids: Sequence[str], decisions: Sequence[DecisionRow]
    ) -> dict[str, Decision]:
        by_contact = {row.decision.contact_id: row for row in decisions}
        for cid in sorted(set(contact_ids) | set(by_contact)):
            contact = self.contacts.setdefault(cid, Contact())
            row = by_contact.get(cid)
            if row is not None and (
                contact.decision is None or row.decided_at > contact.decision.decided_at
            ):
                contact.decision = row
        return {
            cid: known.decision
            for cid in sorted(set(contact_ids) | set(by_contact))
            if (known := self.contacts[cid].decision) is not None
        }

    async def insert_steps(
        self, steps: Sequence[StepRow], load_for: Sequence[str]
    ) -> dict[str, list[Step]]:
        for s in steps:
            seq = len(self.lifecycle) + 1
            step = Step(LifecycleKind(s.kind), s.at.timestamp(), seq, s.to_queue_id)
            self.lifecycle.append((s.contact_id, step))
        return await self.load_steps(load_for)

    async def lock_stale_open(self, version: str, limit: int) -> list[Decision]:
        stale = [
            c.decision.decision
            for _, c in sorted(self.contacts.items())
            if c.status == "open" and c.decision is not None and c.policy_version != version
        ]
        return stale[:limit]

    async def load_steps(self, contact_ids: Sequence[str]) -> dict[str, list[Step]]:
        wanted = set(contact_ids)
        found: dict[str, list[Step]] = {}
        for cid, step in self.lifecycle:
            if cid in wanted:
                found.setdefault(cid, []).append(step)
        return found

    async def timer_partitions(self, contact_ids: Sequence[str]) -> dict[str, int]:
        return {
            key[0]: partition
            for key, (_, partition) in self.timers.items()
            if key[0] in contact_ids and partition is not None
        }

    async def replace_due_alerts(
        self,
        contact_ids: Sequence[str],
        pending: Sequence[PendingAlert],
        partitions: Mapping[str, int | None],
    ) -> int:
        for key in [k for k in self.timers if k[0] in contact_ids]:
            del self.timers[key]
        new = [p for p in pending if alert_key(p) not in self.fired]
        for p in new:
            self.timers[alert_key(p)] = (p, partitions.get(p.contact_id))
        return len(new)

    async def update_summaries(self, states: Iterable[ContactClocks]) -> None:
        for state in states:
            contact = self.contacts[state.decision.contact_id]
            contact.status = state.status.value
            contact.policy_version = state.policy_version

    async def record_watermarks(self, consumed: Sequence[tuple[str, int, datetime]]) -> None:
        for topic, partition, until in consumed:
            known = self.watermarks.get((topic, partition))
            self.watermarks[topic, partition] = until if known is None else max(known, until)


def alert_key(p: PendingAlert) -> AlertKey:
    return (p.contact_id, p.target.value, p.kind.value, p.cycle, p.level, p.team or "")


def fake_handler(
    tmp_path: Path, store: FakeClockStore, scorecards: FakeScorecardStore
) -> SlaHandler:
    """The handler on the fakes, with the short test policy (sla_support) as of T0."""
    policy = tmp_path / "sla.yaml"
    policy.write_text(short_policy_yaml(T0.date()))
    holder = policies(SlaSettings(policy_path=policy), NO_SESSIONS, ManualClock())
    return SlaHandler(holder, store, scorecards)
