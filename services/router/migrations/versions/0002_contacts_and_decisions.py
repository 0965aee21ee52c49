"""Live load and stored decisions.

`routing.contacts` holds one row per routed contact and its state (open until a
lifecycle event resolves or abandons it): the open rows per queue are the live load
that every router instance reads. `routing.decisions` keeps each decision as it was
produced, so a replayed input re-emits the identical event, and serves the admin API.

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
        "CREATE TABLE routing.contacts ("
        " contact_id text PRIMARY KEY,"
        " queue_id text,"
        " channel text,"
        " status text NOT NULL CHECK (status IN ('open', 'resolved', 'abandoned')),"
        " decision_id text,"
        " opened_at timestamptz NOT NULL DEFAULT now(),"
        " updated_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute(
        "CREATE INDEX contacts_open_by_queue ON routing.contacts (queue_id, channel, opened_at)"
        " WHERE status = 'open'"
    )
    op.execute(
        "CREATE TABLE routing.decisions ("
        " decision_id text PRIMARY KEY,"
        " contact_id text NOT NULL,"
        " queue_id text NOT NULL,"
        " policy_version text NOT NULL,"
        " decided_at timestamptz NOT NULL,"
        " event text NOT NULL)"
    )
    op.execute(
        "CREATE INDEX decisions_by_contact ON routing.decisions (contact_id, decided_at DESC)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE routing.decisions")
    op.execute("DROP TABLE routing.contacts")
