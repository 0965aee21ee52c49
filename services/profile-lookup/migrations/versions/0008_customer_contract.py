"""Customers may carry an SLA contract: its id, which the SLA policy's `contracts` define.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE profiles.customers ADD COLUMN contract_id text")


def downgrade() -> None:
    op.execute("ALTER TABLE profiles.customers DROP COLUMN contract_id")
