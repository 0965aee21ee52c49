"""Database plumbing: the async engine, sessions, and the processed-event ledger.

Every service records the events it has applied in its own schema's
`processed_events` table, in the same transaction as the effects, so a replayed
event is recognised and changes nothing. An event is named by (type, source, id),
and each claim remembers the record that made it: reading that record again
re-emits its outputs, any other copy of the event emits nothing, so a replay
emits each output once per input.

What a batch's transaction applied is counted (metrics, logs of what was done) once it
commits (`once_committed`): the runner retries a batch and halves it around a bad record,
each attempt in a transaction of its own, and only one of them commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

import sqlalchemy.event
from sqlalchemy import TextClause, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import await_

from switchboard_events import Event
from switchboard_runtime.runner import Record
from switchboard_runtime.settings import ServiceSettings

EventT = TypeVar("EventT", bound=Event)


def make_engine(url: str, pool_size: int = 5, *, pre_ping: bool = True) -> AsyncEngine:
    """An engine whose connections are checked before use, so a restarted database heals.

    Without `pre_ping` a connection the database dropped fails its first statement
    instead; the engine then replaces every connection of the pool, and the caller
    retries (the batch runner does: a lost connection is transient).

    Bound parameters are left out of every error's text (and so of every log line and
    traceback): they carry phone numbers and email addresses.
    """
    engine = create_async_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )
    if pre_ping:
        sqlalchemy.event.listen(engine.sync_engine.pool, "checkout", _check_on_checkout)
    return engine


_CHECK = "SELECT 1"  # not an empty statement: asyncpg fails on a query without a status


def _check_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """SQLAlchemy's own pre-ping on asyncpg is three round trips (BEGIN, the ping,
    ROLLBACK); one simple query outside a transaction tells the same. A failure makes
    the pool discard the connection and check out another."""
    try:
        await_(dbapi_connection.driver_connection.execute(_CHECK))
    except Exception as exc:
        raise DisconnectionError(f"the database connection is gone: {exc}") from exc


def engine_from(settings: ServiceSettings) -> AsyncEngine:
    return make_engine(settings.database_url.get_secret_value(), settings.database_pool_size)


RUNNER_POOL_SIZE = 2
"""The runner holds one transaction at a time; the second covers a connection being replaced."""


def runner_engine_from(settings: ServiceSettings) -> AsyncEngine:
    """The batch runner's own engine, without the check before use.

    The check is a round trip per batch, as dear as a statement at a few records per
    batch. The runner retries a batch whose connection was lost, so it heals without it;
    the HTTP routes keep the checked engine, where a lost connection would fail a request.
    """
    return make_engine(settings.database_url.get_secret_value(), RUNNER_POOL_SIZE, pre_ping=False)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def once_committed(session: AsyncSession, applied: Callable[[], None]) -> None:
    """Call `applied` once `session`'s transaction commits, and never if it rolls back.

    The transaction is the outermost one, in progress or the next to begin: a savepoint
    released inside it does not call `applied`, and a later transaction of the same
    session after a rollback does not either. `applied` runs after the commit (the data
    is durable) and at most once, so what a batch counts is counted once however often
    it is tried, and a replay (which applies nothing) counts nothing.
    """
    pending = True

    def committed(sync: Session) -> None:
        nonlocal pending
        # A savepoint's release fires `after_commit` too, inside the outermost transaction.
        if pending and sync.get_nested_transaction() is None:
            pending = False
            applied()

    def ended(_sync: Session, transaction: SessionTransaction) -> None:
        nonlocal pending
        if transaction.parent is None:  # committed (`committed` ran first) or rolled back
            pending = False

    sqlalchemy.event.listen(session.sync_session, "after_commit", committed)
    sqlalchemy.event.listen(session.sync_session, "after_transaction_end", ended)


class EventKey(NamedTuple):
    """What names one event in a ledger: its type, its source and its id (a tuple, as the
    claim is).

    CloudEvents makes ids unique per source only, so two sources (two connectors, two
    agent desktops) may use the same id for different events; the type keeps an inbound
    contact and a lifecycle event with the same source and id apart as well.
    """

    type: str
    source: str
    id: str

    @classmethod
    def of(cls, event: Event) -> EventKey:
        return cls(event.type, event.source, event.id)


class Claim(NamedTuple):
    """A record's claim on an event key, made from the record at topic/partition/offset (a
    tuple: one per record, and a frozen dataclass costs half a microsecond more).

    `legacy_id` is the text the ledger held for this event before it stored keys (the
    event id unless the service claimed something else); rows from then still count.
    """

    key: EventKey
    topic: str
    partition: int
    offset: int
    legacy_id: str = ""

    @classmethod
    def of(cls, record: Record[EventT], key: EventKey | None = None, legacy_id: str = "") -> Claim:
        key = key or EventKey.of(record.event)
        return cls(key, record.topic, record.partition, record.offset, legacy_id)


class Delivery(Enum):
    """What a record is to the ledger; only NEW records apply effects."""

    NEW = "new"
    """First claim of the key: apply its effects and emit its outputs."""
    REDELIVERED = "redelivered"
    """The record that claimed the key, read again (a crash before the offset commit, a
    replay from an earlier offset): re-emit its stored outputs, apply nothing."""
    COPY = "copy"
    """Another record of an event already claimed (a producer retry, an upstream replay,
    a repeat in the batch): its outputs were emitted for the claiming record; do nothing."""


# Legacy rows (claimed before the ledger stored keys) have no position: their record
# is taken to be the claiming one, so it re-emits as it did before.
_UNKNOWN_POSITION = (None, None, None)

LEDGER_UPGRADE = (
    "ALTER TABLE {schema}.processed_events"
    " ADD COLUMN event_type text NOT NULL DEFAULT '', ADD COLUMN source text NOT NULL DEFAULT '',"
    " ADD COLUMN topic text, ADD COLUMN kafka_partition integer, ADD COLUMN kafka_offset bigint",
    "ALTER TABLE {schema}.processed_events DROP CONSTRAINT processed_events_pkey,"
    " ADD PRIMARY KEY (event_type, source, event_id),"
    " ALTER COLUMN event_type DROP DEFAULT, ALTER COLUMN source DROP DEFAULT",
)
"""The ledger keyed by (type, source, id) and recording the claiming record's position.
The rows already there become legacy rows (`event_type` and `source` ''), which match
on `event_id` alone whatever the type and source; delete them once no record older
than the upgrade can be read again."""

LEDGER_DOWNGRADE = (
    "DELETE FROM {schema}.processed_events p USING {schema}.processed_events q"
    " WHERE p.event_id = q.event_id AND (p.event_type, p.source) > (q.event_type, q.source)",
    "ALTER TABLE {schema}.processed_events DROP CONSTRAINT processed_events_pkey,"
    " DROP COLUMN event_type, DROP COLUMN source, DROP COLUMN topic,"
    " DROP COLUMN kafka_partition, DROP COLUMN kafka_offset, ADD PRIMARY KEY (event_id)",
)
"""Back to ids alone; claims that differ only in type or source collapse into one."""


@lru_cache(maxsize=8)
def _claim_statement(schema: str) -> TextClause:
    """The claim's statement for `schema`, built once: building a `text()` parses it."""
    return text(
        f"""
        WITH c AS (
            SELECT * FROM unnest(CAST(:types AS text[]), CAST(:sources AS text[]),
                CAST(:ids AS text[]), CAST(:legacy AS text[]), CAST(:topics AS text[]),
                CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]))
                WITH ORDINALITY AS c(t, s, i, l, topic, part, off, n)
        ), seen AS (
            SELECT c.n, p.topic, p.kafka_partition AS part, p.kafka_offset AS off
            FROM c JOIN {schema}.processed_events p
                ON (p.event_type, p.source, p.event_id) = (c.t, c.s, c.i)
            UNION ALL
            SELECT c.n, NULL, NULL, NULL
            FROM c JOIN {schema}.processed_events p
                ON (p.event_type, p.source, p.event_id) = ('', '', c.l)
        ), ins AS (
            INSERT INTO {schema}.processed_events
                (event_type, source, event_id, topic, kafka_partition, kafka_offset)
            SELECT DISTINCT ON (t, s, i) t, s, i, topic, part, off FROM c
            WHERE n NOT IN (SELECT n FROM seen) ORDER BY t, s, i, n
            ON CONFLICT DO NOTHING
            RETURNING topic, kafka_partition AS part, kafka_offset AS off
        )
        SELECT true AS new, NULL AS n, topic, part, off FROM ins
        UNION ALL
        SELECT false, n, topic, part, off FROM seen
        """
    )


