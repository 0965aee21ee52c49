"""Pure parts of the runtime: failure classification, the dead-letter cap, settings."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError, OperationalError

from switchboard_runtime.errors import ConfigurationError, DeadLetterRateExceeded
from switchboard_runtime.retry import is_transient
from switchboard_runtime.runner import (
    BatchRunner,
    Output,
    Record,
    RunnerState,
    _DeadLetterGuard,
    record_failure,
)
from switchboard_runtime.settings import KafkaSettings, ServiceSettings, load_settings


class ExampleSettings(ServiceSettings):
    model_config = {"env_prefix": "EXAMPLE_", "env_nested_delimiter": "__"}


def test_unreachable_database_and_broker_are_transient() -> None:
    assert is_transient(OperationalError("SELECT 1", {}, ConnectionRefusedError()))
    assert is_transient(KafkaConnectionError("down"))
    assert is_transient(ConnectionResetError())


class DeadlockDetected(Exception):
    sqlstate = "40P01"


def test_deadlocks_and_serialization_failures_are_transient() -> None:
    wrapped = IntegrityError("UPDATE", {}, DeadlockDetected())
    wrapped.__cause__ = DeadlockDetected()
    assert is_transient(wrapped)


def test_bugs_and_constraint_violations_are_not_transient() -> None:
    assert not is_transient(IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not is_transient(KeyError("queue"))
    assert not is_transient(MessageSizeTooLargeError())


def test_a_cause_that_is_transient_makes_the_wrapper_transient() -> None:
    wrapped = RuntimeError("handler failed")
    wrapped.__cause__ = ConnectionRefusedError("db")
    assert is_transient(wrapped)


def test_dead_letter_guard_tolerates_a_few_bad_records() -> None:
    guard = _DeadLetterGuard(max_ratio=0.5, window=10)
    for i in range(100):
        guard.observe(invalid=i % 3 == 0)


def test_dead_letter_guard_stops_a_flood() -> None:
    guard = _DeadLetterGuard(max_ratio=0.5, window=10)
    for _ in range(5):
        guard.observe(invalid=False)
    for _ in range(5):
        guard.observe(invalid=True)
    with pytest.raises(DeadLetterRateExceeded, match="6 of the last 10 records were invalid"):
        guard.observe(invalid=True)


def test_runner_state_reports_a_stalled_loop() -> None:
    state = RunnerState()
    assert not state.stalled(5)
    state.last_poll = time.monotonic() - 10
    assert state.stalled(5)


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_KAFKA__FETCH_MAX_WAIT_MS", "0")
    with pytest.raises(ConfigurationError, match="EXAMPLE_KAFKA__FETCH_MAX_WAIT_MS") as err:
        load_settings(ExampleSettings)
    assert "got '0'" in str(err.value)


def test_production_refuses_unauthenticated_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_ENVIRONMENT", "production")
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql+asyncpg://app:s3cr3t-Value@db/app")
    with pytest.raises(ConfigurationError, match="refuses unauthenticated Kafka"):
        load_settings(ExampleSettings)


PRODUCTION_KAFKA = {
    "EXAMPLE_ENVIRONMENT": "production",
    "EXAMPLE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
    "EXAMPLE_KAFKA__SASL_USERNAME": "router",
    "EXAMPLE_KAFKA__SASL_PASSWORD": "a-real-long-secret",
    "EXAMPLE_DATABASE_URL": "postgresql+asyncpg://app:s3cr3t-Value@db/app",
    "EXAMPLE_AUTH__TOKENS": json.dumps([{"name": "ops", "sha256": "ab" * 32, "scopes": []}]),
}


def test_production_refuses_kafka_passwords_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION_KAFKA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EXAMPLE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ConfigurationError, match="refuses SASL_PLAINTEXT") as err:
        load_settings(ExampleSettings)
    assert "a-real-long-secret" not in str(err.value)
    monkeypatch.setenv("EXAMPLE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    assert load_settings(ExampleSettings).kafka.security_protocol == "SASL_SSL"


def test_plaintext_in_a_trusted_network_is_an_explicit_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in PRODUCTION_KAFKA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EXAMPLE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("EXAMPLE_KAFKA__ALLOW_PLAINTEXT_IN_TRUSTED_NETWORK", "true")
    assert load_settings(ExampleSettings).kafka.security_protocol == "SASL_PLAINTEXT"


def test_production_refuses_admin_routes_without_authentication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in PRODUCTION_KAFKA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EXAMPLE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("EXAMPLE_AUTH__ENABLED", "false")
    with pytest.raises(ConfigurationError, match="refuses AUTH__ENABLED=false"):
        load_settings(ExampleSettings)
    monkeypatch.delenv("EXAMPLE_AUTH__ENABLED")
    monkeypatch.delenv("EXAMPLE_AUTH__TOKENS")
    with pytest.raises(ConfigurationError, match="needs a way to authenticate"):
        load_settings(ExampleSettings)


def test_production_refuses_placeholder_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_ENVIRONMENT", "production")
    monkeypatch.setenv("EXAMPLE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("EXAMPLE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("EXAMPLE_KAFKA__SASL_USERNAME", "router")
    monkeypatch.setenv("EXAMPLE_KAFKA__SASL_PASSWORD", "a-real-long-secret")
    monkeypatch.setenv("EXAMPLE_DATABASE_URL", "postgresql+asyncpg://app:postgres@db/app")
    monkeypatch.setenv("EXAMPLE_AUTH__TOKENS", PRODUCTION_KAFKA["EXAMPLE_AUTH__TOKENS"])
    with pytest.raises(ConfigurationError, match="database URL without a real password") as err:
        load_settings(ExampleSettings)
    assert "a-real-long-secret" not in str(err.value)


def test_local_runs_need_no_secrets() -> None:
    assert load_settings(ExampleSettings).environment == "local"


class UniqueViolation(Exception):
    sqlstate = "23505"
    table_name = "customers"
    constraint_name = "customers_pkey"


class SyntaxErrorInSql(Exception):
    sqlstate = "42601"


def _raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


def test_data_the_database_refuses_is_record_level_and_named_without_its_message() -> None:
    wrapped = IntegrityError("INSERT", {}, UniqueViolation("Key (phone)=(+15550001234) exists"))
    wrapped.__cause__ = wrapped.orig
    reason = record_failure(wrapped)
    assert reason == (
        "the database or its driver refused the data: UniqueViolation (SQLSTATE 23505)"
        " (table customers, constraint customers_pkey)"
    )
    assert not is_transient(wrapped)


def test_a_domain_value_error_is_record_level_and_names_where_it_was_raised() -> None:
    reason = record_failure(_raised(ValueError("bad phone +15550001234")))
    assert reason is not None
    assert reason.startswith("the data was refused: ValueError raised in ")
    assert "_raised" in reason
    assert "+1555" not in reason


def test_code_bugs_and_outages_are_not_record_level() -> None:
    assert record_failure(_raised(TypeError("unsupported operand"))) is None
    assert record_failure(_raised(KeyError("queue"))) is None
    syntax = IntegrityError("SELEC", {}, SyntaxErrorInSql())
    syntax.__cause__ = syntax.orig
    assert record_failure(syntax) is None
    assert record_failure(OperationalError("SELECT 1", {}, ConnectionRefusedError())) is None


def test_dead_letter_guard_counts_unprocessable_records_against_the_cap() -> None:
    guard = _DeadLetterGuard(max_ratio=0.5, window=10)
    for _ in range(10):
        guard.observe(invalid=False)
    for _ in range(5):
        guard.reclassify()
    with pytest.raises(DeadLetterRateExceeded, match="6 of the last 10 records were invalid"):
        guard.reclassify()


def test_dead_letter_limit_below_the_message_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXAMPLE_KAFKA__MAX_DEAD_LETTER_BYTES", "2048")
    monkeypatch.setenv("EXAMPLE_KAFKA__MAX_MESSAGE_BYTES", "4096")
    with pytest.raises(ConfigurationError, match="max_dead_letter_bytes"):
        load_settings(ExampleSettings)


def _production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION_KAFKA.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EXAMPLE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")


def test_production_turns_the_idempotent_producer_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_settings(ExampleSettings).kafka.enable_idempotence
    _production(monkeypatch)
    assert load_settings(ExampleSettings).kafka.enable_idempotence


def test_production_keeps_an_idempotence_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    monkeypatch.setenv("EXAMPLE_KAFKA__ENABLE_IDEMPOTENCE", "false")
    assert not load_settings(ExampleSettings).kafka.enable_idempotence


def test_kafka_settings_set_explicitly_pass_to_a_service_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = KafkaSettings(
        bootstrap="127.0.0.1:9",
        enable_idempotence=True,
        sasl_password=SecretStr("a-real-long-secret"),
    )
    env = chosen.as_env("EXAMPLE_")
    assert env == {
        "EXAMPLE_KAFKA__BOOTSTRAP": "127.0.0.1:9",
        "EXAMPLE_KAFKA__ENABLE_IDEMPOTENCE": "true",
        "EXAMPLE_KAFKA__SASL_PASSWORD": "a-real-long-secret",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings(ExampleSettings).kafka == chosen


class _SpyProducer(AIOKafkaProducer):  # type: ignore[misc]
    """An unstarted producer that records, per batch handed to it, whether it was closed."""

    def __init__(self) -> None:
        super().__init__(bootstrap_servers="127.0.0.1:9", linger_ms=1000)
        self.handed: list[tuple[int, bool]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[None]:
        self.handed.append((batch.record_count(), batch.closed()))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_outputs_are_handed_over_in_closed_batches_so_none_waits_for_the_linger() -> None:
    producer = _SpyProducer()
    runner: BatchRunner[Any] = BatchRunner(
        name="spy",
        consumer=cast(Any, SimpleNamespace(_group_id="spy")),
        producer=producer,
        sessions=cast(Any, None),
        decoders={},
        handler=cast(Any, None),
    )
    outputs = [Output("out", f"k{i}".encode(), b"v" * 100) for i in range(30)]
    # One record too large to share a batch: the batch before it is sent, and it gets its own.
    outputs.append(Output("out", b"k0", b"x" * (300 * 1024)))

    try:
        await runner._produce(outputs)
    finally:
        await producer.stop()

    assert sum(count for count, _ in producer.handed) == len(outputs)
    assert all(closed for _, closed in producer.handed)


def test_a_records_repr_leaves_out_its_bytes() -> None:
    record = Record("t", 0, 7, b"k", 0, "the event", b'{"phone": "+44 7700 900958"}')
    assert "7700" not in repr(record)
    assert repr(record) == (
        "Record(topic='t', partition=0, offset=7, key=b'k', timestamp_ms=0, event='the event')"
    )
