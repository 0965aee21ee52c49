"""Wires the router into the host: topics, decoders, handler, admin API, policy reload,
staffing gauges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from router.api import make_router
from router.config import RouterSettings
from router.domain.engine import CompiledPolicy
from router.domain.policy import PolicyInvalid
from router.policies import RoutingPolicies, holder, vendors
from router.service import Router
from router.staffing import Staffing
from switchboard_events import ENRICHED_DECODER, LIFECYCLE_DECODER
from switchboard_runtime import kafka
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.host import Resources, Service
from switchboard_runtime.runner import Decoder


def build_router(
    settings: RouterSettings, policies: RoutingPolicies, clock: Clock = SYSTEM_CLOCK
) -> Router:
    return Router(
        policies=policies,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        decisions_topic=settings.decisions_topic,
        open_contact_ttl=timedelta(hours=settings.open_contact_ttl_hours),
        clock=clock,
        vendor_topic=settings.vendor_topic if settings.vendor_topics else None,
    )


def decoders(settings: RouterSettings) -> dict[str, Decoder[Any]]:
    return {
        settings.enriched_topic: ENRICHED_DECODER.decode,
        settings.lifecycle_topic: LIFECYCLE_DECODER.decode,
    }


def build(resources: Resources) -> Service:
    """The service; the policy file is compiled here, so an invalid one stops the start."""
    settings = cast(RouterSettings, resources.settings)

    async def create_vendor_topics(policy: CompiledPolicy) -> None:
        # Before a vendor's first decision: its topic must exist to be written (and read).
        await kafka.create_topics(
            settings.kafka, [settings.vendor_topic(v) for v in vendors(policy)]
        )

    after_change = create_vendor_topics if settings.vendor_topics else None
    try:
        policies = holder(settings.policy_path, resources.clock, after_change)
    except (PolicyInvalid, OSError) as exc:
        raise ConfigurationError(f"cannot load the policy {settings.policy_path}: {exc}") from exc
    router = build_router(settings, policies, resources.clock)
    staffing = Staffing(router, settings.staffing_window_seconds, settings.staffing_max_occupancy)
    admin = make_router(router, resources.sessions, settings.recent_decisions_limit, staffing)
    return Service(
        decoders=decoders(settings),
        handler=router.handle,
        routers=[admin],
        tasks={
            "policy-reload": policies.task(settings.policy_poll_seconds),
            "staffing": staffing.task(resources.sessions, settings.staffing_refresh_seconds),
        },
    )
