"""Settings: defaults that run locally, and production refusing the development secret."""

from __future__ import annotations

import json

import pytest

from router import DEFAULT_POLICY
from router.config import DEV_PSEUDONYM_KEY, RouterSettings
from switchboard_runtime.errors import ConfigurationError
from switchboard_runtime.settings import load_settings

SAFE_PRODUCTION = {
    "ROUTER_ENVIRONMENT": "production",
    "ROUTER_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
    "ROUTER_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
    "ROUTER_KAFKA__SASL_USERNAME": "router",
    "ROUTER_KAFKA__SASL_PASSWORD": "a-real-kafka-password",
    "ROUTER_DATABASE_URL": "postgresql+asyncpg://router:a-real-db-password@db/switchboard",
    "ROUTER_AUTH__TOKENS": json.dumps([{"name": "ops", "sha256": "ab" * 32, "scopes": []}]),
}


def test_defaults_run_locally_with_the_example_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_POLICY_PATH", raising=False)
    settings = load_settings(RouterSettings)
    assert settings.policy_path == DEFAULT_POLICY
    assert settings.http_port == 8102
    assert settings.pseudonym_key.get_secret_value() == DEV_PSEUDONYM_KEY


@pytest.mark.parametrize("key", [None, "changeme", "short-key"])
def test_production_refuses_the_default_or_a_weak_pseudonym_key(
    monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    for name, value in SAFE_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    if key is not None:
        monkeypatch.setenv("ROUTER_PSEUDONYM_KEY", key)
    with pytest.raises(ConfigurationError, match="ROUTER_PSEUDONYM_KEY"):
        load_settings(RouterSettings)


def test_production_accepts_a_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SAFE_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ROUTER_PSEUDONYM_KEY", "k3y-from-the-secret-store-0123")
    assert load_settings(RouterSettings).environment.value == "production"
