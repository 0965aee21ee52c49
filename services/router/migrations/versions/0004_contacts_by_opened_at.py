"""Contacts by the time they were placed: the arrivals staffing counts over its window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX contacts_by_opened_at ON routing.contacts (opened_at)")


def downgrade() -> None:
    op.execute("DROP INDEX routing.contacts_by_opened_at")
