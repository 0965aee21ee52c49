"""Wires sla-monitor into the runtime: topics and decoders, the handler, the admin API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor.api import build_router
from sla_monitor.config import SERVICE, SlaSettings
from sla_monitor.policy_store import PolicyHolder
from sla_monitor.scheduler import Scheduler
from sla_monitor.service import SlaHandler, Watermarks
from switchboard_events import DECISIONS_DECODER, LIFECYCLE_DECODER
from switchboard_runtime.host import Service
from switchboard_runtime.runner import Decoder, Handler


def watermark_topics(settings: SlaSettings) -> list[str]:
    """The topics whose progress gates the alerts: every topic that can stop a clock."""
    return [settings.decisions_topic, settings.lifecycle_topic]


def decoders(settings: SlaSettings) -> dict[str, Decoder[Any]]:
    return {
        settings.decisions_topic: DECISIONS_DECODER.decode,
        settings.lifecycle_topic: LIFECYCLE_DECODER.decode,
    }


def build_service(
    settings: SlaSettings,
    policies: PolicyHolder,
    sessions: async_sessionmaker[AsyncSession],
    scheduler: Scheduler | None,
) -> Service:
    """The host's view of sla-monitor; `sessions` serve the admin API, `scheduler` readiness."""

    def make_handler(_: async_sessionmaker[AsyncSession]) -> Handler[Any]:
        return SlaHandler(policies)

    async def scheduler_ready() -> str | None:
        limit = max(10.0, 40 * settings.scheduler_poll_s)
        if scheduler is not None and scheduler.stalled(limit):
            return f"alert scheduler has not run for over {limit:.0f} s"
        if scheduler is not None and scheduler.retrying:
            return f"alert scheduler retrying after a transient failure ({scheduler.retrying})"
        return None

    return Service(
        name=SERVICE,
        settings=settings,
        decoders=decoders(settings),
        make_handler=make_handler,
        routers=[build_router(policies, sessions, settings.live_windows_s)],
        extra_checks={"scheduler": scheduler_ready},
        make_progress=Watermarks,
    )
