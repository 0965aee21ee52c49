"""Customers, their identities, the contact history, merges and erasures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

- `customers`: one row per customer; `external_ref` (CRM id) is unique. A merged
  customer keeps its row as a tombstone with `merged_into` set, so its old CRM id
  still resolves to the survivor.
- `identities`: normalised phone (E.164) and email values. Unique per customer, not
  globally: a family phone or an office mailbox may belong to several customers, and
  a lookup that finds more than one is reported as ambiguous.
- `contacts`: every inbound contact (keyed by contact id, unique inbound event id),
  its lifecycle state, and the exact enriched event produced for it, re-emitted on
  replay. A lifecycle event that arrives before its contact creates a placeholder row
  (`inbound_event_id` NULL) that the contact fills in when it arrives. No foreign key
  to customers: deleting, erasing and merging update the history explicitly, and the
  hot path never waits on an admin transaction's row locks.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE profiles.customers (
            customer_id     text PRIMARY KEY,
            external_ref    text UNIQUE,
            tier            text NOT NULL,
            segment         text,
            display_name    text,
            language        text,
            region          text,
            timezone        text,
            country         text,
            lifetime_value  double precision,
            merged_into     text REFERENCES profiles.customers (customer_id),
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX customers_merged_into ON profiles.customers (merged_into)")
    op.execute(
        """
        CREATE TABLE profiles.identities (
            kind         text NOT NULL CHECK (kind IN ('phone', 'email')),
            value        text NOT NULL,
            customer_id  text NOT NULL REFERENCES profiles.customers (customer_id)
                         ON DELETE CASCADE,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (kind, value, customer_id)
        )
        """
    )
    op.execute("CREATE INDEX identities_customer ON profiles.identities (customer_id)")
    op.execute(
        """
        CREATE TABLE profiles.contacts (
            contact_id        text PRIMARY KEY,
            inbound_event_id  text UNIQUE,
            customer_id       text,
            channel           text,
            contact_type      text,
            occurred_at       timestamptz,
            identification    text,
            status            text NOT NULL DEFAULT 'open'
                              CHECK (status IN ('open', 'resolved', 'abandoned')),
            status_at         timestamptz,
            closed_at         timestamptz,
            csat              smallint CHECK (csat BETWEEN 1 AND 5),
            csat_at           timestamptz,
            enriched_key      bytea,
            enriched          bytea,
            erased            boolean NOT NULL DEFAULT false,
            recorded_at       timestamptz,
            updated_at        timestamptz NOT NULL DEFAULT now(),
            CHECK (inbound_event_id IS NULL OR occurred_at IS NOT NULL)
        )
        """
    )
    op.execute(
        "CREATE INDEX contacts_customer_time ON profiles.contacts (customer_id, occurred_at DESC)"
        " WHERE customer_id IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE profiles.merges (
            merge_id            bigserial PRIMARY KEY,
            source_customer_id  text NOT NULL,
            target_customer_id  text NOT NULL,
            identities_moved    integer NOT NULL,
            contacts_moved      integer NOT NULL,
            merged_at           timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE profiles.erasures (
            erasure_id           bigserial PRIMARY KEY,
            customer_id          text NOT NULL,
            identities_deleted   integer NOT NULL,
            contacts_anonymised  integer NOT NULL,
            erased_at            timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    for table in ("erasures", "merges", "contacts", "identities", "customers"):
        op.execute(f"DROP TABLE profiles.{table}")
