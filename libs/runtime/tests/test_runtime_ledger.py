"""The processed-event ledger on the real database: keys, positions, legacy rows; and what
runs once a batch's transaction commits (`once_committed`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import echo_service
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard_runtime import db
from switchboard_runtime.db import Claim, Delivery, EventKey, claim_events, once_committed

pytestmark = pytest.mark.integration

RECEIVED = "switchboard.contact.received.v1"
LIFECYCLE = "switchboard.contact.lifecycle.v1"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.make_engine(database_url)
    await echo_service.create_schema(engine)
    yield db.make_sessionmaker(engine)
    await engine.dispose()


async def claim(sessions: async_sessionmaker[AsyncSession], *claims: Claim) -> list[Delivery]:
    async with sessions() as session, session.begin():
        return await claim_events(session, echo_service.SCHEMA, claims)


def at(key: EventKey, offset: int, topic: str = "in") -> Claim:
    return Claim(key, topic, 0, offset)


async def test_one_id_from_two_sources_or_of_two_types_names_different_events(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    telephony = EventKey(RECEIVED, "connector/telephony", "evt-0001")
    chat = EventKey(RECEIVED, "connector/chat", "evt-0001")
    step = EventKey(LIFECYCLE, "connector/chat", "evt-0001")
    assert await claim(sessions, at(telephony, 0)) == [Delivery.NEW]
    assert await claim(sessions, at(chat, 1), at(step, 0, "lifecycle")) == [Delivery.NEW] * 2
    assert await claim(sessions, at(telephony, 0), at(chat, 1)) == [Delivery.REDELIVERED] * 2


async def test_only_the_claiming_record_is_redelivered_other_copies_are_copies(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = EventKey(RECEIVED, "connector/chat", "evt-1")
    other = EventKey(RECEIVED, "connector/chat", "evt-2")
    # A repeat inside the batch is a copy of the first.
    assert await claim(sessions, at(key, 5), at(key, 6), at(other, 7)) == [
        Delivery.NEW,
        Delivery.COPY,
        Delivery.NEW,
    ]
    assert await claim(sessions, at(key, 6), at(key, 5), at(key, 5, "elsewhere")) == [
        Delivery.COPY,
        Delivery.REDELIVERED,
        Delivery.COPY,
    ]
    async with sessions() as session:
        rows = await session.scalar(text("SELECT count(*) FROM echo.processed_events"))
    assert rows == 2


async def test_a_claim_rolled_back_with_its_batch_is_new_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = EventKey(LIFECYCLE, "desktop/a", "lc-1")
    async with sessions() as session, session.begin():
        assert await claim_events(session, echo_service.SCHEMA, [at(key, 0)]) == [Delivery.NEW]
        await session.rollback()
    assert await claim(sessions, at(key, 3)) == [Delivery.NEW]


async def test_legacy_rows_match_their_id_whatever_the_type_and_source(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO echo.processed_events (event_type, source, event_id)"
                " VALUES ('', '', 'old-1'), ('', '', 'lifecycle:desktop/a:old-2')"
            )
        )
    old = EventKey(RECEIVED, "connector/chat", "old-1")
    step = EventKey(LIFECYCLE, "desktop/a", "old-2")
    claims = [at(old, 9), Claim(step, "in", 0, 10, legacy_id="lifecycle:desktop/a:old-2")]
    # Claimed before positions were recorded: taken for the claiming record, re-emitted.
    assert await claim(sessions, *claims) == [Delivery.REDELIVERED] * 2
    # The legacy row is found by the id the service claimed then, not by the bare id.
    assert await claim(sessions, at(EventKey(LIFECYCLE, "desktop/a", "old-2"), 11)) == [
        Delivery.NEW
    ]


async def test_once_committed_runs_after_a_commit_only_and_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    calls: list[str] = []
    rolled_back = EventKey(RECEIVED, "connector/chat", "evt-rolled-back")
    committed = EventKey(RECEIVED, "connector/chat", "evt-committed")
    async with sessions() as session:
        async with session.begin():
            await claim_events(session, echo_service.SCHEMA, [at(rolled_back, 0)])
            once_committed(session, lambda: calls.append("rolled back"))
            await session.rollback()
        async with session.begin():  # the same session's next transaction is another one
            await session.execute(text("SELECT 1"))
    assert calls == [], "a transaction rolled back calls nothing, nor does a later commit"
    assert await claim(sessions, at(rolled_back, 0)) == [Delivery.NEW]

    async with sessions() as session:
        async with session.begin():
            once_committed(session, lambda: calls.append("committed"))
            async with session.begin_nested():
                await claim_events(session, echo_service.SCHEMA, [at(committed, 1)])
            assert calls == [], "a savepoint released is not the commit"
        assert calls == ["committed"]
        async with session.begin():
            await session.execute(text("SELECT 1"))
    assert calls == ["committed"], "called once, not again for the session's next commit"
    assert await claim(sessions, at(committed, 1)) == [Delivery.REDELIVERED]
