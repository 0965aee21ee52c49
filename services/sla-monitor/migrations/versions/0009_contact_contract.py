"""Contacts keep the customer contract their decision named: its rules set their targets.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02

Contacts decided before this revision have none and keep their tier's targets.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE sla.contacts ADD COLUMN contract_id text")


def downgrade() -> None:
    op.execute("ALTER TABLE sla.contacts DROP COLUMN contract_id")
