"""The scorecard: one row per contact with what it cost and how it went.

- `scorecard`: the routed queue (kind, vendor), channel, contact type, the customer's
  pseudonymous key and the cost from the decision; the first-response and resolution
  times and outcomes from the folded clocks; the latest CSAT score. A CSAT step may come
  before the decision: the row exists then with only the score.
- the index `scorecard_repeats` finds a customer's later contacts of a type (first-contact
  resolution is computed when read, so a changed window applies to the past too).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sla.scorecard (
            contact_id text PRIMARY KEY,
            decided_at timestamptz,
            arrived_at timestamptz,
            queue_id text,
            queue_kind text,
            vendor text,
            channel text,
            contact_type text,
            customer_key text,
            cost double precision,
            first_response_s double precision,
            fr_outcome text,
            resolved_at timestamptz,
            resolution_s double precision,
            resolution_outcome text,
            abandoned boolean NOT NULL DEFAULT false,
            csat smallint,
            csat_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX scorecard_arrived ON sla.scorecard (arrived_at)")
    op.execute(
        "CREATE INDEX scorecard_repeats ON sla.scorecard (customer_key, contact_type, arrived_at)"
        " WHERE customer_key IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE sla.scorecard")
