"""Settings shared by every service, read once from the environment at start-up.

Each service subclasses `ServiceSettings` with its own env prefix (`ROUTER_`, ...).
`load_settings` turns a validation failure into one clear message naming each bad value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard_runtime.auth import AuthSettings
from switchboard_runtime.errors import ConfigurationError

KAFKA_FETCH_MAX_WAIT_MS = 100
"""The fetch wait for Apache Kafka. It answers a held fetch as soon as any of the
request's partitions has a record, but a partition whose records the consumer still
holds is left out of the next request: what arrives there waits for that request's
answer, up to the whole wait. At 50 events/s 500 ms gave a router hop p99 of 141 ms,
100 ms gave 19 ms, for the same CPU."""

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "postgres"})


class Environment(StrEnum):
    LOCAL = "local"
    TEST = "test"
    PRODUCTION = "production"


class KafkaSettings(BaseSettings):
    """How to reach the broker; shared by consumers and producers."""

    model_config = SettingsConfigDict(extra="ignore")

    bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port...]")
    security_protocol: str = Field("PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$")
    sasl_mechanism: str | None = Field(None, pattern="^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # Production needs TLS so SASL passwords never travel in clear; this lets a deployment
    # whose broker is reachable only inside a trusted network use SASL_PLAINTEXT anyway.
    allow_plaintext_in_trusted_network: bool = Field(
        False, description="production: accept SASL_PLAINTEXT (passwords unencrypted)"
    )
    # Off by default because Tansu, the embedded broker, has no idempotent producer; on
    # with ENVIRONMENT=production unless set, and on in the Apache Kafka test harness.
    enable_idempotence: bool = False
    # How long the broker may hold an empty fetch. Tansu answers only when it polls, so it
    # needs a short wait; for Apache Kafka see KAFKA_FETCH_MAX_WAIT_MS.
    fetch_max_wait_ms: int = Field(30, ge=1, le=10_000)
    max_batch_records: int = Field(2000, ge=1, le=100_000)
    max_message_bytes: int = Field(1_048_576, ge=1024)
    # Tansu takes records of tens of MiB; on Kafka each .dlq topic's max.message.bytes
    # must be at least its source topic's for an oversize record to be kept whole.
    max_dead_letter_bytes: int = Field(
        16 * 1_048_576, ge=1024, description="dead letters are cut past this size, and marked"
    )
    linger_ms: int = Field(5, ge=0, le=1000)
    compression: str | None = Field(None, pattern="^(gzip|snappy|lz4|zstd)$")
    partitions: int = Field(6, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=7)
    session_timeout_ms: int = Field(10_000, ge=1000)
    heartbeat_interval_ms: int = Field(1_000, ge=100)

    @model_validator(mode="after")
    def _dead_letters_fit_what_is_accepted(self) -> Self:
        if self.max_dead_letter_bytes < self.max_message_bytes:
            raise ValueError(
                f"max_dead_letter_bytes ({self.max_dead_letter_bytes}) must be at least"
                f" max_message_bytes ({self.max_message_bytes}), or every dead letter is cut"
            )
        return self

    def as_env(self, prefix: str) -> dict[str, str]:
        """The values set explicitly, as a service's environment: `{prefix}KAFKA__NAME`."""
        env = {}
        for name in sorted(self.model_fields_set):
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is not None:
                env[f"{prefix}KAFKA__{name.upper()}"] = (
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
        return env


class ToolKafkaSettings(KafkaSettings):
    """The broker settings of a command-line tool (`make tail`, `make publish`, the demo
    traffic, the DLQ replay): `KAFKA__BOOTSTRAP`, `KAFKA__SECURITY_PROTOCOL`,
    `KAFKA__SASL_*`, ..., the names a service reads, without the service's prefix."""

    model_config = SettingsConfigDict(env_prefix="KAFKA__", extra="ignore")


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Nested values use `__`, e.g. `ROUTER_KAFKA__BOOTSTRAP`."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    environment: Environment = Environment.LOCAL
    database_url: SecretStr = Field(
        SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
        description="SQLAlchemy URL with the asyncpg driver",
    )
    database_pool_size: int = Field(5, ge=1, le=100)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings, description="admin API tokens")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=0, le=65535)
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    consumer_group: str | None = Field(None, description="defaults to the service name")
    topic_suffix: str = Field("", description="appended to every topic name (isolated test runs)")
    dlq_max_ratio: float = Field(0.5, gt=0, le=1, description="cap on invalid records' share")
    dlq_window: int = Field(1000, ge=10, description="records over which the share is measured")
    stall_seconds: float = Field(
        60, gt=0, description="/readyz fails after this long without a poll"
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        if "enable_idempotence" not in self.kafka.model_fields_set:
            # Production runs on Apache Kafka: no duplicates from producer retries.
            self.kafka.enable_idempotence = True
        if self.kafka.security_protocol in ("PLAINTEXT", "SSL") and not self.kafka.sasl_mechanism:
            raise ValueError(
                "environment=production refuses unauthenticated Kafka: set KAFKA__SECURITY_PROTOCOL"
                " to SASL_SSL and KAFKA__SASL_MECHANISM/USERNAME/PASSWORD"
            )
        if self.kafka.security_protocol == "SASL_PLAINTEXT" and (
            not self.kafka.allow_plaintext_in_trusted_network
        ):
            raise ValueError(
                "environment=production refuses SASL_PLAINTEXT, which sends the Kafka password"
                " unencrypted: set KAFKA__SECURITY_PROTOCOL=SASL_SSL, or, only for a broker"
                " inside a trusted network, KAFKA__ALLOW_PLAINTEXT_IN_TRUSTED_NETWORK=true"
            )
        if not self.auth.enabled:
            raise ValueError(
                "environment=production refuses AUTH__ENABLED=false: every admin route"
                " needs a token"
            )
        if not self.auth.has_sources:
            raise ValueError(
                "environment=production needs a way to authenticate: set AUTH__TOKENS"
                " (hashed API tokens) or AUTH__OIDC__* (a JWKS, issuer and audience)"
            )
        password = self.kafka.sasl_password.get_secret_value() if self.kafka.sasl_password else ""
        if password.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "environment=production refuses an empty or placeholder Kafka password"
            )
        db_password = _url_password(self.database_url.get_secret_value())
        if db_password.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "environment=production refuses a database URL without a real password"
            )
        return self


def _url_password(url: str) -> str:
    userinfo = url.partition("://")[2].partition("@")
    if not userinfo[1]:
        return ""
    return userinfo[0].partition(":")[2]


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], **values: Any) -> SettingsT:
    """Build settings from the environment (`values` first), or raise one message naming
    every bad value."""
    try:
        return cls(**values)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        lines = []
        for err in exc.errors(include_url=False):
            name = prefix + "__".join(str(part) for part in err["loc"]).upper()
            secret = "secret" in name.lower() or "password" in name.lower() or "url" in name.lower()
            got = "" if secret or not err["loc"] else f" (got {err['input']!r})"
            lines.append(f"  {name or cls.__name__}: {err['msg']}{got}")
        raise ConfigurationError(
            f"invalid settings for {cls.__name__}:\n" + "\n".join(lines)
        ) from None
