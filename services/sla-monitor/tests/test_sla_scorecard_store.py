"""The scorecard store's contract, on the fake (sla_scorecard_fakes) and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sla_scorecard_fakes import FakeScorecardStore
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sla_monitor.domain.clock import Decision, QueueRef
from sla_monitor.domain.scorecard import Outcome, Outcomes
from sla_monitor.repository.scorecard import (
    CsatScore,
    DecisionFacts,
    PgScorecardStore,
    ScorecardQuery,
    ScorecardRow,
    ScorecardStore,
)
from sla_monitor.repository.scorecard import (
    ScorecardUpdate as Update,
)
from switchboard_events import Channel, QueueKind
from switchboard_events.testing import T0

GENERAL = QueueRef("general", QueueKind.IN_HOUSE, None)
VENDOR = QueueRef("vendor", QueueKind.OUTSOURCED, "acme-bpo")
HOUR = 3600.0
EVERYTHING = (T0 - timedelta(days=30), T0 + timedelta(days=30))


@dataclass
class Backend:
    store: ScorecardStore
    breach: Callable[[str, str], Awaitable[None]]
    """Record a breach alert fired for a contact and team ('' for the SLA's; the
    scheduler's table)."""


@pytest.fixture
def backend(store_session: AsyncSession | None) -> Backend:
    if store_session is None:
        fake = FakeScorecardStore()

        async def breach_in_fake(contact: str, team: str) -> None:
            fake.breaches.add((contact, team))

        return Backend(fake, breach_in_fake)

    async def breach_in_table(contact: str, team: str) -> None:
        await store_session.execute(
            text(
                "INSERT INTO sla.alerts (contact_id, target, kind, cycle, level, alert_id,"
                " queue_id, channel, due_at, fired_at, payload, team) VALUES (:c,"
                " 'first_response', 'breach', 1, 1, :id, 'general', 'call', :at, :at, '', :team)"
            ),
            {"c": contact, "id": f"breach-{contact}-{team}", "at": T0, "team": team},
        )

    return Backend(PgScorecardStore(store_session), breach_in_table)


def contact(
    cid: str,
    after_s: float = 0,
    queue: QueueRef = GENERAL,
    channel: Channel = Channel.CALL,
    first_response_s: float | None = None,
    resolved_after_s: float | None = None,
    abandoned: bool = False,
) -> tuple[Decision, Outcomes]:
    arrived = T0.timestamp() + after_s
    resolved = None if resolved_after_s is None else arrived + resolved_after_s
    return (
        Decision(cid, queue, 100, "P3", channel, None, arrived),
        Outcomes(
            contact_id=cid,
            first_response_s=first_response_s,
            first_response=Outcome.PENDING if first_response_s is None else Outcome.MET,
            resolved_at=resolved,
            resolution_s=resolved_after_s,
            resolution=Outcome.PENDING if resolved is None else Outcome.MET,
            abandoned=abandoned,
        ),
    )


def facts(
    cid: str, cost: float | None = 5.0, key: str | None = None, kind: str = "billing", at: float = 0
) -> DecisionFacts:
    return DecisionFacts(cid, T0 + timedelta(seconds=at), kind, key, cost)


async def report(
    backend: Backend,
    group_by: tuple[str, ...] = ("queue",),
    now: datetime = T0 + timedelta(days=2),
    window: float = HOUR,
    limit: int = 100,
    offset: int = 0,
) -> list[ScorecardRow]:
    since, until = EVERYTHING
    return await backend.store.scorecard(
        ScorecardQuery(since, until, group_by, now, window, limit, offset)
    )


async def test_figures_per_queue_from_decisions_outcomes_scores_and_breaches(
    backend: Backend,
) -> None:
    store = backend.store
    await store.record(Update(scores=[CsatScore("a", 2, T0), CsatScore("a", 5, T0 + timedelta(1))]))
    await store.record(Update(scores=[CsatScore("a", 1, T0 + timedelta(seconds=1))]))  # older
    await store.record(Update(facts=[facts("a", 4.0), facts("b", 6.0), facts("v", 3.0)]))
    await store.record(Update(facts=[facts("b", 9.0, at=-1)]))  # an older decision: ignored
    await store.record(
        Update(
            scored=[
                contact("a", first_response_s=10, resolved_after_s=100),
                contact("b", first_response_s=20),
                contact("c", abandoned=True),  # decided before costs were recorded
                contact("v", queue=VENDOR, first_response_s=30, resolved_after_s=50),
            ]
        )
    )
    await backend.breach("b", "")
    await backend.breach("a", "tier2")  # an OLA's breach: the team's, not the SLA's
    general, vendor = await report(backend)
    assert general.group == {"queue": "general"}
    assert (general.contacts, general.costed, general.cost) == (3, 2, 10.0)
    assert general.cost_per_contact == 5.0
    assert (general.first_responses, general.first_response_avg_s) == (2, 15.0)
    assert general.first_response_p90_s == pytest.approx(19.0)
    assert (general.resolved, general.resolution_avg_s, general.resolution_p90_s) == (1, 100, 100)
    assert (general.csat_count, general.csat_avg) == (1, 5.0)
    assert (general.abandoned, general.breached) == (1, 1)
    assert general.abandonment == pytest.approx(1 / 3)
    assert general.sla_attainment == pytest.approx(2 / 3)
    assert (general.fcr_yes, general.fcr_no, general.fcr_pending) == (0, 0, 0), "no customer key"
    assert vendor.group == {"queue": "vendor"}
    assert (vendor.contacts, vendor.cost_per_contact, vendor.csat_avg) == (1, 3.0, None)


async def test_groups_by_kind_vendor_channel_and_day_in_order(backend: Backend) -> None:
    day = 86_400
    await backend.store.record(
        Update(
            scored=[
                contact("a"),
                contact("b", after_s=day, channel=Channel.CHAT),
                contact("c", after_s=day, queue=VENDOR),
                contact("d", after_s=day + 1, queue=VENDOR),
            ]
        )
    )
    rows = await report(backend, ("queue_kind", "vendor", "channel", "day"))
    groups = [
        (r.group["queue_kind"], r.group["vendor"], r.group["channel"], r.group["day"]) for r in rows
    ]
    assert groups == [
        ("in_house", "", "call", "2025-03-03"),
        ("in_house", "", "chat", "2025-03-04"),
        ("outsourced", "acme-bpo", "call", "2025-03-04"),
    ]
    assert [r.contacts for r in rows] == [1, 1, 2]
    page = await report(backend, ("queue_kind", "vendor", "channel", "day"), limit=1, offset=1)
    assert [r.group["channel"] for r in page] == ["chat"]
    (everyone,) = await report(backend, ())
    assert (everyone.group, everyone.contacts) == ({}, 4)
    since = T0 + timedelta(seconds=day)
    later = await backend.store.scorecard(
        ScorecardQuery(since, since + timedelta(seconds=1), ("queue",), T0, HOUR, 10)
    )
    assert [(r.group["queue"], r.contacts) for r in later] == [("general", 1), ("vendor", 1)]


async def test_first_contact_resolution_across_queues(backend: Backend) -> None:
    store = backend.store
    await store.record(
        Update(
            facts=[
                facts("first", key="k1"),
                facts(
                    "repeat", key="k1"
                ),  # the same customer and type, at a vendor, within the hour
                facts("other-type", key="k1", kind="sales"),
                facts("clean", key="k2"),
                facts("fresh", key="k3"),
            ]
        )
    )
    await store.record(
        Update(
            scored=[
                contact("first", resolved_after_s=60),
                contact("repeat", after_s=60 + HOUR, queue=VENDOR, resolved_after_s=10),
                contact("other-type", after_s=120, resolved_after_s=10),
                contact("clean", resolved_after_s=60),
                contact("fresh", after_s=86_400, resolved_after_s=60),
            ]
        )
    )
    now = T0 + timedelta(seconds=86_400 + 90)
    rows = {r.group["queue"]: r for r in await report(backend, now=now)}
    general, vendor = rows["general"], rows["vendor"]
    # first: repeated; other-type and clean: resolved for good; fresh: window still open
    assert (general.fcr_yes, general.fcr_no, general.fcr_pending) == (2, 1, 1)
    assert general.fcr_rate == pytest.approx(2 / 3)
    assert (vendor.fcr_yes, vendor.fcr_no, vendor.fcr_pending) == (1, 0, 0)
    shorter = {r.group["queue"]: r for r in await report(backend, now=now, window=HOUR - 1)}
    assert shorter["general"].fcr_no == 0, "the repeat came after a shorter window"


async def test_one_call_records_all_three_and_later_outcomes_keep_the_rest(
    backend: Backend,
) -> None:
    store = backend.store
    await store.record(
        Update(
            facts=[facts("a", 4.0, key="k1"), facts("a", 7.0, key="k1", at=1)],
            scored=[contact("a", first_response_s=3)],
            scores=[CsatScore("a", 4, T0), CsatScore("a", 2, T0 + timedelta(seconds=1))],
        )
    )
    await store.record(Update(scored=[contact("a", first_response_s=3, resolved_after_s=8)]))
    (row,) = await report(backend)
    assert (row.cost, row.csat_avg, row.resolved, row.fcr_yes) == (7.0, 2.0, 1, 1)
