"""Upgrading the ledger (migration 0003) keeps what the router claimed before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from router_fixtures import EmptyDatabase
from router_stack import RouterSetup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard_events import DECISIONS_DECODER, Event, decision_id
from switchboard_events.testing import enriched, lifecycle
from switchboard_runtime import db
from switchboard_runtime.runner import Output, Record

pytestmark = pytest.mark.integration

OLD_DECISION = decision_id("in-old")
STORED = '{"stored": "before the upgrade", "data": {"queue_id": "general"}}'


@pytest.fixture
async def upgraded(
    empty_database: EmptyDatabase,
) -> async_sessionmaker[AsyncSession]:
    """A database with what the router stored before 0003, then upgraded to the head."""
    await empty_database.upgrade_over(
        "0002",
        (
            "INSERT INTO routing.processed_events (event_id)"
            " VALUES (:decision), ('lifecycle:desktop/agent:life-old-resolved')",
            {"decision": OLD_DECISION},
        ),
        (
            "INSERT INTO routing.decisions"
            " (decision_id, contact_id, queue_id, policy_version, decided_at, event)"
            " VALUES (:decision, 'old', 'general', 'v0', :at, :event)",
            {"decision": OLD_DECISION, "at": datetime(2026, 11, 30, tzinfo=UTC), "event": STORED},
        ),
    )
    return db.make_sessionmaker(empty_database.engine)


async def test_events_claimed_before_the_upgrade_are_still_replays(
    setup: RouterSetup, upgraded: async_sessionmaker[AsyncSession]
) -> None:
    router = setup.router()
    chat = enriched("new", channel="chat", inbound_event_id="in-old")
    events: list[Event] = [
        enriched("old"),  # produced before enriched events named their inbound source
        lifecycle("old", "resolved", event_id="life-old-resolved", source="desktop/agent"),
        chat.model_copy(
            update={"data": chat.data.model_copy(update={"inbound_source": "connector/chat"})}
        ),
    ]
    batch = [Record("t", 0, n, None, 0, e) for n, e in enumerate(events)]
    async with upgraded() as session, session.begin():
        outputs: list[Output] = list(await router.handle(batch, session))  # type: ignore[arg-type]
        contacts: dict[str, str] = dict(
            (await session.execute(text("SELECT contact_id, status FROM routing.contacts"))).all()
        )
    assert outputs[0].value == STORED.encode(), "re-emitted, not decided again"
    assert len(outputs) == 2
    new = DECISIONS_DECODER.decode(outputs[1].value)
    assert new.id == decision_id("in-old", "connector/chat"), "a new contact, decided"
    assert contacts == {"new": "open"}, "the old resolution is not applied twice"
