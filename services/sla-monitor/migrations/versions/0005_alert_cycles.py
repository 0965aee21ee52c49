"""Alerts are numbered per cycle: (contact, target, kind, cycle, level) is one alert.

Before, levels counted on across the cycles of a target (the breach of a reopened
contact was level 2); now each cycle numbers its levels from 1 and the cycle is part
of the key of `due_alerts` and `alerts`. Rows written before this revision are cycle 1
with the level they had, so they keep their keys and alert ids.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("due_alerts", "alerts")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE sla.{table} ADD COLUMN cycle integer NOT NULL DEFAULT 1")
        op.execute(f"ALTER TABLE sla.{table} DROP CONSTRAINT {table}_pkey")
        op.execute(
            f"ALTER TABLE sla.{table} ADD PRIMARY KEY (contact_id, target, kind, cycle, level)"
        )


def downgrade() -> None:
    # Fails (duplicate key) once a later cycle has fired: levels no longer count on.
    for table in TABLES:
        op.execute(f"ALTER TABLE sla.{table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE sla.{table} ADD PRIMARY KEY (contact_id, target, kind, level)")
        op.execute(f"ALTER TABLE sla.{table} DROP COLUMN cycle")
