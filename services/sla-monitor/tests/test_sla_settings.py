"""What sla-monitor's settings change of the shared ones."""

from __future__ import annotations

from sla_monitor.config import SlaSettings
from switchboard_runtime.settings import KafkaSettings


def test_a_long_polling_fetch_is_capped_so_idle_partitions_do_not_hold_alerts_back() -> None:
    settings = SlaSettings(kafka=KafkaSettings(fetch_max_wait_ms=500))
    assert settings.kafka.fetch_max_wait_ms == settings.gate_fetch_wait_ms == 100


def test_a_fetch_wait_within_the_cap_is_kept() -> None:
    settings = SlaSettings(kafka=KafkaSettings(fetch_max_wait_ms=30), gate_fetch_wait_ms=50)
    assert settings.kafka.fetch_max_wait_ms == 30
