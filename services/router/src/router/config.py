"""The router's settings, read once from `ROUTER_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from router import DEFAULT_POLICY, MIGRATIONS, SCHEMA
from switchboard_events import (
    CONTACTS_ENRICHED,
    CONTACTS_LIFECYCLE,
    ROUTING_DECISIONS,
    VENDOR_DECISIONS,
    vendor_decisions,
)
from switchboard_runtime.service import ServiceSpec
from switchboard_runtime.settings import PLACEHOLDER_SECRETS, Environment, ServiceSettings

DEV_PSEUDONYM_KEY = "switchboard-dev-pseudonym-key"
MIN_KEY_CHARS = 16


class RouterSettings(ServiceSettings):
    """`ROUTER_POLICY_PATH`, `ROUTER_PSEUDONYM_KEY` ... on top of the shared service settings."""

    model_config = SettingsConfigDict(
        env_prefix="ROUTER_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = Field(8102, ge=0, le=65535)
    policy_path: Path = Field(DEFAULT_POLICY, description="routing policy YAML")
    policy_poll_seconds: float = Field(
        2.0, gt=0, le=3600, description="how often the policy file is checked for changes"
    )
    pseudonym_key: SecretStr = Field(
        SecretStr(DEV_PSEUDONYM_KEY),
        description="HMAC key of the pseudonymous customer ids that minimised queues see",
    )
    open_contact_ttl_hours: float = Field(
        24, gt=0, description="open contacts older than this no longer count as load"
    )
    recent_decisions_limit: int = Field(20, ge=1, le=1000)
    staffing_window_seconds: float = Field(
        1800, gt=0, description="arrivals over this window give the rate staffing plans for"
    )
    staffing_refresh_seconds: float = Field(
        30, gt=0, description="how often the staffing gauges are computed again"
    )
    staffing_max_occupancy: float = Field(
        0.85, gt=0, le=1, description="busiest share of their time agents may be planned at"
    )
    vendor_topics: bool = Field(
        True,
        description="also write each vendor's decisions to routing.decisions.vendor.<vendor>,"
        " the one topic its Kafka principal may read (created at start and on a reload)",
    )

    @model_validator(mode="after")
    def _real_key_in_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        key = self.pseudonym_key.get_secret_value()
        if (
            key == DEV_PSEUDONYM_KEY
            or key.lower() in PLACEHOLDER_SECRETS
            or len(key) < MIN_KEY_CHARS
        ):
            raise ValueError(
                "environment=production refuses the default or a placeholder ROUTER_PSEUDONYM_KEY:"
                f" set a secret of at least {MIN_KEY_CHARS} characters"
            )
        return self

    @property
    def enriched_topic(self) -> str:
        return CONTACTS_ENRICHED + self.topic_suffix

    @property
    def lifecycle_topic(self) -> str:
        return CONTACTS_LIFECYCLE + self.topic_suffix

    @property
    def decisions_topic(self) -> str:
        return ROUTING_DECISIONS + self.topic_suffix

    def vendor_topic(self, vendor: str) -> str:
        return vendor_decisions(vendor) + self.topic_suffix


SERVICE = ServiceSpec(
    name="router",
    package="router",
    env_prefix="ROUTER_",
    schema=SCHEMA,
    migrations=MIGRATIONS,
    default_port=RouterSettings.model_fields["http_port"].default,
    consumes=(CONTACTS_ENRICHED, CONTACTS_LIFECYCLE),
    produces=(ROUTING_DECISIONS, VENDOR_DECISIONS.name),
    settings=RouterSettings,
)
