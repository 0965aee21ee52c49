"""The router's metrics; names declared once, labels bounded by the policy (queues, rules)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "switchboard_router_decisions_total",
    "Routing decisions made, by queue, queue kind and matched rule.",
    ["queue", "queue_kind", "rule"],
)
OVERFLOWS = Counter(
    "switchboard_router_overflows_total",
    "Contacts that left their first-choice queue, by reason and that queue.",
    ["reason", "from_queue"],
)
DECISION_LATENCY = Histogram(
    "switchboard_router_decision_latency_seconds",
    "Time from the contact's event time (arrival) to its routing decision.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OPEN_CONTACTS = Gauge(
    "switchboard_router_open_contacts",
    "Open contacts per queue (all router instances), as read for the last batch.",
    ["queue"],
)
ESTIMATED_WAIT = Gauge(
    "switchboard_router_estimated_wait_seconds",
    "Erlang C estimated wait for a new contact, per queue and channel (+Inf when saturated).",
    ["queue", "channel"],
)
OCCUPANCY = Gauge(
    "switchboard_router_queue_occupancy_ratio",
    "Open contacts in agent-equivalents over agents on shift, per queue.",
    ["queue"],
)
AGENTS_NEEDED = Gauge(
    "switchboard_router_agents_needed",
    "Agents on the phones Erlang C asks for, per queue and channel, for the arrivals of the"
    " recent window at the policy's target share and first-response time.",
    ["queue", "channel"],
)
STAFFING_GAP = Gauge(
    "switchboard_router_staffing_gap_agents",
    "Agents needed minus agents on shift, per queue (above zero: short of people).",
    ["queue"],
)
POLICY_RELOADS = Counter(
    "switchboard_router_policy_reloads_total",
    "Policy file changes seen, by result: applied or refused (invalid; the old one stays).",
    ["result"],
)
POLICY_ACTIVE = Gauge(
    "switchboard_router_policy_active_info",
    "1 for the active policy version (only the active one is present).",
    ["version"],
)
