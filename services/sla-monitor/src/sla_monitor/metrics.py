"""sla-monitor's metrics, declared once. Labels are bounded: queue, channel, window, target, kind."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STEPS = Counter(
    "switchboard_sla_lifecycle_steps_total",
    "Lifecycle steps applied to SLA clocks, by kind (once, when their batch commits).",
    ["kind"],
)
DECISIONS = Counter(
    "switchboard_sla_decisions_total",
    "Routing decisions that started SLA clocks (once, when their batch commits).",
)
WAITING_FOR_DECISION = Counter(
    "switchboard_sla_steps_before_decision_total",
    "Lifecycle steps that arrived before their contact's routing decision (kept, applied"
    " later; once, when their batch commits).",
)
TIMERS_SCHEDULED = Counter(
    "switchboard_sla_timers_scheduled_total",
    "Alert timers written to the due-alerts table, when committed (re-scheduling counts again).",
)
ALERTS = Counter(
    "switchboard_sla_alerts_total",
    "SLA alerts fired and acknowledged by the broker, by target and kind.",
    ["target", "kind"],
)
BREACH_CAUSES = Counter(
    "switchboard_sla_breaches_by_cause_total",
    "Breaches fired, by target, the queue where most of the counted time went, and the cause"
    " (queue, transfers, vendor; unknown for timers from before causes were recorded).",
    ["target", "queue", "cause"],
)
ALERT_LAG = Histogram(
    "switchboard_sla_alert_lag_seconds",
    "Fire time minus due time of each alert.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
REPUBLISHED = Counter(
    "switchboard_sla_alerts_republished_total",
    "Alerts re-published from the outbox: recorded, but not acknowledged before a crash.",
)
SCHEDULER_ERRORS = Counter(
    "switchboard_sla_scheduler_transient_errors_total",
    "Transient failures of the alert scheduler (database or broker), retried.",
)
HELD_BACK = Gauge(
    "switchboard_sla_alerts_held_back",
    "Timers past due that wait for the consumer to read their partition that far (it lags).",
)
SCHEDULER_LAST_RUN = Gauge(
    "switchboard_sla_scheduler_last_run_timestamp_seconds",
    "Unix time of the scheduler's last round; a stuck scheduler stops moving it.",
)
POLICY = Gauge(
    "switchboard_sla_policy_info",
    "The active SLA policy (value 1), by name and version.",
    ["name", "version"],
)

POLICY_RELOADS = Counter(
    "switchboard_sla_policy_reloads_total",
    "Policy file changes seen, by result: applied or refused (invalid; the old one stays).",
    ["result"],
)
UNKNOWN_CONTRACTS = Counter(
    "switchboard_sla_unknown_contracts_total",
    "Decisions naming a customer contract the SLA policy does not define (their tier's"
    " targets apply), counted once when applied: not again on a retry, replay or re-plan.",
)
REPLANNED = Counter(
    "switchboard_sla_contacts_replanned_total",
    "Open contacts whose clocks were folded again after a policy change.",
)

_LIVE = ["queue", "channel", "window"]
SERVICE_LEVEL = Gauge(
    "switchboard_sla_service_level_ratio",
    "Share of contacts arrived in the window whose first response met its target.",
    _LIVE,
)
CONTACTS = Gauge("switchboard_sla_contacts", "Contacts arrived in the window.", _LIVE)
FIRST_RESPONSE_AVG = Gauge(
    "switchboard_sla_first_response_avg_seconds",
    "Average business time to first response, of first responses in the window.",
    _LIVE,
)
FIRST_RESPONSE_P90 = Gauge(
    "switchboard_sla_first_response_p90_seconds",
    "90th percentile business time to first response, of first responses in the window.",
    _LIVE,
)
ABANDONMENT = Gauge(
    "switchboard_sla_abandonment_ratio",
    "Share of contacts arrived in the window that were abandoned.",
    _LIVE,
)
BREACHES = Gauge(
    "switchboard_sla_breaches", "SLA breach alerts fired in the window (not OLAs').", _LIVE
)
OPEN_CONTACTS = Gauge(
    "switchboard_sla_open_contacts",
    "Contacts neither resolved nor abandoned.",
    ["queue", "channel"],
)
OLDEST_WAITING = Gauge(
    "switchboard_sla_oldest_waiting_seconds",
    "Age of the oldest open contact still waiting for a first response.",
    ["queue", "channel"],
)
_OLA = ["team", "window"]
OLA_ATTAINMENT = Gauge(
    "switchboard_sla_ola_attainment_ratio",
    "Share of handovers to the team in the window whose OLA was met (decided ones only).",
    _OLA,
)
OLA_HANDOVERS = Gauge(
    "switchboard_sla_ola_handovers",
    "Handovers to the team in the window that started an OLA clock.",
    _OLA,
)
OLA_ALERTS = Counter(
    "switchboard_sla_ola_alerts_total",
    "OLA alerts fired and acknowledged, by receiving team and kind.",
    ["team", "kind"],
)
HELD_FOR_HOURS = Counter(
    "switchboard_sla_alerts_held_total",
    "Alerts sent at the team's next opening instead of when reached (quiet hours).",
    ["kind"],
)
LIVE_GAUGES = (
    OLA_ATTAINMENT,
    OLA_HANDOVERS,
    SERVICE_LEVEL,
    CONTACTS,
    FIRST_RESPONSE_AVG,
    FIRST_RESPONSE_P90,
    ABANDONMENT,
    BREACHES,
)

# The scorecard (scorecard.py): contacts arrived in the window, by the queue they were
# routed to. Bounded labels: the policy's queues (each with one kind and vendor) x channels.
_SCORECARD = ["queue", "queue_kind", "vendor", "channel", "window"]
SCORECARD_CONTACTS = Gauge(
    "switchboard_sla_scorecard_contacts", "Contacts arrived in the window.", _SCORECARD
)
SCORECARD_COST = Gauge(
    "switchboard_sla_scorecard_cost",
    "What the contacts arrived in the window cost (the queue's cost per contact when decided).",
    _SCORECARD,
)
SCORECARD_COST_PER_CONTACT = Gauge(
    "switchboard_sla_scorecard_cost_per_contact",
    "Average cost of a contact arrived in the window (of those whose decision gave a cost).",
    _SCORECARD,
)
SCORECARD_FIRST_RESPONSE_AVG = Gauge(
    "switchboard_sla_scorecard_first_response_avg_seconds",
    "Average time to first response (SLA clock time) of contacts arrived in the window.",
    _SCORECARD,
)
SCORECARD_FIRST_RESPONSE_P90 = Gauge(
    "switchboard_sla_scorecard_first_response_p90_seconds",
    "90th percentile time to first response of contacts arrived in the window.",
    _SCORECARD,
)
SCORECARD_RESOLUTION_AVG = Gauge(
    "switchboard_sla_scorecard_resolution_avg_seconds",
    "Average time to resolution (SLA clock time) of resolved contacts arrived in the window.",
    _SCORECARD,
)
SCORECARD_RESOLUTION_P90 = Gauge(
    "switchboard_sla_scorecard_resolution_p90_seconds",
    "90th percentile time to resolution of resolved contacts arrived in the window.",
    _SCORECARD,
)
SCORECARD_CSAT = Gauge(
    "switchboard_sla_scorecard_csat_avg",
    "Average CSAT score (1-5, the latest per contact) of contacts arrived in the window.",
    _SCORECARD,
)
SCORECARD_FCR = Gauge(
    "switchboard_sla_scorecard_first_contact_resolution_ratio",
    "Share of resolved contacts of known customers arrived in the window with no repeat contact"
    " of the same type within the FCR window (of those decided either way).",
    _SCORECARD,
)
SCORECARD_ABANDONMENT = Gauge(
    "switchboard_sla_scorecard_abandonment_ratio",
    "Share of contacts arrived in the window that were abandoned.",
    _SCORECARD,
)
SCORECARD_SLA_ATTAINMENT = Gauge(
    "switchboard_sla_scorecard_sla_attainment_ratio",
    "Share of contacts arrived in the window without an SLA breach alert on any target"
    " (OLA breaches are not counted).",
    _SCORECARD,
)
SCORECARD_GAUGES = (
    SCORECARD_CONTACTS,
    SCORECARD_COST,
    SCORECARD_COST_PER_CONTACT,
    SCORECARD_FIRST_RESPONSE_AVG,
    SCORECARD_FIRST_RESPONSE_P90,
    SCORECARD_RESOLUTION_AVG,
    SCORECARD_RESOLUTION_P90,
    SCORECARD_CSAT,
    SCORECARD_FCR,
    SCORECARD_ABANDONMENT,
    SCORECARD_SLA_ATTAINMENT,
)
