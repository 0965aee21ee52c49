"""The repository contract: the in-memory fake and PostgreSQL behave alike.

Each test runs against both (`store` is parametrised); every call runs in its own
transaction, as the runner's batches do. Unit tests rely on the fake because of this."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta

import pytest
from router_fakes import FakeRoutingRepository
from router_support import MONDAY_10_LONDON
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from router.repository import (
    ContactChange,
    PostgresRoutingRepository,
    RoutingRepository,
    StoredDecision,
)
from switchboard_runtime import db
from switchboard_runtime.db import Claim, Delivery, EventKey

Transaction = Callable[[], AbstractAsyncContextManager[RoutingRepository]]
T = MONDAY_10_LONDON


@pytest.fixture
async def postgres(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.make_engine(database_url)
    yield db.make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(params=["fake", pytest.param("postgres", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> Transaction:
    """Opens a transaction on the repository under test."""
    if request.param == "fake":
        fake = FakeRoutingRepository(now=lambda: T)

        @asynccontextmanager
        async def in_memory() -> AsyncIterator[RoutingRepository]:
            yield fake

        return in_memory
    sessions: async_sessionmaker[AsyncSession] = request.getfixturevalue("postgres")

    @asynccontextmanager
    async def in_postgres() -> AsyncIterator[RoutingRepository]:
        async with sessions() as session, session.begin():
            yield PostgresRoutingRepository(session)

    return in_postgres


def claim(event_id: str, offset: int, source: str = "s", topic: str = "t") -> Claim:
    return Claim(EventKey("type", source, event_id), topic, 0, offset)


def decision(
    contact: str,
    queue: str = "general",
    *,
    channel: str = "call",
    at: datetime = T,
    n: int = 0,
    arrived: datetime | None = None,
) -> StoredDecision:
    """Decided `at`, arrived then too unless `arrived` says earlier."""
    ident = f"d-{contact}-{n}"
    event = f'{{"id": "{ident}"}}'
    return StoredDecision(ident, contact, queue, channel, "v1", at, event, arrived or at)


async def claimed(store: Transaction, claims: Sequence[Claim]) -> list[Delivery]:
    async with store() as repo:
        return await repo.claim(claims)


async def load(store: Transaction, since: datetime = T - timedelta(hours=1)) -> dict[str, int]:
    async with store() as repo:
        return {f"{q}:{c}": n for (q, c), n in (await repo.open_load(since)).items()}


async def write(
    store: Transaction,
    decisions: Sequence[StoredDecision] = (),
    changes: Sequence[ContactChange] = (),
) -> None:
    async with store() as repo:
        await repo.write_batch(decisions, changes)


async def test_a_first_claim_is_new_a_reread_redelivered_another_record_a_copy(
    store: Transaction,
) -> None:
    assert await claimed(store, [claim("a", 0), claim("b", 1), claim("a", 2)]) == [
        Delivery.NEW,
        Delivery.NEW,
        Delivery.COPY,
    ]
    assert await claimed(store, [claim("a", 0), claim("b", 5), claim("c", 6)]) == [
        Delivery.REDELIVERED,
        Delivery.COPY,
        Delivery.NEW,
    ]
    assert await claimed(store, []) == []


async def test_one_id_from_two_sources_is_two_events(store: Transaction) -> None:
    assert await claimed(store, [claim("a", 0, "s1"), claim("a", 1, "s2")]) == [
        Delivery.NEW,
        Delivery.NEW,
    ]


async def test_decisions_open_their_contacts_as_load(store: Transaction) -> None:
    await write(
        store,
        [
            decision("c1"),
            decision("c2", channel="chat"),
            decision("c3", "billing"),
            decision("old", at=T - timedelta(hours=2)),
        ],
    )
    assert await load(store) == {"general:call": 1, "general:chat": 1, "billing:call": 1}
    assert await load(store, since=T - timedelta(hours=3)) == {
        "general:call": 2,
        "general:chat": 1,
        "billing:call": 1,
    }


async def test_load_counts_exactly_the_contacts_opened_after_since(store: Transaction) -> None:
    """Within an hour as across hours: PostgreSQL counts the hours after `since` from
    counters and the hour `since` falls in from its rows."""
    minutes = (-130, -75, -50, -40, -10, 0, 20)
    await write(store, [decision(f"c{m}", at=T + timedelta(minutes=m)) for m in minutes])
    await write(store, changes=[ContactChange("c-10", None, "billing")])
    for since_minutes in (-140, -120, -60, -50, -45, -1, 0, 30):
        opened = [m for m in minutes if m > since_minutes]
        expected = Counter("billing:call" if m == -10 else "general:call" for m in opened)
        since = T + timedelta(minutes=since_minutes)
        assert await load(store, since) == dict(expected), f"since {since_minutes} minutes"


async def test_stored_decisions_are_returned_as_produced(store: Transaction) -> None:
    first = decision("c1")
    await write(store, [first])
    # The same decision id again (a lost race) keeps the first event.
    await write(store, [first._replace(event="another")])
    async with store() as repo:
        assert await repo.stored_decisions([first.decision_id, "nobody"]) == {
            first.decision_id: first.event
        }
        assert await repo.stored_decisions([]) == {}


async def test_lifecycle_closes_reopens_and_moves(store: Transaction) -> None:
    await write(store, [decision(f"c{i}") for i in range(4)])
    await write(
        store,
        changes=[
            ContactChange("c0", "resolved", None),
            ContactChange("c1", "abandoned", None),
            ContactChange("c2", None, "billing"),
        ],
    )
    assert await load(store) == {"general:call": 1, "billing:call": 1}
    await write(store, changes=[ContactChange("c0", "open", None)])
    assert await load(store) == {"general:call": 2, "billing:call": 1}


async def test_a_contact_closed_before_its_decision_stays_closed(store: Transaction) -> None:
    await write(store, changes=[ContactChange("early", "resolved", None)])
    await write(store, changes=[ContactChange("unknown", None, "billing")])  # nothing to move
    await write(store, [decision("early")])
    assert await load(store) == {}
    await write(store, changes=[ContactChange("early", "open", None)])
    assert await load(store) == {"general:call": 1}, "reopened, in its decision's queue"


async def test_a_contact_keeps_its_first_decision(store: Transaction) -> None:
    await write(store, [decision("c1", "general"), decision("c1", "billing", n=1)])
    await write(store, [decision("c1", "vip", n=2)])
    assert await load(store) == {"billing:call": 1}, "the batch's later decision wins, once"


async def test_recent_decisions_newest_first_up_to_the_limit(store: Transaction) -> None:
    await write(
        store,
        [decision("c1", at=T + timedelta(minutes=n), n=n) for n in range(3)] + [decision("c2")],
    )
    async with store() as repo:
        assert await repo.recent_decisions("c1", 2) == ['{"id": "d-c1-2"}', '{"id": "d-c1-1"}']
        assert await repo.recent_decisions("nobody", 5) == []


async def test_arrivals_count_every_contact_placed_since_open_or_closed(
    store: Transaction,
) -> None:
    await write(
        store,
        [
            decision("c1"),
            decision("c2", channel="chat"),
            decision("old", at=T - timedelta(hours=2)),
            # A backlog decided now: it arrived before the window, it is still open load.
            decision("backlog", arrived=T - timedelta(hours=2)),
        ],
    )
    await write(store, changes=[ContactChange("c1", "resolved", None)])
    async with store() as repo:
        arrivals = await repo.arrivals(T - timedelta(hours=1))
    assert arrivals == {("general", "call"): 1, ("general", "chat"): 1}
    assert await load(store) == {"general:call": 1, "general:chat": 1}


async def test_after_commit_has_run_once_when_the_transaction_has_committed(
    store: Transaction,
) -> None:
    calls: list[str] = []
    async with store() as repo:
        await repo.claim([claim("a", 0)])
        repo.after_commit(lambda: calls.append("applied"))
    assert calls == ["applied"]
