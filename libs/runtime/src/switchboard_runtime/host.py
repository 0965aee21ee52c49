"""Runs one service process: its batch runner and its HTTP server, until SIGTERM or SIGINT.

The HTTP server starts first, so an orchestrator can read /readyz while the process
waits for the database (`on_start`) and the broker: until both answer, /readyz says
503 with the reason, and each is retried with backoff for as long as it takes.

On a signal the runner finishes (or abandons, uncommitted) the batch in flight, leaves
the consumer group, and the process exits 0. Anything the runner cannot classify as
invalid input or transient ends the process non-zero, loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from switchboard_runtime import db, kafka
from switchboard_runtime.auth import Authenticator
from switchboard_runtime.errors import Stopped
from switchboard_runtime.retry import until_done
from switchboard_runtime.runner import BatchRunner, Decoder, Handler, ProgressHook
from switchboard_runtime.settings import ServiceSettings
from switchboard_runtime.web import ReadinessCheck, create_app

log = logging.getLogger(__name__)


@dataclass
class Service:
    """What a service plugs into the host: its topics, decoders, handler and admin API."""

    name: str
    settings: ServiceSettings
    decoders: Mapping[str, Decoder[Any]]
    make_handler: Callable[[async_sessionmaker[AsyncSession]], Handler[Any]]
    routers: Sequence[APIRouter] = ()
    extra_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    on_start: Callable[[AsyncEngine], Awaitable[None]] | None = None
    """Runs before the consumer joins; retried while it fails transiently, so idempotent."""
    make_progress: Callable[[async_sessionmaker[AsyncSession]], ProgressHook] | None = None
    """Told after every poll how far each partition is processed (e.g. for watermarks)."""


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
        # The host owns the signals: it stops the runner first, then this server.
        yield


async def serve(service: Service) -> None:
    settings = service.settings
    engine = db.engine_from(settings)
    sessions = db.make_sessionmaker(engine)
    group = settings.consumer_group or service.name
    producer = kafka.make_producer(settings.kafka, client_id=service.name)
    consumer = kafka.make_consumer(settings.kafka, group, service.name)
    runner: BatchRunner[Any] = BatchRunner.from_settings(
        service.name,
        settings,
        consumer=consumer,
        producer=producer,
        sessions=sessions,
        decoders=service.decoders,
        handler=service.make_handler(sessions),
        on_progress=service.make_progress(sessions) if service.make_progress else None,
    )

    startup = Startup()

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

    checks = {
        "startup": startup_ready,
        "database": database_ready,
        "broker": broker_ready,
        "consumer": loop_ready,
    }
    app = service_app(service, checks)
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
        await _connect(service, engine, producer, consumer, startup, stopping)
        log.info(
            "started",
            extra={"group": group, "topics": sorted(service.decoders), "port": settings.http_port},
        )
        await runner.run()
    except Stopped:
        log.info("stopped before the broker and the database answered")
    finally:
        log.info("stopping")
        server.should_exit = True
        await consumer.stop()
        await producer.stop()
        await web
        await engine.dispose()


def service_app(service: Service, checks: Mapping[str, ReadinessCheck] | None = None) -> FastAPI:
    """The service's HTTP app: operations routes, its admin routes, its authentication."""
    return create_app(
        service.name,
        {**(checks or {}), **service.extra_checks},
        service.routers,
        auth=Authenticator(service.settings.auth),
    )


async def _connect(
    service: Service,
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    consumer: AIOKafkaConsumer,
    startup: Startup,
    stopping: asyncio.Event,
) -> None:
    """Run `on_start` and start the clients, each retried until it succeeds or a stop."""
    broker = f"broker at {service.settings.kafka.bootstrap}"
    report = startup.reporter("broker")
    if service.on_start is not None:
        on_start = service.on_start
        await until_done(
            "start-up (database)",
            lambda: on_start(engine),
            stop=stopping,
            report=startup.reporter("database"),
        )
    await until_done(broker, producer.start, stop=stopping, report=report)
    report(f"{broker}: joining the consumer group")
    await until_done(broker, consumer.start, stop=stopping, report=report)
    report(None)
    startup.connected = True
