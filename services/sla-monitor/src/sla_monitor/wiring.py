"""Wires sla-monitor into the host: topics and decoders, the handler, the admin API, and
three background tasks the host runs and supervises:

- `scheduler`: fires due alerts (`scheduler.Scheduler`; left out when `scheduler_enabled`
  is false, for instances that only consume);
- `live`: refreshes the live service-level gauges;
- `scorecard`: refreshes the scorecard gauges (`scorecard.py`);
- `policy-reload`: polls the policy file, swaps in valid new versions and re-plans the
  open contacts (at start too: the file may have changed while the service was down).

Everything shares the host's engine, sessions, producer and clock (`Resources`).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sla_monitor import live, metrics, scorecard
from sla_monitor.api import build_router, scorecard_router
from sla_monitor.config import SlaSettings
from sla_monitor.domain.compiled import SlaPolicy, load_policy
from sla_monitor.domain.errors import PolicyInvalid
from sla_monitor.scheduler import Scheduler
from sla_monitor.service import SlaHandler, Watermarks, replan
from switchboard_events import DECISIONS_DECODER, LIFECYCLE_DECODER
from switchboard_runtime.clock import Clock
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.host import Resources, Service, Task
from switchboard_runtime.policies import PolicyHolder
from switchboard_runtime.runner import Decoder
from switchboard_runtime.web import ReadinessCheck

log = logging.getLogger("sla_monitor")


def watermark_topics(settings: SlaSettings) -> list[str]:
    """The topics whose progress gates the alerts: every topic that can stop a clock."""
    return [settings.decisions_topic, settings.lifecycle_topic]


def decoders(settings: SlaSettings) -> dict[str, Decoder[Any]]:
    return {
        settings.decisions_topic: DECISIONS_DECODER.decode,
        settings.lifecycle_topic: LIFECYCLE_DECODER.decode,
    }


def show_active(previous: SlaPolicy | None, policy: SlaPolicy) -> None:
    """The policy gauge names the version in force, and only that one."""
    if previous is not None:
        metrics.POLICY.remove(previous.name, previous.version)
    metrics.POLICY.labels(policy.name, policy.version).set(1)


def policies(
    settings: SlaSettings, sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> PolicyHolder[SlaPolicy]:
    """The policy in force; each change re-plans the open contacts. An invalid or unreadable
    file at start is a configuration error (one line, exit 2)."""

    async def replan_open(policy: SlaPolicy) -> None:
        replanned = await replan(sessions, policy)
        if replanned:
            log.info(
                "open contacts re-planned with the SLA policy in force",
                extra={"contacts": replanned, "policy_version": policy.version},
            )

    try:
        holder = PolicyHolder(
            settings.policy_path,
            load_policy,
            what="SLA policy",
            invalid=PolicyInvalid,
            reloads=metrics.POLICY_RELOADS,
            on_applied=show_active,
            after_change=replan_open,
            clock=clock,
        )
    except PolicyInvalid as exc:
        raise ConfigurationError(f"{settings.policy_path}: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {settings.policy_path}: {exc.strerror}") from None
    log.info(
        "policy loaded",
        extra={"policy": holder.current.summary(), "path": str(settings.policy_path)},
    )
    return holder


def scheduler_of(resources: Resources) -> Scheduler:
    settings = cast(SlaSettings, resources.settings)
    return Scheduler(
        sessions=resources.sessions,
        producer=resources.producer,
        topic=settings.alerts_topic,
        watermark_topics=watermark_topics(settings),
        poll_s=settings.scheduler_poll_s,
        batch=settings.scheduler_batch,
        republish_after_s=settings.republish_after_s,
        clock=resources.clock,
    )


def scheduler_check(scheduler: Scheduler, poll_s: float) -> ReadinessCheck:
    async def scheduler_ready() -> str | None:
        limit = max(10.0, 40 * poll_s)
        if scheduler.stalled(limit):
            return f"alert scheduler has not run for over {limit:.0f} s"
        if scheduler.retrying:
            return f"alert scheduler retrying after a transient failure ({scheduler.retrying})"
        return None

    return scheduler_ready


def build(resources: Resources) -> Service:
    """The host's view of sla-monitor."""
    settings = cast(SlaSettings, resources.settings)
    sessions, clock = resources.sessions, resources.clock
    holder = policies(settings, sessions, clock)
    tasks: dict[str, Task] = {
        "live": live.refresher(sessions, settings.live_windows_s, settings.live_refresh_s, clock),
        "policy-reload": holder.task(settings.policy_poll_s),
        "scorecard": scorecard.refresher(
            sessions,
            settings.scorecard_windows_s,
            settings.fcr_window_s,
            settings.scorecard_refresh_s,
            clock,
        ),
    }
    checks: dict[str, ReadinessCheck] = {}
    if settings.scheduler_enabled:
        scheduler = scheduler_of(resources)
        tasks["scheduler"] = scheduler.run
        checks["scheduler"] = scheduler_check(scheduler, settings.scheduler_poll_s)
    return Service(
        decoders=decoders(settings),
        handler=SlaHandler(holder),
        routers=[
            build_router(holder, sessions, settings.live_windows_s, clock),
            scorecard_router(sessions, settings.fcr_window_s, clock),
        ],
        tasks=tasks,
        checks=checks,
        on_progress=Watermarks(sessions, clock),
    )
