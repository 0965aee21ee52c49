"""The service's settings: environment variables with the prefix `PROFILES_`, read once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import phonenumbers
from pydantic import Field, StringConstraints, field_validator
from pydantic_settings import SettingsConfigDict

from switchboard_events.topics import (
    AUDIT_EVENTS,
    CONTACTS_ENRICHED,
    CONTACTS_INBOUND,
    CONTACTS_LIFECYCLE,
)
from switchboard_runtime.ratelimit import RateLimitSettings
from switchboard_runtime.service import ServiceSpec
from switchboard_runtime.settings import ServiceSettings

SCHEMA = "profiles"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

TierName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]


class ProfilesSettings(ServiceSettings):
    """`PROFILES_*` environment variables; see the service README for each one."""

    model_config = SettingsConfigDict(env_prefix="PROFILES_", env_nested_delimiter="__")

    http_port: int = Field(8101, ge=0, le=65535)
    default_region: str = Field(
        "GB",
        description="ISO 3166 region used to read national phone numbers when the event "
        "gives no better hint (attribute `country`, or the dialled number's country).",
    )
    region_attribute: str = Field(
        "country", description="Contact attribute that names the connector's country."
    )
    tiers: list[TierName] = Field(
        default_factory=lambda: ["standard", "premium", "vip"],
        description="Allowed customer tiers; the first is the default for imports without one.",
    )
    repeat_window_hours: float = Field(
        72, gt=0, le=24 * 90, description="A contact within this long after another is a repeat."
    )
    repeat_same_type: bool = Field(
        True, description="A repeat must also have the same contact type as the earlier contact."
    )
    history_lookback_days: int = Field(
        365, ge=30, le=3650, description="Open contacts and satisfaction are counted this far back."
    )
    normalise_cache_size: int = Field(
        100_000, ge=0, description="Spellings remembered by the normalisation cache (0: off)."
    )
    import_chunk_rows: int = Field(1000, ge=1, le=50_000, description="Rows per import upsert.")
    import_max_bytes: int = Field(
        1 << 30, ge=1024, description="Largest body POST /import accepts (the CLI has no limit)."
    )
    customer_reads: RateLimitSettings = Field(
        RateLimitSettings(per_minute=120, burst=30),
        description="Customer reads (GET /customers/{id}, /lookup, a customer's contacts) each"
        " caller may make per instance: PROFILES_CUSTOMER_READS__PER_MINUTE and __BURST.",
    )
    audit_publish_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the audit outbox is looked at when empty."
    )
    migrations_dir: Path = MIGRATIONS_DIR

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                "expected an ISO 3166 region code that phonenumbers knows (GB, RU, US, DE ...),"
                " got another value"
            )
        return region

    @field_validator("tiers")
    @classmethod
    def _some_tiers(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError("expected one or more distinct tier names")
        return value

    def topic(self, name: str) -> str:
        return f"{name}{self.topic_suffix}"

    @property
    def inbound_topic(self) -> str:
        return self.topic(CONTACTS_INBOUND)

    @property
    def lifecycle_topic(self) -> str:
        return self.topic(CONTACTS_LIFECYCLE)

    @property
    def enriched_topic(self) -> str:
        return self.topic(CONTACTS_ENRICHED)

    @property
    def audit_topic(self) -> str:
        return self.topic(AUDIT_EVENTS)


SERVICE = ServiceSpec(
    name="profile-lookup",
    package="profile_lookup",
    env_prefix="PROFILES_",
    schema=SCHEMA,
    migrations=MIGRATIONS_DIR,
    default_port=ProfilesSettings.model_fields["http_port"].default,
    consumes=(CONTACTS_INBOUND, CONTACTS_LIFECYCLE),
    produces=(CONTACTS_ENRICHED, AUDIT_EVENTS),
    settings=ProfilesSettings,
)
