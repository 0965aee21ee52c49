"""SLA state: contacts (decision and clock summary), lifecycle steps, due alerts, fired alerts.

- `contacts`: one row per contact seen (decision fields once it arrives) and a summary of
  its first-response clock for the live service level.
- `lifecycle`: every lifecycle step, kept so the clocks can be folded again from scratch
  (steps may arrive before the decision).
- `due_alerts`: the timers; the scheduler claims rows with `due_at <= now` (SKIP LOCKED).
- `alerts`: one row per alert ever fired, keyed by (contact, target, kind, level): the
  unique claim that makes each alert fire once, and the outbox (`published_at`) that
  gets it onto the broker after a crash.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sla.contacts (
            contact_id text PRIMARY KEY,
            decision_id text,
            decided_at timestamptz,
            queue_id text,
            queue_kind text,
            vendor text,
            priority integer,
            priority_label text,
            channel text,
            tier text,
            arrived_at timestamptz,
            status text NOT NULL DEFAULT 'open',
            fr_state text,
            fr_due_at timestamptz,
            fr_at timestamptz,
            fr_elapsed_s double precision,
            resolved_at timestamptz,
            abandoned_at timestamptz,
            policy_version text,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX contacts_arrived ON sla.contacts (arrived_at)")
    op.execute("CREATE INDEX contacts_first_response ON sla.contacts (fr_at)")
    op.execute(
        "CREATE INDEX contacts_open ON sla.contacts (queue_id, channel, arrived_at)"
        " WHERE status = 'open' AND arrived_at IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE sla.lifecycle (
            seq bigserial PRIMARY KEY,
            event_id text NOT NULL,
            contact_id text NOT NULL,
            kind text NOT NULL,
            at timestamptz NOT NULL,
            to_queue_id text
        )
        """
    )
    op.execute("CREATE INDEX lifecycle_contact ON sla.lifecycle (contact_id, seq)")
    op.execute(
        """
        CREATE TABLE sla.due_alerts (
            contact_id text NOT NULL,
            target text NOT NULL,
            kind text NOT NULL,
            level integer NOT NULL,
            due_at timestamptz NOT NULL,
            alert jsonb NOT NULL,
            PRIMARY KEY (contact_id, target, kind, level)
        )
        """
    )
    op.execute("CREATE INDEX due_alerts_due ON sla.due_alerts (due_at)")
    op.execute(
        """
        CREATE TABLE sla.alerts (
            contact_id text NOT NULL,
            target text NOT NULL,
            kind text NOT NULL,
            level integer NOT NULL,
            alert_id text NOT NULL UNIQUE,
            queue_id text NOT NULL,
            channel text NOT NULL,
            due_at timestamptz NOT NULL,
            fired_at timestamptz NOT NULL,
            payload bytea NOT NULL,
            published_at timestamptz,
            PRIMARY KEY (contact_id, target, kind, level)
        )
        """
    )
    op.execute("CREATE INDEX alerts_fired ON sla.alerts (fired_at) WHERE kind = 'breach'")
    op.execute(
        "CREATE INDEX alerts_unpublished ON sla.alerts (fired_at) WHERE published_at IS NULL"
    )


def downgrade() -> None:
    for table in ("alerts", "due_alerts", "lifecycle", "contacts"):
        op.execute(f"DROP TABLE sla.{table}")
