"""The processed-event ledger: ids of events whose effects are applied.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from switchboard_runtime.migrations import create_ledger, drop_ledger

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_ledger()


def downgrade() -> None:
    drop_ledger()
