"""The ledger names events by (type, source, id) and records the claiming record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Ids are unique per source only (CloudEvents), so a ledger keyed on the id alone dropped
a second source's event with the same id. Existing rows stay as legacy rows that match
on the id alone. Part of every service's migration history, in its own schema.
"""

from switchboard_runtime.migrations import key_ledger_by_source as upgrade
from switchboard_runtime.migrations import unkey_ledger_by_source as downgrade

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
__all__ = ["downgrade", "upgrade"]
