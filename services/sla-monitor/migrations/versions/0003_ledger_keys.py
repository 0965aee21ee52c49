"""The ledger names events by (type, source, id) and records the claiming record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Ids are unique per source only (CloudEvents), so a ledger keyed on the id alone dropped
a second source's event with the same id. Existing rows stay as legacy rows that match
on the id alone (see `switchboard_runtime.db.LEDGER_UPGRADE`).
"""

from collections.abc import Sequence

from switchboard_runtime.migrations import key_ledger_by_source, unkey_ledger_by_source

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    key_ledger_by_source()


def downgrade() -> None:
    unkey_ledger_by_source()
