"""Runs one service process: its batch runner, its HTTP server and its background tasks.

The host owns the process. It makes one engine, one sessionmaker and one producer
(`Resources`) and hands them to the service's `build`, which returns what the service
plugs in (`Service`): its decoders and handler, its admin routes (built with the
sessions in hand), its background tasks and readiness checks. The runner's transactions
have an engine of their own (`db.runner_engine_from`).

The HTTP server starts first, so an orchestrator can read /readyz while the process
waits for the database and the broker: until both answer, /readyz says 503 with the
reason, and each is retried with backoff for as long as it takes. Then the runner and
every task run side by side.

If any of them fails (or a task ends on its own), the others are stopped and the error
ends the process non-zero. On SIGTERM or SIGINT they stop in order: the runner
finishes (or abandons, uncommitted) its batch and leaves the group, then each task is
told to stop and finishes its round, then the HTTP server, then the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from switchboard_runtime import db, kafka
from switchboard_runtime.auth import Authenticator
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.errors import Stopped
from switchboard_runtime.retry import until_done
from switchboard_runtime.runner import BatchRunner, Decoder, Handler, ProgressHook
from switchboard_runtime.service import ServiceSpec
from switchboard_runtime.settings import ServiceSettings
from switchboard_runtime.web import ReadinessCheck, create_app

log = logging.getLogger(__name__)

Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A background task: runs until the event is set, then finishes its round and returns."""

TASK_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Resources:
    """One of each per process, made by the host and shared by everything in it."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer
    """Started before the runner and the tasks run; tasks may produce with it."""
    clock: Clock


@dataclass
class Service:
    """What a service plugs into the host."""

    decoders: Mapping[str, Decoder[Any]]
    handler: Handler[Any]
    routers: Sequence[APIRouter] = ()
    tasks: Mapping[str, Task] = field(default_factory=dict)
    checks: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    on_progress: ProgressHook | None = None
    """Told after every poll how far each partition is processed (e.g. for watermarks)."""


Build = Callable[[Resources], Service]


@dataclass
class Startup:
    """What start-up still waits for, and why (the last failure), for /readyz."""

    waiting: dict[str, str] = field(default_factory=dict)
    connected: bool = False

    def reporter(self, step: str) -> Callable[[str | None], None]:
        def report(reason: str | None) -> None:
            if reason is None:
                self.waiting.pop(step, None)
            else:
                self.waiting[step] = reason

        return report


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The host owns the signals: it stops the runner and the tasks first, then this server.
        yield


class TaskEnded(RuntimeError):
    """A background task returned although nobody asked it to stop."""


async def serve(
    spec: ServiceSpec, settings: ServiceSettings, build: Build, clock: Clock = SYSTEM_CLOCK
) -> None:
    """Run the service until a signal (returns) or a failure (raises)."""
    engine = db.engine_from(settings)
    sessions = db.make_sessionmaker(engine)
    producer = kafka.make_producer(settings.kafka, client_id=spec.name)
    try:
        service = build(Resources(settings, engine, sessions, producer, clock))
    except BaseException:
        # Refused at start (an invalid policy file...): close what was made, quietly.
        await producer.stop()
        await engine.dispose()
        raise
    group = settings.consumer_group or spec.name
    consumer = kafka.make_consumer(settings.kafka, group, spec.name)
    runner_engine = db.runner_engine_from(settings)
    runner: BatchRunner[Any] = BatchRunner.from_settings(
        spec.name,
        settings,
        consumer=consumer,
        producer=producer,
        sessions=db.make_sessionmaker(runner_engine),
        decoders=service.decoders,
        handler=service.handler,
        on_progress=service.on_progress,
        clock=clock,
    )
    startup = Startup()
    app = service_app(spec, settings, service, _checks(settings, engine, producer, runner, startup))
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port, log_config=None, lifespan="off"
    )
    server = _Server(config)

    stopping = asyncio.Event()

    def stop() -> None:
        stopping.set()
        runner.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)

    web = asyncio.create_task(server.serve(), name="http")
    try:
        await _connect(settings, engine, producer, consumer, startup, stopping)
        settle_collector()
        log.info(
            "started",
            extra={
                "group": group,
                "topics": sorted(service.decoders),
                "tasks": sorted(service.tasks),
                "port": settings.http_port,
            },
        )
        await _run(runner, service.tasks, stopping)
    except Stopped:
        log.info("stopped before the broker and the database answered")
    finally:
        log.info("stopping")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        server.should_exit = True
        await consumer.stop()
        await producer.stop()
        await web
        await runner_engine.dispose()
        await engine.dispose()


GC_THRESHOLDS = (20_000, 50, 100)
"""The collector's thresholds once started. A batch keeps thousands of fresh objects alive,
so the default (700, 10, 10) walks them young every few records and old every few
batches: 13% of the router's CPU per event, for cycles its hot path hardly makes. These
still collect a cycle within a few batches, and at most a few MB wait for it."""


def settle_collector() -> None:
    """What start-up allocated lives as long as the process: the collector need not walk it
    again on every collection (about a seventh of the CPU otherwise); then `GC_THRESHOLDS`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _run(
    runner: BatchRunner[Any], tasks: Mapping[str, Task], stopping: asyncio.Event
) -> None:
    """The runner and the tasks until a stop or the first failure, then each stopped in order."""
    tasks_stop = asyncio.Event()
    consuming = asyncio.create_task(runner.run(), name="runner")
    background = [asyncio.create_task(task(tasks_stop), name=name) for name, task in tasks.items()]
    until_stop = asyncio.create_task(stopping.wait(), name="signal")
    await asyncio.wait({consuming, *background, until_stop}, return_when=asyncio.FIRST_COMPLETED)
    until_stop.cancel()
    failure: BaseException | None = None
    for job in (consuming, *background):
        if not job.done():
            continue
        if job.exception() is not None:
            failure = job.exception()
        elif not stopping.is_set():
            failure = TaskEnded(f"{job.get_name()} ended on its own")
        if failure is not None:
            log.error("stopping the service: %s failed", job.get_name(), exc_info=failure)
            break
    # In order: the runner leaves with its batch committed or abandoned, then the tasks.
    runner.stop()
    await asyncio.wait({consuming})
    tasks_stop.set()
    if background:
        _, late = await asyncio.wait(background, timeout=TASK_STOP_TIMEOUT_S)
        for job in late:
            log.warning("background task did not stop in time", extra={"task": job.get_name()})
            job.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    for job in (consuming, *background):
        if failure is None and not job.cancelled() and job.exception() is not None:
            failure = job.exception()
    if failure is not None:
        raise failure


