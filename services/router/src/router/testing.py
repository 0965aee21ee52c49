"""Builders for tests and benchmarks: a small policy as data, and enriched contacts."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import yaml

from router.domain.engine import CompiledPolicy, Decision, Snapshot
from router.domain.policy import load_policy, policy_version
from router.domain.rules import Facts
from switchboard_events import (
    ContactEnriched,
    ContactEnrichedData,
    ContactLifecycle,
    ContactLifecycleData,
    ContactReceivedData,
    CustomerProfile,
    HistorySummary,
    Identification,
    LifecycleKind,
    Sender,
)

MONDAY_10_LONDON = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
SATURDAY_10_LONDON = datetime(2025, 3, 8, 10, 0, tzinfo=UTC)
RAW_PHONE = "+44 7700 900958"
RAW_EMAIL = "Ivan Petrov <IVAN.Petrov@Example.com>"

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
    return CompiledPolicy(load_policy(content), policy_version(content))


def decide(
    event: ContactEnriched,
    policy: CompiledPolicy | None = None,
    at: datetime = MONDAY_10_LONDON,
    load: dict[tuple[str, str], int] | None = None,
) -> Decision:
    """One decision, explained, against `load` open contacts per (queue, channel)."""
    policy = policy or compile_policy()
    return policy.decide(Facts.of(event), Snapshot(policy, at, load or {}), explain=True)


def enriched(
    contact_id: str = "c-1",
    *,
    channel: str = "call",
    contact_type: str = "general",
    status: str = "known",
    tier: str = "standard",
    customer_id: str = "cust-1",
    language: str | None = None,
    customer_language: str | None = None,
    region: str | None = "UK",
    repeat: bool = False,
    subject: str | None = None,
    attributes: dict[str, Any] | None = None,
    hint: int | None = None,
    phone: str | None = RAW_PHONE,
    email: str | None = None,
    display_name: str | None = "Ivan Petrov",
    at: datetime = MONDAY_10_LONDON,
    inbound_event_id: str | None = None,
) -> ContactEnriched:
    """An enriched contact as profile-lookup would publish it."""
    if channel == "email" and email is None:
        email = RAW_EMAIL
    known = status == "known"
    identification = Identification(
        status=status,
        matched_by="phone" if known else None,
        candidates={"known": 1, "unknown": 0}.get(status, 2),
    )
    customer = (
        CustomerProfile(
            customer_id=customer_id,
            tier=tier,
            display_name=display_name,
            language=customer_language,
            region=region,
            timezone="Europe/London",
        )
        if known
        else None
    )
    contact = ContactReceivedData(
        contact_id=contact_id,
        channel=channel,
        sender=Sender(phone=phone, email=email, display_name=display_name),
        contact_type=contact_type,
        priority_hint=hint,
        language_hint=language,
        subject=subject,
        attributes=attributes or {},
    )
    history = HistorySummary(
        contacts_24h=1 if repeat else 0,
        contacts_7d=1 if repeat else 0,
        contacts_30d=1 if repeat else 0,
        repeat_contact=repeat,
    )
    return ContactEnriched(
        id=f"enr-{contact_id}",
        source="switchboard/profile-lookup",
        subject=contact_id,
        time=at,
        producedtime=at,
        data=ContactEnrichedData(
            inbound_event_id=inbound_event_id or f"in-{contact_id}",
            contact=contact,
            identification=identification,
            customer=customer,
            history=history,
        ),
    )


def lifecycle(
    contact_id: str, kind: str, *, event_id: str | None = None, to_queue: str | None = None
) -> ContactLifecycle:
    now = datetime.now(UTC)
    return ContactLifecycle(
        id=event_id or f"life-{contact_id}-{kind}",
        source="desktop/agent",
        subject=contact_id,
        time=now,
        producedtime=now,
        data=ContactLifecycleData(
            contact_id=contact_id,
            kind=LifecycleKind(kind),
            to_queue_id=to_queue,
        ),
    )
