"""The audit trail: an append-only log of every access to customer data, and its outbox.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02

- `audit_log`: who (actor), what (action), when, which customer ids and the outcome;
  never a value read or written, so erasing a customer leaves nothing here to erase.
  Append-only in the database too: a trigger refuses every UPDATE, DELETE and TRUNCATE,
  whoever sends it (the service's own role owns the table, so a REVOKE alone would not
  bind it). Where migrations run as a separate role, grant the service role only
  SELECT and INSERT on it as well.
- `audit_outbox`: the ids of records not yet published on audit.events. A record and
  its outbox row are inserted in the transaction of the action they describe, so a
  crash after the action cannot lose the record; the publisher deletes an outbox row
  once the broker has acknowledged the event (the log itself is never touched).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE profiles.audit_log (
            audit_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at            timestamptz NOT NULL,
            actor         text NOT NULL,
            action        text NOT NULL,
            customer_ids  text[] NOT NULL,
            outcome       text NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX audit_log_actor ON profiles.audit_log (actor, audit_id)")
    op.execute("CREATE INDEX audit_log_at ON profiles.audit_log (at)")
    op.execute("CREATE INDEX audit_log_customers ON profiles.audit_log USING gin (customer_ids)")
    op.execute(
        """
        CREATE FUNCTION profiles.audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'profiles.audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON profiles.audit_log"
        " FOR EACH ROW EXECUTE FUNCTION profiles.audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON profiles.audit_log"
        " FOR EACH STATEMENT EXECUTE FUNCTION profiles.audit_log_append_only()"
    )
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON profiles.audit_log FROM PUBLIC")
    op.execute(
        """
        CREATE TABLE profiles.audit_outbox (
            audit_id  bigint PRIMARY KEY REFERENCES profiles.audit_log (audit_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE profiles.audit_outbox")
    op.execute("DROP TABLE profiles.audit_log")
    op.execute("DROP FUNCTION profiles.audit_log_append_only()")