def _checks(
    settings: ServiceSettings,
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    runner: BatchRunner[Any],
    startup: Startup,
) -> dict[str, ReadinessCheck]:
    async def database_ready() -> str | None:
        await db.ping(engine)
        return None

    async def broker_ready() -> str | None:
        if not startup.connected:
            return startup.waiting.get("broker", "not connected yet")
        await producer.client.fetch_all_metadata()
        return None

    async def startup_ready() -> str | None:
        if startup.connected:
            return None
        return "; ".join(startup.waiting.values()) or "starting"

    async def loop_ready() -> str | None:
        state = runner.state
        if not state.joined:
            return "not yet assigned partitions by the consumer group"
        if state.stalled(settings.stall_seconds):
            return f"consumer loop has not polled for over {settings.stall_seconds:.0f} s"
        if state.retrying:
            return f"retrying after a transient failure ({state.retrying})"
        return None

    return {
        "startup": startup_ready,
        "database": database_ready,
        "broker": broker_ready,
        "consumer": loop_ready,
    }


def service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    service: Service,
    checks: Mapping[str, ReadinessCheck] | None = None,
) -> FastAPI:
    """The service's HTTP app: operations routes, its admin routes, its authentication."""
    return create_app(
        spec.name,
        {**(checks or {}), **service.checks},
        service.routers,
        auth=Authenticator(settings.auth),
    )


async def _connect(
    settings: ServiceSettings,
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    consumer: AIOKafkaConsumer,
    startup: Startup,
    stopping: asyncio.Event,
) -> None:
    """Reach the database and start the clients, each retried until it succeeds or a stop."""
    await until_done(
        "database", lambda: db.ping(engine), stop=stopping, report=startup.reporter("database")
    )
    broker = f"broker at {settings.kafka.bootstrap}"
    report = startup.reporter("broker")
    await until_done(broker, producer.start, stop=stopping, report=report)
    report(f"{broker}: joining the consumer group")
    await until_done(broker, consumer.start, stop=stopping, report=report)
    report(None)
    startup.connected = True
