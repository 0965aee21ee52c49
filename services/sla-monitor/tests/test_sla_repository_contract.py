"""The clock store's contract, run against the fake (sla_fakes) and PostgreSQL alike: what
the handler and the re-plan rely on, so the service tests on the fake hold for the real
store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sla_fakes import FakeClockStore, alert_key
from sla_support import policy_of, records, short_policy_yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.domain.clock import PendingAlert, fold
from sla_monitor.repository.consumer import ClockStore, PgClockStore
from sla_monitor.repository.rows import DecisionRow, StepRow
from sla_monitor.service import decision_of
from switchboard_events.testing import T0, decided
from switchboard_runtime.db import Claim, Delivery

POLICY = policy_of(short_policy_yaml(T0.date()))


class Backend:
    """A store, and a way to record an alert as fired (the scheduler's table)."""

    def __init__(
        self, store: ClockStore, mark_fired: Callable[[PendingAlert], Awaitable[None]]
    ) -> None:
        self.store = store
        self.mark_fired = mark_fired


@pytest.fixture
def backend(store_session: AsyncSession | None) -> Backend:
    if store_session is None:
        fake = FakeClockStore()

        async def fired_in_fake(p: PendingAlert) -> None:
            fake.fired.add(alert_key(p))

        return Backend(fake, fired_in_fake)

    async def fired_in_table(p: PendingAlert) -> None:
        await mark_in(store_session, p)

    return Backend(PgClockStore(store_session), fired_in_table)


async def mark_in(session: AsyncSession, p: PendingAlert) -> None:
    await session.execute(
        text(
            "INSERT INTO sla.alerts (contact_id, target, kind, cycle, level, alert_id, queue_id,"
            " channel, due_at, fired_at, payload, team) VALUES (:c, :t, :k, :cy, :l, :id,"
            " 'general', 'call', :at, :at, '', :team)"
        ),
        {
            "c": p.contact_id,
            "t": p.target.value,
            "k": p.kind.value,
            "cy": p.cycle,
            "l": p.level,
            "id": f"fired-{p.contact_id}-{p.kind.value}-{p.team}",
            "at": T0,
            "team": p.team or "",
        },
    )


def row(contact: str, decided_at: datetime = T0, queue: str = "general") -> DecisionRow:
    event = decided(contact, arrived_at=T0, decided_at=decided_at, queue_id=queue)
    return decision_of(event)


def steprow(contact: str, kind: str, seconds: float, n: int = 0) -> StepRow:
    return StepRow(f"{contact}-{kind}-{n}", contact, kind, T0 + timedelta(seconds=seconds), None)


async def test_an_event_is_new_once_then_a_redelivery_or_a_copy(backend: Backend) -> None:
    first, again = records([decided("a"), decided("a")])
    claims = [Claim.of(first), Claim.of(again)]
    assert await backend.store.claim(claims) == [Delivery.NEW, Delivery.COPY]
    assert await backend.store.claim([Claim.of(first)]) == [Delivery.REDELIVERED]


async def test_the_newest_decision_wins_and_contacts_without_one_are_left_out(
    backend: Backend,
) -> None:
    store = backend.store
    found = await store.upsert_contacts(["early"], [row("a")])
    assert set(found) == {"a"}, "a contact with only steps so far has no decision"
    newer = row("a", T0 + timedelta(seconds=5), queue="vendor")
    found = await store.upsert_contacts([], [newer])
    assert found["a"].queue.id == "vendor"
    found = await store.upsert_contacts(["a"], [row("a", T0 + timedelta(seconds=1))])
    assert found["a"].queue.id == "vendor", "an older decision read late changes nothing"


async def test_the_decision_s_contract_is_kept_for_planning_and_re_planning(
    backend: Backend,
) -> None:
    store = backend.store
    found = await store.upsert_contacts([], [decision_of(decided("a", contract_id="gold"))])
    assert found["a"].contract_id == "gold"
    await store.upsert_contacts(["b"], [row("b")])
    stale = await store.lock_stale_open("other", 10)
    assert [(d.contact_id, d.contract_id) for d in stale] == [("a", "gold"), ("b", None)]


async def test_steps_come_back_with_the_older_ones_in_order(backend: Backend) -> None:
    store = backend.store
    await store.upsert_contacts(["a", "b"], [])
    await store.insert_steps([steprow("a", "assigned", 1)], [])
    found = await store.insert_steps(
        [steprow("a", "first_response", 2), steprow("b", "assigned", 3)], ["a"]
    )
    assert list(found) == ["a"], "only the contacts asked for"
    assert [(s.kind.value, s.at - T0.timestamp()) for s in found["a"]] == [
        ("assigned", 1.0),
        ("first_response", 2.0),
    ]
    assert [s.seq for s in found["a"]] == sorted(s.seq for s in found["a"])
    assert set(await store.load_steps(["a", "b"])) == {"a", "b"}


async def test_timers_are_replaced_except_alerts_already_fired(backend: Backend) -> None:
    store = backend.store
    decisions = await store.upsert_contacts([], [row("a")])
    pending = fold(decisions["a"], [], POLICY).pending_alerts()
    first_response = [p for p in pending if p.target.value == "first_response"]
    assert len(first_response) == 3, "warning, breach, escalation"
    assert await store.replace_due_alerts(["a"], pending, {"a": 2}) == len(pending)
    assert await store.timer_partitions(["a", "b"]) == {"a": 2}
    await backend.mark_fired(first_response[0])
    scheduled = await store.replace_due_alerts(["a"], pending, {"a": 2})
    assert scheduled == len(pending) - 1, "the warning fired already"
    assert await store.replace_due_alerts(["a"], [], {}) == 0
    assert await store.timer_partitions(["a"]) == {}, "cancelled"


async def test_an_olas_alerts_are_their_own_keys(backend: Backend) -> None:
    store = backend.store
    decisions = await store.upsert_contacts([], [row("a")])
    sla = [p for p in fold(decisions["a"], [], POLICY).pending_alerts() if p.level == 1]
    ola = [replace(p, team="billing") for p in sla]
    await backend.mark_fired(sla[0])
    scheduled = await store.replace_due_alerts(["a"], [*sla, *ola], {"a": 0})
    assert scheduled == 2 * len(sla) - 1, "the SLA alert fired, not the team's with its key"
    await backend.mark_fired(ola[0])
    scheduled = await store.replace_due_alerts(["a"], [*sla, *ola], {"a": 0})
    assert scheduled == 2 * len(sla) - 2


async def test_open_contacts_planned_with_another_version_are_stale(backend: Backend) -> None:
    store = backend.store
    decisions = await store.upsert_contacts([], [row("b"), row("a"), row("c")])
    states = {cid: fold(d, [], POLICY) for cid, d in decisions.items()}
    await store.update_summaries([states["a"], states["b"]])
    assert [d.contact_id for d in await store.lock_stale_open(POLICY.version, 10)] == ["c"]
    assert [d.contact_id for d in await store.lock_stale_open("other", 2)] == ["a", "b"]
    resolved = fold(
        decisions["a"],
        (await store.insert_steps([steprow("a", "resolved", 1)], ["a"]))["a"],
        POLICY,
    )
    await store.update_summaries([resolved])
    assert [d.contact_id for d in await store.lock_stale_open("other", 10)] == ["b", "c"]
