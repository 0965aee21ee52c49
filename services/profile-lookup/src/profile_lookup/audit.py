"""The audit trail's two faces: the publisher of audit.events and `GET /admin/audit`.

Publishing is an outbox: every record is inserted with an outbox row in the
transaction of the action it describes (see `customers.py`), so once the action has
committed its record cannot be lost. The publisher, a host task, claims the oldest
unpublished records (locked, skipped by other instances), sends them, waits for the
broker's acks and only then deletes their outbox rows, in the same transaction. A
crash between the acks and that commit publishes them again with the same event ids
(derived from the record ids): consumers de-duplicate, so the effect is exactly once.
The CLI writes records too; whichever instance of the service runs next publishes them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup import metrics
from profile_lookup.api import MessageRoute
from profile_lookup.audit_repository import AuditFilter, PostgresAudit
from switchboard_runtime.audit import AuditRecord
from switchboard_runtime.auth import Scope, require
from switchboard_runtime.clock import Clock, sleep_unless
from switchboard_runtime.pagination import PageRequest, page_of, pagination
from switchboard_runtime.retry import is_transient
from switchboard_runtime.runner import Output

log = logging.getLogger(__name__)

PUBLISH_BATCH = 500


class AuditPublisher:
    """Publishes the outbox's records on `topic`, oldest first, `PUBLISH_BATCH` at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        *,
        topic: str,
        source: str,
        clock: Clock,
        poll_s: float,
    ) -> None:
        self._sessions = sessions
        self._producer = producer
        self._topic = topic
        self._source = source
        self._clock = clock
        self._poll_s = poll_s

    async def publish_pending(self) -> int:
        """One round: publish up to a batch of unpublished records; how many were taken
        from the outbox (published, or refused by the contract and reported)."""
        async with self._sessions() as session, session.begin():
            store = PostgresAudit(session)
            records = await store.claim_unpublished(PUBLISH_BATCH)
            if not records:
                return 0
            now = self._clock.now()
            outputs = [o for o in (self._output(record, now) for record in records) if o]
            sent = [
                await self._producer.send(o.topic, o.value, key=o.key, headers=list(o.headers))
                for o in outputs
            ]
            await asyncio.gather(*sent)
            await store.mark_published([r.audit_id for r in records])
        metrics.AUDIT_PUBLISHED.inc(len(outputs))
        return len(records)

    def _output(self, record: AuditRecord, now: datetime) -> Output | None:
        try:
            event = record.event(self._source, now)
        except ValidationError as exc:
            # A record the contract cannot carry (written past the API's checks) must not
            # stop the trail behind it: it stays in the table, and is reported here.
            metrics.AUDIT_UNPUBLISHABLE.inc()
            log.error(
                "audit record not publishable",
                extra={"audit_id": record.audit_id, "errors": exc.error_count()},
            )
            return None
        return Output.of(self._topic, event, key=event.partition_key().encode())

    async def run(self, stop: asyncio.Event) -> None:
        """The host task: publish until the outbox is empty, then look again every `poll_s`."""
        while not stop.is_set():
            try:
                published = await self.publish_pending()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                # The records stay in the outbox: the next round sends them.
                log.warning("audit events not published yet", extra={"error": str(exc)})
                published = 0
            if published < PUBLISH_BATCH:
                await sleep_unless(self._clock, self._poll_s, stop)


class AuditPage(BaseModel):
    records: list[AuditRecord] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="The next page's `cursor`; null: last.")


def make_audit_router(sessions: async_sessionmaker[AsyncSession]) -> APIRouter:
    router = APIRouter(tags=["audit"], route_class=MessageRoute)

    @router.get("/admin/audit", dependencies=[require(Scope.AUDIT_READ)])
    async def audit_records(
        page: Annotated[PageRequest, Depends(pagination())],
        customer_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        actor: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        since: Annotated[AwareDatetime | None, Query(description="At or after.")] = None,
        until: Annotated[AwareDatetime | None, Query(description="Before.")] = None,
    ) -> AuditPage:
        """Who read or changed which customers, when, and how it ended, newest first."""
        where = AuditFilter(customer_id, actor, since, until, page.key(int))
        async with sessions() as session:
            rows = await PostgresAudit(session).records(where, page.limit + 1)
        records, cursor = page_of(rows, page.limit, lambda r: [r.audit_id])
        return AuditPage(records=records, next_cursor=cursor)

    return router
