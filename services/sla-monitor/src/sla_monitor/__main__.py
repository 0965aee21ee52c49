"""Entry point: `python -m sla_monitor [serve | check FILE... | explain --decision FILE | migrate]`.

`serve` (the default) runs four things in one process until SIGTERM/SIGINT:
the runtime host (`serve`: batch runner, HTTP server), the alert scheduler, the
live service-level refresher and the policy reload (`policy_store`). The HTTP server answers first; the scheduler starts once
its producer reaches the broker, retried with backoff. The host owns the signals: when it returns, the
scheduler finishes its round and stops. If the scheduler, the refresher or the reload fails, the
process signals itself so the host stops the runner cleanly, then exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from sla_monitor import live
from sla_monitor.api import parse_decision, parse_steps
from sla_monitor.config import MIGRATIONS, SCHEMA, SERVICE, SlaSettings
from sla_monitor.consumer import build_service, watermark_topics
from sla_monitor.domain.errors import PolicyInvalid
from sla_monitor.domain.explain import explain, render
from sla_monitor.policy_store import PolicyHolder, read_policy
from sla_monitor.scheduler import Scheduler
from sla_monitor.service import decision_of, replan
from switchboard_events import InvalidEvent
from switchboard_runtime import db, kafka
from switchboard_runtime.errors import ConfigurationError, Stopped
from switchboard_runtime.host import serve
from switchboard_runtime.logs import configure_logging
from switchboard_runtime.migrations import upgrade
from switchboard_runtime.reach import reported_unreachable
from switchboard_runtime.retry import until_done
from switchboard_runtime.settings import load_settings

log = logging.getLogger("sla_monitor")


async def run(settings: SlaSettings, policies: PolicyHolder) -> None:
    """The host, the scheduler, the live refresher and the policy reload, until the host stops."""
    engine = db.make_engine(settings.database_url.get_secret_value(), pool_size=2)
    sessions = db.make_sessionmaker(engine)
    producer = kafka.make_producer(settings.kafka, client_id=f"{SERVICE}-scheduler")
    scheduler = Scheduler(
        sessions=sessions,
        producer=producer,
        topic=settings.alerts_topic,
        watermark_topics=watermark_topics(settings),
        poll_s=settings.scheduler_poll_s,
        batch=settings.scheduler_batch,
        republish_after_s=settings.republish_after_s,
    )
    stop = asyncio.Event()
    host = asyncio.create_task(
        serve(
            build_service(
                settings, policies, sessions, scheduler if settings.scheduler_enabled else None
            )
        ),
        name="host",
    )
    # A host that ends (SIGTERM) also ends the wait for the broker below.
    host.add_done_callback(lambda _: stop.set())
    background: list[asyncio.Task[None]] = []
    try:
        # The host serves /readyz meanwhile; the broker may come up long after the process.
        await until_done(
            f"broker at {settings.kafka.bootstrap} (alert producer)", producer.start, stop=stop
        )
        if settings.scheduler_enabled:
            background.append(asyncio.create_task(scheduler.run(), name="scheduler"))
        refresher = live.refresh_forever(
            sessions, settings.live_windows_s, settings.live_refresh_s, stop
        )
        background.append(asyncio.create_task(refresher, name="live"))
        reload = policies.watch(settings.policy_poll_s, lambda policy: replan(sessions, policy))
        background.append(asyncio.create_task(reload, name="policy-reload"))
        done, _ = await asyncio.wait([host, *background], return_when=asyncio.FIRST_COMPLETED)
        if host not in done:
            failed = next(iter(done))
            log.error("background task ended: stopping", extra={"task": failed.get_name()})
            os.kill(os.getpid(), signal.SIGTERM)  # the host's own signal handler stops the runner
            await asyncio.wait([host])
    except Stopped:
        pass  # the host ended before the broker answered: its outcome is raised below
    finally:
        scheduler.stop()  # it finishes its round: claimed alerts are published and marked
        stop.set()
        if background:
            await asyncio.wait(background, timeout=10)
        for task in (host, *background):
            if not task.done():
                task.cancel()
        await asyncio.gather(host, *background, return_exceptions=True)
        await producer.stop()
        await engine.dispose()
    for task in (host, *background):
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error


def _serve() -> int:
    try:
        settings = load_settings(SlaSettings)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(SERVICE, settings.log_level)
    try:
        policies = PolicyHolder.from_file(settings.policy_path)
    except PolicyInvalid as exc:
        print(f"{settings.policy_path}: {exc}", file=sys.stderr)
        return 2
    log.info(
        "policy loaded",
        extra={"policy": policies.current.summary(), "path": str(settings.policy_path)},
    )
    with reported_unreachable("sla_monitor", settings):
        asyncio.run(run(settings, policies))
    return 0


def _migrate() -> int:
    try:
        settings = load_settings(SlaSettings)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2
    with reported_unreachable("sla_monitor", settings):
        upgrade(settings.database_url.get_secret_value(), MIGRATIONS, SCHEMA)
    print(f"schema {SCHEMA} is up to date")
    return 0


def _check(files: list[Path]) -> int:
    worst = 0
    for path in files:
        try:
            policy = read_policy(path)
        except PolicyInvalid as exc:
            print(f"{path}: {exc}")
            worst = 1
        else:
            print(f"{path}: valid: {policy.summary()}")
    return worst


def _load_events(path: Path) -> list[object]:
    text = path.read_text()
    stripped = text.strip()
    if stripped.startswith("["):
        loaded = json.loads(stripped)
        return list(loaded)
    if stripped.startswith("{") and "\n{" not in stripped:
        return [json.loads(stripped)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _explain(args: argparse.Namespace) -> int:
    policy_path: Path = args.policy or load_settings(SlaSettings).policy_path
    try:
        policy = read_policy(policy_path)
        (raw,) = _load_events(args.decision)
        decision = parse_decision(raw)
        steps = parse_steps(_load_events(args.lifecycle)) if args.lifecycle else []
    except PolicyInvalid as exc:
        print(f"{policy_path}: {exc}", file=sys.stderr)
        return 2
    except (InvalidEvent, ValueError, OSError) as exc:
        print(f"cannot explain: {exc}", file=sys.stderr)
        return 2
    now = datetime.fromisoformat(args.at).timestamp() if args.at else time.time()
    explanation = explain(policy, decision_of(decision).decision, steps, now)
    print(json.dumps(explanation, indent=2) if args.json else render(explanation))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sla_monitor", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    check = commands.add_parser("check", help="validate SLA policy files")
    check.add_argument("files", nargs="+", type=Path)
    show = commands.add_parser(
        "explain", help="the targets and clocks of a routing decision, and why"
    )
    show.add_argument("--decision", type=Path, required=True, help="a routing.decided event (JSON)")
    show.add_argument("--lifecycle", type=Path, help="lifecycle events (JSON list or JSON lines)")
    show.add_argument(
        "--policy", type=Path, help="policy file (default: SLA_POLICY_PATH or the shipped one)"
    )
    show.add_argument("--at", help="evaluate the clocks at this time (ISO 8601; default now)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands.add_parser("migrate", help="apply the sla schema's migrations (SLA_DATABASE_URL)")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return _migrate()
    if args.command == "check":
        return _check(args.files)
    if args.command == "explain":
        return _explain(args)
    return _serve()


if __name__ == "__main__":
    sys.exit(main())
