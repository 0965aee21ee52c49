"""The ledger names events by (type, source, id) and records the claiming record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Ids are unique per source only (CloudEvents), so a ledger keyed on the id alone dropped
a second source's event with the same id. Existing rows stay as legacy rows that match
on the id alone (see `switchboard_runtime.db.LEDGER_UPGRADE`).
"""

from collections.abc import Sequence

from alembic import op

from switchboard_runtime.db import LEDGER_DOWNGRADE, LEDGER_UPGRADE

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in LEDGER_UPGRADE:
        op.execute(statement.format(schema="profiles"))


def downgrade() -> None:
    for statement in LEDGER_DOWNGRADE:
        op.execute(statement.format(schema="profiles"))
