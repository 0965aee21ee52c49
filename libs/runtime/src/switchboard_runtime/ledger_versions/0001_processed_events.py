"""The processed-event ledger: ids of events whose effects are applied.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Part of every service's migration history (`switchboard_runtime.migrations` adds this
folder to each), in that service's own schema.
"""

from switchboard_runtime.migrations import create_ledger as upgrade
from switchboard_runtime.migrations import drop_ledger as downgrade

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
__all__ = ["downgrade", "upgrade"]
