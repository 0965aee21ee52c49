"""A minimal service on the real runtime, for the runtime's own integration tests.

Consumes JSON events `{"id": ..., "n": ..., "note": ...}` (note optional) from its input
topic; per event it writes one row to `echo.effects` (once, whatever the replays) and
produces the event to its output topic. A negative `n` is refused by its "domain rule"
(ValueError), and a note PostgreSQL cannot store (a NUL) is refused by the database: both
are record-level failures. Run as a process (`python echo_service.py`) for crash tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from pydantic_settings import SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from switchboard_events.errors import NotJson, NotUtf8, SchemaViolation
from switchboard_runtime.db import Claim, Delivery, EventKey, claim_events
from switchboard_runtime.host import Resources, Service, serve
from switchboard_runtime.logs import configure_logging
from switchboard_runtime.runner import Handler, Output, Record
from switchboard_runtime.service import ServiceSpec
from switchboard_runtime.settings import ServiceSettings, load_settings

SCHEMA = "echo"
DDL = (
    "CREATE SCHEMA IF NOT EXISTS echo",
    "CREATE TABLE IF NOT EXISTS echo.processed_events (event_type text, source text,"
    " event_id text, topic text, kafka_partition integer, kafka_offset bigint,"
    " PRIMARY KEY (event_type, source, event_id))",
    "CREATE TABLE IF NOT EXISTS echo.effects"
    " (event_id text PRIMARY KEY, n integer NOT NULL, note text)",
)


class EchoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ECHO_", env_nested_delimiter="__")

    input_topic: str = "echo.in"
    output_topic: str = "echo.out"
    handler_delay_s: float = 0.0


def decode(raw: bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw.decode())
    except UnicodeDecodeError:
        raise NotUtf8("the record is not UTF-8") from None
    except ValueError as exc:
        raise NotJson(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise SchemaViolation("expected an object with a string 'id'")
    if not isinstance(event.get("n"), int):
        raise SchemaViolation("expected an integer 'n'")
    return event


async def create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(42)"))
        for statement in DDL:
            await conn.execute(text(statement))


def make_handler(settings: EchoSettings) -> Handler[dict[str, Any]]:
    async def handle(
        batch: Sequence[Record[dict[str, Any]]], session: AsyncSession
    ) -> Sequence[Output]:
        if any(r.event["n"] < 0 for r in batch):
            raise ValueError("n must not be negative")
        claims = [
            Claim(EventKey("echo", "echo", r.event["id"]), r.topic, r.partition, r.offset)
            for r in batch
        ]
        deliveries = await claim_events(session, SCHEMA, claims)
        rows = [
            {"id": r.event["id"], "n": r.event["n"], "note": r.event.get("note")}
            for r, delivery in zip(batch, deliveries, strict=True)
            if delivery == Delivery.NEW
        ]
        if rows:
            await session.execute(
                text("INSERT INTO echo.effects (event_id, n, note) VALUES (:id, :n, :note)"), rows
            )
        if settings.handler_delay_s:
            await asyncio.sleep(settings.handler_delay_s)
        # Outputs are derived from inputs alone, so a replay re-emits identical records.
        return [Output(settings.output_topic, r.key, json.dumps(r.event).encode()) for r in batch]

    return handle


SERVICE = ServiceSpec(
    name="echo",
    package="echo_service",
    env_prefix="ECHO_",
    schema=SCHEMA,
    migrations=Path(__file__).parent,
    default_port=0,
    consumes=("echo.in",),
    produces=("echo.out",),
    settings=EchoSettings,
)


def build(resources: Resources) -> Service:
    settings = cast(EchoSettings, resources.settings)
    return Service(decoders={settings.input_topic: decode}, handler=make_handler(settings))


if __name__ == "__main__":
    echo_settings = load_settings(EchoSettings)
    configure_logging("echo", echo_settings.log_level)
    asyncio.run(serve(SERVICE, echo_settings, build))
