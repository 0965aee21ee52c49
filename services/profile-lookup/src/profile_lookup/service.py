"""The use case: a batch of inbound and lifecycle events in, enriched contacts out.

In the batch's one transaction (the runner owns it):

1. claim every event by (type, source, id): a replayed event is recognised and changes
   nothing, and a copy of an event (not the record that claimed it) emits nothing;
2. apply the new lifecycle events (placeholders for contacts not recorded yet);
3. read the stored rows of the batch's contacts: a redelivered record re-emits the stored
   enriched event byte for byte, placeholders give the state early lifecycle events left;
4. identify every new sender with one query, compute every history with another;
5. record the new contacts together with their enriched events;
6. count what it applied once the transaction commits (`EnrichmentRepository.after_commit`),
   never for an attempt rolled back (the runner's retry, or its halving around a bad record).

Every step is one round trip for the whole batch. Output ids are derived from the
inbound event's source and id, and a replay re-emits the stored bytes, so downstream
sees the same record however often a contact is processed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from profile_lookup import metrics
from profile_lookup.config import ProfilesSettings
from profile_lookup.domain.history import (
    OPEN,
    HistoryRules,
    LifecycleStep,
    Prior,
    Recorded,
    fold,
    summarise,
)
from profile_lookup.domain.identify import LookupResult, Matches, SenderKeys, Verdict, identify
from profile_lookup.domain.normalise import (
    Normaliser,
    PhoneResult,
    Withheld,
    known_region,
    region_of,
)
from profile_lookup.enrichment_repository import (
    EnrichmentRepository,
    Found,
    NewContact,
    PostgresEnrichment,
    StoredContact,
)
from switchboard_events import (
    Channel,
    ContactEnriched,
    ContactLifecycle,
    ContactReceived,
    CustomerProfile,
    Event,
    HistorySummary,
    IdentificationStatus,
    derive_id,
)
from switchboard_runtime.db import Claim, Delivery
from switchboard_runtime.runner import Output, Record

log = logging.getLogger(__name__)
_LOOKUPS = {result: metrics.LOOKUPS.labels(result.value) for result in LookupResult}

SOURCE = "switchboard/profile-lookup"
_ENRICHED_TYPE = ContactEnriched.event_type()
_NO_HISTORY = HistorySummary()
ENRICHED_NAMESPACE = "contact.enriched"


def enriched_id(inbound_source: str, inbound_event_id: str) -> str:
    """The id of the enriched event made from the contact.received event `inbound_event_id`
    of `inbound_source`. (Contacts enriched before the source was part of it keep their
    ids: a replay re-emits the stored event.)"""
    return derive_id(ENRICHED_NAMESPACE, inbound_source, inbound_event_id)


@dataclass
class _Counts:
    """What one batch applied, counted once its transaction commits."""

    lookups: Counter[LookupResult] = field(default_factory=Counter)
    conflicts: int = 0
    writes: Counter[str] = field(default_factory=Counter)
    """History rows written, by kind (lifecycle, contact)."""
    replays: int = 0

    def count(self) -> None:
        for result, n in self.lookups.items():
            _LOOKUPS[result].inc(n)
        metrics.CONFLICTS.inc(self.conflicts)
        for kind, n in self.writes.items():
            metrics.HISTORY_WRITES.labels(kind).inc(n)
        metrics.REPLAYS.inc(self.replays)


@dataclass
class Enricher:
    """Handles batches for the runner; one per process (it holds the normalisation cache)."""

    enriched_topic: str
    default_region: str = "GB"
    region_attribute: str = "country"
    default_tier: str = "standard"
    rules: HistoryRules = field(default_factory=HistoryRules)
    normaliser: Normaliser = field(default_factory=lambda: Normaliser(100_000))

    @classmethod
    def from_settings(cls, settings: ProfilesSettings) -> Enricher:
        return cls(
            enriched_topic=settings.enriched_topic,
            default_region=settings.default_region,
            region_attribute=settings.region_attribute,
            default_tier=settings.tiers[0],
            rules=HistoryRules(
                repeat_window=timedelta(hours=settings.repeat_window_hours),
                repeat_same_type=settings.repeat_same_type,
                lookback=timedelta(days=settings.history_lookback_days),
            ),
            normaliser=Normaliser(settings.normalise_cache_size),
        )

    async def __call__(self, batch: Sequence[Record[Event]], session: AsyncSession) -> list[Output]:
        """The runner's handler: the batch in the runner's transaction on `session`."""
        return await self.handle(batch, PostgresEnrichment(session))

    async def handle(
        self, batch: Sequence[Record[Event]], repo: EnrichmentRepository
    ) -> list[Output]:
        started = time.perf_counter()
        counts = _Counts()
        deliveries = await repo.claim([Claim.of(r) for r in batch])
        inbound: list[tuple[ContactReceived, Delivery]] = []
        steps = []
        for record, delivery in zip(batch, deliveries, strict=True):
            event = record.event
            if isinstance(event, ContactReceived):
                inbound.append((event, delivery))
            elif isinstance(event, ContactLifecycle) and delivery == Delivery.NEW:
                data = event.data
                steps.append(LifecycleStep(data.contact_id, data.kind, event.time, data.csat_score))

        changes = fold(steps)
        if changes:
            await repo.apply_lifecycle(changes)
            counts.writes["lifecycle"] += len(changes)

        outputs = await self._contacts(repo, inbound, counts)
        repo.after_commit(counts.count)
        metrics.BATCH_EVENTS.observe(len(batch))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        return outputs

    async def _contacts(
        self,
        repo: EnrichmentRepository,
        inbound: Sequence[tuple[ContactReceived, Delivery]],
        counts: _Counts,
    ) -> list[Output]:
        """Outputs for the new and the redelivered inbound records; copies emit nothing."""
        inbound = [(e, d) for e, d in inbound if d != Delivery.COPY]
        if not inbound:
            return []
        fresh: dict[str, ContactReceived] = {}  # contact id -> its first new event
        for event, delivery in inbound:
            if delivery == Delivery.NEW:
                fresh.setdefault(event.contact_id, event)
        redelivered = [e.id for e, d in inbound if d == Delivery.REDELIVERED]
        stored = await repo.stored_contacts(redelivered, list(fresh))
        by_event = {s.inbound_key: s for s in stored if s.inbound_event_id}
        by_contact = {s.contact_id: s for s in stored}
        todo = [
            e
            for e in fresh.values()
            if e.contact_id not in by_contact or by_contact[e.contact_id].inbound_event_id is None
        ]
        produced = await self._enrich(repo, todo, by_contact, counts)

        outputs = []
        for event, _ in inbound:
            out = produced.get(event.contact_id)
            if out is None:
                row = (
                    by_event.get((event.source, event.id))
                    or by_event.get((None, event.id))
                    or by_contact.get(event.contact_id)
                )
                if row is None or row.enriched is None:
                    # Erased since: its personal data must not come back on a replay.
                    log.info(
                        "replayed contact has no stored output (erased); nothing re-emitted",
                        extra={"event_id": event.id, "contact_id": event.contact_id},
                    )
                    continue
                counts.replays += 1
                out = Output.of(self.enriched_topic, row.enriched, key=row.enriched_key)
            outputs.append(out)
        return outputs

    async def _enrich(
        self,
        repo: EnrichmentRepository,
        events: Sequence[ContactReceived],
        stored: dict[str, StoredContact],
        counts: _Counts,
    ) -> dict[str, Output]:
        if not events:
            return {}
        looked_up = time.perf_counter()
        hits_before = self.normaliser.cache_counts()
        keys = [self.sender_keys(e) for e in events]
        lookups = [k.lookups() for k in keys]  # once per contact: the query and the matches
        found = await repo.find_customers(
            [pair for pairs in lookups for pair in pairs],
            [k.external_ref for k in keys if k.external_ref is not None],
        )
        verdicts = [
            identify(e.data.channel, k, _matches(k, pairs, found))
            for e, k, pairs in zip(events, keys, lookups, strict=True)
        ]
        hits, misses = (
            a - b for a, b in zip(self.normaliser.cache_counts(), hits_before, strict=True)
        )
        metrics.NORMALISE_CACHE.labels("hit").inc(hits)
        metrics.NORMALISE_CACHE.labels("miss").inc(misses)
        metrics.LOOKUP_SECONDS.observe(time.perf_counter() - looked_up)

        known = [(e, v) for e, v in zip(events, verdicts, strict=True) if v.customer_id]
        priors = await repo.prior_history(
            [(v.customer_id or "", e.time, e.data.contact_type) for e, v in known],
            self.rules,
        )
        histories = self._histories(known, priors, stored)

        now = datetime.now(UTC)
        rows, outputs = [], {}
        customers: dict[str, CustomerProfile] = {}
        for event, verdict in zip(events, verdicts, strict=True):
            counts.lookups[verdict.result] += 1
            if verdict.conflict:
                counts.conflicts += 1
            customer = self._customer(verdict, found, customers)
            data = self.enriched(event, verdict, customer, histories.get(event.contact_id), now)
            key = (customer.customer_id if customer is not None else event.contact_id).encode()
            value = to_json(data, exclude_none=True)
            outputs[event.contact_id] = Output.of(self.enriched_topic, value, key=key)
            rows.append(
                NewContact(
                    contact_id=event.contact_id,
                    inbound_event_id=event.id,
                    inbound_source=event.source,
                    customer_id=verdict.customer_id,
                    channel=event.data.channel.value,
                    contact_type=event.data.contact_type,
                    occurred_at=event.time,
                    identification=verdict.status.value,
                    enriched_key=key,
                    enriched=value,
                )
            )
        counts.writes["contact"] += await repo.record_contacts(rows)
        return outputs

    def _histories(
        self,
        known: Sequence[tuple[ContactReceived, Verdict]],
        priors: Sequence[Prior],
        stored: dict[str, StoredContact],
    ) -> dict[str, HistorySummary]:
        """Each known contact's history: the recorded prior plus its customer's earlier
        contacts in this batch."""
        in_batch: dict[str, list[Recorded]] = defaultdict(list)
        for event, verdict in known:
            placeholder = stored.get(event.contact_id)
            in_batch[verdict.customer_id or ""].append(
                Recorded(
                    occurred_at=event.time,
                    channel=event.data.channel.value,
                    contact_type=event.data.contact_type,
                    status=placeholder.status if placeholder else OPEN,
                    csat=placeholder.csat if placeholder else None,
                    csat_at=placeholder.csat_at if placeholder else None,
                )
            )
        return {
            event.contact_id: summarise(
                event.time,
                event.data.contact_type,
                prior,
                in_batch[verdict.customer_id or ""],
                self.rules,
            )
            for (event, verdict), prior in zip(known, priors, strict=True)
        }

    def sender_keys(self, event: ContactReceived) -> SenderKeys:
        """The sender's identities, normalised (withheld callers have no phone)."""
        sender = event.data.sender
        phone: PhoneResult | None = None
        if sender.phone is not None:
            phone = self.normaliser.phone(sender.phone, self.region(event))
        elif sender.withheld and event.data.channel == Channel.CALL:
            phone = Withheld()
        email = self.normaliser.email(sender.email) if sender.email is not None else None
        return SenderKeys(external_ref=sender.external_ref, phone=phone, email=email)

    def region(self, event: ContactReceived) -> str:
        """Where a nationally written number is read: the connector's country attribute,
        else the country of an internationally written dialled number, else the default."""
        hinted = known_region(event.data.attributes.get(self.region_attribute))
        if hinted:
            return hinted
        entry = event.data.entry_point
        dialled = region_of(entry.dialled_number if entry else None)
        return dialled or self.default_region

    def enriched(
        self,
        event: ContactReceived,
        verdict: Verdict,
        customer: CustomerProfile | None,
        history: HistorySummary | None,
        now: datetime,
    ) -> dict[str, Any]:
        """The enriched event as plain data in the contract's field order, without absent
        fields (the contact, the profile and the history as the validated models they are),
        for `to_json(..., exclude_none=True)`: the bytes `encode` gives of the model.

        Built without validation: every part is already valid (the contact was decoded,
        the profile and history are validated models, the verdict is consistent by
        construction), and building and validating models again cost as much as the rest
        of a contact's enrichment. The tests hold the bytes equal to the model's, decodable
        and valid against the committed JSON Schema."""
        if (verdict.status == IdentificationStatus.KNOWN) != (customer is not None):
            raise AssertionError(f"verdict {verdict.status} does not fit the customer given")
        identification: dict[str, Any] = {"status": verdict.status.value}
        if verdict.matched_by is not None:
            identification["matched_by"] = verdict.matched_by.value
        identification["candidates"] = verdict.candidates
        if verdict.conflict:
            identification["conflict"] = {
                "phone_customer_id": verdict.conflict[0],
                "email_customer_id": verdict.conflict[1],
            }
        identification["reasons"] = list(verdict.reasons)
        data: dict[str, Any] = {
            "inbound_event_id": event.id,
            "inbound_source": event.source,
            "contact": event.data,
            "identification": identification,
        }
        if customer is not None:  # `exclude_none` leaves a dict's own None values in
            data["customer"] = customer
        data["history"] = history or _NO_HISTORY
        return {
            "specversion": "1.0",
            "id": enriched_id(event.source, event.id),
            "source": SOURCE,
            "type": _ENRICHED_TYPE,
            "subject": event.contact_id,
            "time": event.time,
            "producedtime": now,
            "datacontenttype": "application/json",
            "data": data,
        }

    def _customer(
        self, verdict: Verdict, found: Found, cache: dict[str, CustomerProfile]
    ) -> CustomerProfile | None:
        """The profile of a known customer, validated once per batch."""
        if verdict.status != IdentificationStatus.KNOWN or verdict.customer_id is None:
            return None
        cached = cache.get(verdict.customer_id)
        if cached is None:
            cached = cache[verdict.customer_id] = self._profile(found.profiles[verdict.customer_id])
        return cached

    def _profile(self, row: dict[str, Any]) -> CustomerProfile:
        try:
            return CustomerProfile.model_validate(row)
        except ValidationError as exc:
            # A row written around the API (by hand, by an old version): send what is valid.
            log.warning(
                "customer row has invalid profile fields; sending the valid ones",
                extra={"customer_id": row["customer_id"], "error": str(exc)[:300]},
            )
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            kept = {k: v for k, v in row.items() if k not in bad}
            kept.setdefault("tier", self.default_tier)
            return CustomerProfile.model_validate(kept)


def _matches(keys: SenderKeys, lookups: list[tuple[str, str]], found: Found) -> Matches:
    """What the sender's `lookups` (its `keys.lookups()`) and external ref matched."""
    by_identity = {kind: found.by_identity.get((kind, value), set()) for kind, value in lookups}
    ref = found.by_external_ref.get(keys.external_ref) if keys.external_ref else None
    return Matches(by_external_ref=ref, by_identity=by_identity)
