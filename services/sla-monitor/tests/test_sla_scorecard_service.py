"""The handler writes the scorecard with the clocks: decisions' facts, outcomes, CSAT; a
survey before the decision is kept, a replay changes nothing, the newest decision wins."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sla_fakes import FakeClockStore, fake_handler, no_session
from sla_scorecard_fakes import FakeScorecardStore
from sla_support import records

from sla_monitor.domain.scorecard import Outcome
from sla_monitor.service import SlaHandler
from switchboard_events.testing import T0, decided, lifecycle


@pytest.fixture
def scorecards() -> FakeScorecardStore:
    return FakeScorecardStore()


@pytest.fixture
def handler(tmp_path: Path, scorecards: FakeScorecardStore) -> SlaHandler:
    return fake_handler(tmp_path, FakeClockStore(), scorecards)


async def test_a_contact_is_scored_from_its_decision_steps_and_survey(
    handler: SlaHandler, scorecards: FakeScorecardStore
) -> None:
    survey = lifecycle("c", "csat_recorded", T0 + timedelta(seconds=9), csat_score=2)
    await handler(records([survey]), no_session())  # before the decision: kept
    assert scorecards.cards["c"].csat is not None
    batch = records(
        [
            decided(
                "c",
                queue_id="vendor",
                queue_kind="outsourced",
                contact_type="billing",
                customer_key="anon-1",
                cost_per_contact=3.5,
            ),
            lifecycle("c", "first_response", T0 + timedelta(seconds=1)),
            lifecycle("c", "resolved", T0 + timedelta(seconds=8)),
            lifecycle("c", "csat_recorded", T0 + timedelta(seconds=10), csat_score=5),
        ]
    )
    await handler(batch, no_session())
    card = scorecards.cards["c"]
    assert card.decision is not None
    assert card.decision.queue.vendor == "acme-bpo"
    assert card.facts is not None
    assert (card.facts.cost, card.facts.customer_key, card.facts.contact_type) == (
        3.5,
        "anon-1",
        "billing",
    )
    assert card.outcomes is not None
    assert (card.outcomes.first_response_s, card.outcomes.first_response) == (1.0, Outcome.MET)
    assert card.outcomes.resolution_s == 8.0
    assert card.csat is not None
    assert card.csat.score == 5

    await handler(batch, no_session())
    assert scorecards.cards["c"] == card, "a redelivered batch changes nothing"


async def test_a_newer_decision_moves_the_contact_and_its_cost(
    handler: SlaHandler, scorecards: FakeScorecardStore
) -> None:
    first = decided("c", cost_per_contact=6.0)
    moved = decided(
        "c",
        inbound_event_id="again",
        decided_at=T0 + timedelta(seconds=5),
        queue_id="vendor",
        queue_kind="outsourced",
        cost_per_contact=2.0,
    )
    await handler(records([moved, first]), no_session())
    card = scorecards.cards["c"]
    assert card.decision is not None
    assert card.decision.queue.id == "vendor"
    assert card.facts is not None
    assert card.facts.cost == 2.0
    await handler(
        records([decided("c", inbound_event_id="old", cost_per_contact=9.0)], first=5), no_session()
    )
    assert scorecards.cards["c"].facts == card.facts, "an older decision arriving late loses"
