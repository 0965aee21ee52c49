"""When a contact arrived, by its own event time: the period the what-if replay reads
and the window staffing counts arrivals over.

`opened_at` is when the router decided the contact (its processing time): a backlog
decided an hour or a day late would fall into the wrong period and arrive at the wrong
simulated times. `arrived_at` is the decision's `arrived_at` (the enriched contact's
event time), filled in from the stored decision events for the rows already recorded. A
row only a lifecycle event created (no decision yet) has none until its decision comes.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE routing.contacts ADD COLUMN arrived_at timestamptz")
    op.execute(
        "UPDATE routing.contacts AS c"
        " SET arrived_at = CAST(CAST(d.event AS jsonb) #>> '{data,arrived_at}' AS timestamptz)"
        " FROM routing.decisions AS d WHERE d.decision_id = c.decision_id"
    )
    # The period query filters and orders by it (contact id breaks ties); staffing's window
    # too, so the index on opened_at (0004) serves nothing any more and only costs writes.
    op.execute("CREATE INDEX contacts_by_arrived_at ON routing.contacts (arrived_at, contact_id)")
    op.execute("DROP INDEX routing.contacts_by_opened_at")


def downgrade() -> None:
    op.execute("CREATE INDEX contacts_by_opened_at ON routing.contacts (opened_at)")
    op.execute("DROP INDEX routing.contacts_by_arrived_at")
    op.execute("ALTER TABLE routing.contacts DROP COLUMN arrived_at")
