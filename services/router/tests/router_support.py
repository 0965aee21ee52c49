"""Builders of the router's tests: a small policy as data, compiled, and one decision.

Events come from `switchboard_events.testing` (`enriched`, `lifecycle`, ...)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import yaml

from router.domain.engine import CompiledPolicy, Decision, Snapshot
from router.domain.rules import Facts
from router.policies import compile_policy as compile_content
from switchboard_events import ContactEnriched
from switchboard_runtime.policies import policy_version

MONDAY_10_LONDON = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
SATURDAY_10_LONDON = datetime(2025, 3, 8, 10, 0, tzinfo=UTC)

_OFFICE = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
_BASE: dict[str, Any] = {
    "calendars": [
        {"id": "office", "timezone": "Europe/London", "weekly": _OFFICE},
        {"id": "always", "always_open": True},
    ],
    "queues": [
        {
            "id": "general",
            "kind": "in_house",
            "channels": ["call", "chat", "email"],
            "calendar": "office",
            "capacity": {"agents": 10, "concurrency": {"call": 1, "chat": 2, "email": 5}},
        },
        {
            "id": "billing",
            "kind": "in_house",
            "channels": ["call", "chat", "email"],
            "calendar": "office",
            "capacity": {"agents": 4, "concurrency": {"call": 1, "chat": 2, "email": 5}},
        },
        {
            "id": "vip",
            "kind": "in_house",
            "channels": ["call", "chat", "email", "social"],
            "calendar": "office",
            "capacity": {
                "agents": 2,
                "concurrency": {"call": 1, "chat": 2, "email": 5, "social": 4},
            },
        },
        {
            "id": "german",
            "kind": "in_house",
            "channels": ["call", "chat", "email"],
            "languages": ["de"],
            "calendar": "office",
            "capacity": {"agents": 2, "concurrency": {"call": 1, "chat": 2, "email": 5}},
        },
        {
            "id": "social",
            "kind": "in_house",
            "channels": ["social"],
            "calendar": "office",
            "capacity": {"agents": 2, "concurrency": {"social": 5}},
        },
        {
            "id": "vendor",
            "kind": "outsourced",
            "vendor": "acme-bpo",
            "channels": ["call", "chat", "email", "social"],
            "calendar": "always",
            "capacity": {
                "agents": 50,
                "concurrency": {"call": 1, "chat": 3, "email": 10, "social": 8},
            },
        },
    ],
    "handle_time_seconds": {"call": 300, "chat": 600, "email": 900, "social": 300},
    "sla": {
        "first_response_seconds": {"call": 60, "chat": 120, "email": 3600, "social": 1800},
        "by_priority_label": {"P1": {"call": 30}},
    },
    "priority": {
        "base": 100,
        "channel": {"call": 100, "chat": 50},
        "contact_type": {"complaint": 150},
        "tier": {"vip": 500, "premium": 200},
        "repeat_contact": 150,
        "hint": {1: 300, 5: -50},
        "bands": [
            {"label": "P1", "min": 800},
            {"label": "P2", "min": 500},
            {"label": "P3", "min": 0},
        ],
    },
    "overflow": {
        "queues": ["vendor"],
        "on_closed": True,
        "max_wait_share": 0.8,
        "max_occupancy": 0.9,
    },
    "never_outsource": {
        "tiers": ["vip"],
        "contact_types": ["complaint"],
        "in_house_fallback": "general",
    },
    "rules": [
        {
            "id": "vip",
            "match": {"tier": ["vip"]},
            "action": {"queue": "vip", "fallback": ["general"]},
        },
        {"id": "social", "match": {"channel": ["social"]}, "action": {"queue": "social"}},
        {"id": "german", "match": {"language": ["de"]}, "action": {"queue": "german"}},
        {
            "id": "billing",
            "match": {"contact_type": ["billing"]},
            "action": {"queue": "billing", "fallback": ["general"]},
        },
    ],
    "default": {"queue": "general"},
}


def policy_dict() -> dict[str, Any]:
    """A fresh copy of a small, valid policy to change in a test."""
    return copy.deepcopy(_BASE)


def policy_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def compile_policy(data: dict[str, Any] | None = None) -> CompiledPolicy:
    content = policy_yaml(policy_dict() if data is None else data).encode()
    return compile_content(content, policy_version(content))


def decide(
    event: ContactEnriched,
    policy: CompiledPolicy | None = None,
    at: datetime = MONDAY_10_LONDON,
    load: dict[tuple[str, str], int] | None = None,
) -> Decision:
    """One decision, explained, against `load` open contacts per (queue, channel)."""
    policy = policy or compile_policy()
    return policy.decide(Facts.of(event), Snapshot(policy, at, load or {}), explain=True)
