"""When a contact was closed, by the closing lifecycle event's own time.

`updated_at` is when the router consumed the change (a backlog consumed late would make
every handle time that late); the what-if replay needs the event time. Contacts closed
before this revision have none (NULL): the replay counts their handle time as unknown.

Revision ID: 0012
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE routing.contacts ADD COLUMN closed_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE routing.contacts DROP COLUMN closed_at")
