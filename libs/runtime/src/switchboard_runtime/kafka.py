"""aiokafka clients configured the same way everywhere, and topic creation.

Topics are created up front with their final partition count: the embedded broker
cannot add partitions later, and co-partitioned topics must keep equal counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from switchboard_runtime.settings import KafkaSettings

log = logging.getLogger(__name__)


def _security(settings: KafkaSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    return options


def make_producer(settings: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica (acks=all).

    Its request size fits a dead letter, which keeps an oversize record whole.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.enable_idempotence,
        linger_ms=settings.linger_ms,
        compression_type=settings.compression,
        max_batch_size=256 * 1024,
        max_request_size=max(settings.max_message_bytes, settings.max_dead_letter_bytes)
        + 64 * 1024,
        **_security(settings),
    )


def make_consumer(
    settings: KafkaSettings, group_id: str | None, client_id: str, *topics: str
) -> AIOKafkaConsumer:
    """A consumer with manual commits; a new group starts at the earliest offset.

    'latest' is not used: it would skip what a new group has not seen, and the
    embedded broker treats it as 'earliest' anyway. With no group, the caller assigns
    partitions itself and nothing is committed.
    """
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_partition_fetch_bytes=max(1_048_576, settings.max_message_bytes + 64 * 1024),
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        **_security(settings),
    )


def make_admin(settings: KafkaSettings, request_timeout_ms: int = 40_000) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap,
        request_timeout_ms=request_timeout_ms,
        **_security(settings),
    )


async def create_topics(settings: KafkaSettings, names: Iterable[str]) -> None:
    """Create each topic with the configured partition count; existing ones are kept."""
    admin = make_admin(settings)
    await admin.start()
    try:
        wanted = sorted(set(names))
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(n, settings.partitions, settings.replication_factor) for n in missing]
            )
            _raise_topic_errors(response.topic_errors)
        await _wait_for_metadata(admin, wanted)
    finally:
        await admin.close()


def _raise_topic_errors(topic_errors: Iterable[tuple[Any, ...]]) -> None:
    """The broker answers per topic (name, error code, ...): a refusal (no Create ACL, a
    bad name) must not pass for success and leave the caller waiting for the topic."""
    for name, code, *_ in topic_errors:
        error = for_code(code)
        if error is TopicAlreadyExistsError:
            log.info("topic created concurrently by another process", extra={"topic": name})
        elif code:
            raise error(f"cannot create topic {name}")


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    for _ in range(100):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"topics {names} did not appear in the broker's metadata")