async def claim_events(
    session: AsyncSession, schema: str, claims: Sequence[Claim]
) -> list[Delivery]:
    """Record the claims' keys as processed; return what each claim is, in order.

    One round trip for the whole batch. The claim commits or rolls back with the batch's
    other effects, so a key is claimed exactly when its effects exist. A key claimed by a
    concurrent transaction is a COPY here: that transaction emits its outputs.
    """
    if not claims:
        return []
    result = await session.execute(
        _claim_statement(schema),
        {
            "types": [c.key.type for c in claims],
            "sources": [c.key.source for c in claims],
            "ids": [c.key.id for c in claims],
            "legacy": [c.legacy_id or c.key.id for c in claims],
            "topics": [c.topic for c in claims],
            "partitions": [c.partition for c in claims],
            "offsets": [c.offset for c in claims],
        },
    )
    inserted: set[tuple[str | None, int | None, int | None]] = set()
    earlier: dict[int, tuple[str | None, int | None, int | None]] = {}
    for row in result:
        if row.new:
            inserted.add((row.topic, row.part, row.off))
        else:
            earlier[row.n - 1] = (row.topic, row.part, row.off)
    deliveries = []
    for n, claim in enumerate(claims):
        position = (claim.topic, claim.partition, claim.offset)
        if position in inserted:
            deliveries.append(Delivery.NEW)
        elif earlier.get(n) in (position, _UNKNOWN_POSITION):
            deliveries.append(Delivery.REDELIVERED)
        else:
            deliveries.append(Delivery.COPY)
    return deliveries


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
