"""OLAs: alerts keyed by team too, and each OLA clock's outcome for the attainment per team.

- `due_alerts` and `alerts` get `team` ('' for SLA alerts, the receiving team for an
  OLA's), part of the key: a team's OLA levels are alerts of their own. Rows written
  before keep their keys ('' ) and ids.
- `ola_clocks`: one row per handover (contact, team, cycle) with how its OLA went
  (`pending`, `met`, `missed`, `excluded`), rewritten with the contact's summary.

The downgrade deletes the OLAs' alerts and timers (`team <> ''`) with `ola_clocks`.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("due_alerts", "alerts")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE sla.{table} ADD COLUMN team text NOT NULL DEFAULT ''")
        op.execute(f"ALTER TABLE sla.{table} DROP CONSTRAINT {table}_pkey")
        op.execute(
            f"ALTER TABLE sla.{table} ADD PRIMARY KEY"
            " (contact_id, target, kind, cycle, level, team)"
        )
    op.execute(
        """
        CREATE TABLE sla.ola_clocks (
            contact_id text NOT NULL,
            team text NOT NULL,
            cycle integer NOT NULL,
            queue_id text NOT NULL,
            started_at timestamptz NOT NULL,
            state text NOT NULL,
            due_at timestamptz,
            PRIMARY KEY (contact_id, team, cycle)
        )
        """
    )
    op.execute("CREATE INDEX ola_clocks_started ON sla.ola_clocks (started_at)")


def downgrade() -> None:
    op.execute("DROP TABLE sla.ola_clocks")
    for table in TABLES:
        # Without `team` an OLA's alerts and timers would read as the SLA's (and collide
        # with them on the old key): they go with the OLAs.
        op.execute(f"DELETE FROM sla.{table} WHERE team <> ''")
        op.execute(f"ALTER TABLE sla.{table} DROP CONSTRAINT {table}_pkey")
        op.execute(
            f"ALTER TABLE sla.{table} ADD PRIMARY KEY (contact_id, target, kind, cycle, level)"
        )
        op.execute(f"ALTER TABLE sla.{table} DROP COLUMN team")
