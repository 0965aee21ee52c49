"""sla-monitor's settings, read once from `SLA_*` environment variables at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from switchboard_events import CONTACTS_LIFECYCLE, ROUTING_DECISIONS, SLA_ALERTS
from switchboard_runtime.service import ServiceSpec
from switchboard_runtime.settings import ServiceSettings

SCHEMA = "sla"
SERVICE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = SERVICE_DIR / "policies" / "sla.yaml"
"""services/sla-monitor/policies/sla.yaml, next to the package's source tree."""
MIGRATIONS = SERVICE_DIR / "migrations"
MAX_WINDOW_S = 7 * 86_400


class SlaSettings(ServiceSettings):
    """Nested values use `__`, e.g. `SLA_KAFKA__BOOTSTRAP`."""

    model_config = SettingsConfigDict(env_prefix="SLA_", env_nested_delimiter="__", extra="ignore")

    http_port: int = Field(8103, ge=0, le=65535)
    policy_path: Path = Field(DEFAULT_POLICY, description="the SLA policy YAML file")
    policy_poll_s: float = Field(
        2.0, gt=0, le=3600, description="how often the policy file is checked for changes"
    )
    scheduler_enabled: bool = Field(True, description="fire due alerts from this instance")
    scheduler_poll_s: float = Field(
        0.25, ge=0.01, le=10, description="how often the scheduler looks for due alerts"
    )
    scheduler_batch: int = Field(500, ge=1, le=10_000, description="due alerts claimed per round")
    republish_after_s: float = Field(
        5.0,
        ge=0.5,
        le=3600,
        description="re-publish an alert recorded but not acknowledged after this long (crash recovery)",
    )
    live_refresh_s: float = Field(
        10.0, ge=0.5, le=3600, description="how often the live service-level gauges are refreshed"
    )
    live_windows_s: list[int] = Field(
        default_factory=lambda: [900, 3600],
        description="sliding windows of the live service level, in seconds (JSON list)",
    )
    scorecard_refresh_s: float = Field(
        30.0, ge=0.5, le=3600, description="how often the scorecard gauges are refreshed"
    )
    scorecard_windows_s: list[int] = Field(
        default_factory=lambda: [86_400, 7 * 86_400],
        description="sliding windows of the scorecard gauges, in seconds (JSON list)",
    )
    fcr_window_s: float = Field(
        86_400.0,
        ge=1,
        le=90 * 86_400,
        description="first-contact resolution: a contact of the same customer and type arriving"
        " within this long after a resolution makes it a repeat",
    )

    @model_validator(mode="after")
    def _windows(self) -> Self:
        for name in ("live_windows_s", "scorecard_windows_s"):
            windows = getattr(self, name)
            if not windows or any(w < 60 or w > MAX_WINDOW_S for w in windows):
                raise ValueError(f"{name}: give 1+ windows between 60 and {MAX_WINDOW_S} seconds")
        return self

    @property
    def decisions_topic(self) -> str:
        return ROUTING_DECISIONS + self.topic_suffix

    @property
    def lifecycle_topic(self) -> str:
        return CONTACTS_LIFECYCLE + self.topic_suffix

    @property
    def alerts_topic(self) -> str:
        return SLA_ALERTS + self.topic_suffix


SERVICE = ServiceSpec(
    name="sla-monitor",
    package="sla_monitor",
    env_prefix="SLA_",
    schema=SCHEMA,
    migrations=MIGRATIONS,
    default_port=SlaSettings.model_fields["http_port"].default,
    consumes=(ROUTING_DECISIONS, CONTACTS_LIFECYCLE),
    produces=(SLA_ALERTS,),
    settings=SlaSettings,
)
