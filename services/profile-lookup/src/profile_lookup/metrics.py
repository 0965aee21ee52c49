"""profile-lookup's own metrics; names declared once, labels bounded (never an id).

Dead letters are counted by the runtime (`switchboard_consumer_dead_letters_total`).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LOOKUPS = Counter(
    "switchboard_profiles_lookups_total",
    "Senders identified, by result: known, unknown, ambiguous, invalid_identity.",
    ["result"],
)
CONFLICTS = Counter(
    "switchboard_profiles_identity_conflicts_total",
    "Contacts whose phone and email belong to different customers.",
)
REPLAYS = Counter(
    "switchboard_profiles_replayed_contacts_total",
    "Inbound events already processed whose stored enriched event was re-emitted.",
)
LOOKUP_SECONDS = Histogram(
    "switchboard_profiles_lookup_duration_seconds",
    "Time to identify the senders of one batch (normalise, query, decide).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
BATCH_SECONDS = Histogram(
    "switchboard_profiles_batch_duration_seconds",
    "Time to handle one batch inside its transaction (lookups, history, writes).",
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_EVENTS = Histogram(
    "switchboard_profiles_batch_events",
    "Valid events per handled batch.",
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
NORMALISE_CACHE = Counter(
    "switchboard_profiles_normalise_cache_requests_total",
    "Normalisation cache look-ups by outcome (hit, miss); hit ratio = hit / (hit + miss).",
    ["outcome"],
)
HISTORY_WRITES = Counter(
    "switchboard_profiles_history_writes_total",
    "Rows written to the contact history, by kind: contact (recorded), lifecycle (updated).",
    ["kind"],
)
IMPORT_ROWS = Counter(
    "switchboard_profiles_import_rows_total",
    "Customer rows imported, by result: imported, updated, rejected.",
    ["result"],
)
AUDIT_PUBLISHED = Counter(
    "switchboard_profiles_audit_published_total",
    "Audit records published on audit.events (again after a crash: the same event ids).",
)
READS_RATE_LIMITED = Counter(
    "switchboard_profiles_reads_rate_limited_total",
    "Customer reads refused with 429 because the caller was over its rate.",
)
AUDIT_UNPUBLISHABLE = Counter(
    "switchboard_profiles_audit_unpublishable_total",
    "Audit records kept in the table but not published: the event contract refuses them.",
)
