"""Event-time watermarks: timers fire only once their contact's partitions are read that far.

- `watermarks`: per (topic, partition) of the consumed topics, the instant up to which
  the consumer has processed every record (written after each poll; never moves back).
- `due_alerts.partition`: the partition of the contact's records (decisions and
  lifecycle share it). NULL for timers written before this revision: those wait for
  every partition's watermark.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sla.watermarks (
            topic text NOT NULL,
            partition integer NOT NULL,
            consumed_until timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (topic, partition)
        )
        """
    )
    op.execute("ALTER TABLE sla.due_alerts ADD COLUMN partition integer")


def downgrade() -> None:
    op.execute("ALTER TABLE sla.due_alerts DROP COLUMN partition")
    op.execute("DROP TABLE sla.watermarks")
