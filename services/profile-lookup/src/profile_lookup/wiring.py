"""Wires the enrichment use case and the admin API into the runtime's host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from profile_lookup.api import make_router
from profile_lookup.audit import AuditPublisher, make_audit_router
from profile_lookup.config import SERVICE, ProfilesSettings
from profile_lookup.customer_repository import postgres_transactions
from profile_lookup.customers import Customers
from profile_lookup.service import SOURCE, Enricher
from switchboard_events import INBOUND_DECODER, LIFECYCLE_DECODER
from switchboard_runtime.host import Resources, Service
from switchboard_runtime.ratelimit import RateLimiter
from switchboard_runtime.runner import Decoder


def decoders(settings: ProfilesSettings) -> Mapping[str, Decoder[Any]]:
    """The consumed topics and how each record is decoded (invalid ones are dead-lettered)."""
    return {
        settings.inbound_topic: INBOUND_DECODER.decode,
        settings.lifecycle_topic: LIFECYCLE_DECODER.decode,
    }


def build(resources: Resources) -> Service:
    settings = cast(ProfilesSettings, resources.settings)
    customers = Customers(
        postgres_transactions(resources.sessions),
        default_region=settings.default_region,
        tiers=settings.tiers,
        actor=SERVICE.name,  # every route acts as its caller instead (`acting_as`)
        clock=resources.clock,
    )
    router = make_router(
        lambda: customers,
        chunk_rows=settings.import_chunk_rows,
        import_max_bytes=settings.import_max_bytes,
        reads=RateLimiter(settings.customer_reads, resources.clock),
    )
    publisher = AuditPublisher(
        resources.sessions,
        resources.producer,
        topic=settings.audit_topic,
        source=SOURCE,
        clock=resources.clock,
        poll_s=settings.audit_publish_seconds,
    )
    return Service(
        decoders=decoders(settings),
        handler=Enricher.from_settings(settings),
        routers=[router, make_audit_router(resources.sessions)],
        tasks={"audit-publisher": publisher.run},
    )
