"""Contacts record the source of their inbound event: ids are unique per source only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Two connectors may send different contacts under the same event id, so the inbound
event id alone is no longer unique. Rows recorded before keep a NULL source and are
found by their id alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE profiles.contacts ADD COLUMN inbound_source text,"
        " DROP CONSTRAINT contacts_inbound_event_id_key,"
        " ADD CONSTRAINT contacts_inbound_event UNIQUE (inbound_event_id, inbound_source)"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE profiles.contacts DROP CONSTRAINT contacts_inbound_event,"
        " DROP COLUMN inbound_source,"
        " ADD CONSTRAINT contacts_inbound_event_id_key UNIQUE (inbound_event_id)"
    )
