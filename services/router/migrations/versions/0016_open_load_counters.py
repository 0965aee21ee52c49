"""Open contacts counted per (queue, channel, UTC hour they opened), kept by triggers.

The router reads live load on every batch. Counting the open rows of `routing.contacts`
costs a scan of every open contact (16 ms with 21,000 open, on each batch, one record or
two thousand); the counters give the same figure from one row per queue, channel and hour
of the TTL, plus an exact count of the one hour the TTL's edge cuts through.

Statement-level triggers with transition tables keep them in the writing transaction, for
every statement that touches contacts (a decision, a lifecycle change, an admin fix), one
aggregate per statement rather than one call per row. An instant `opened_at` belongs to
the hour `date_trunc('hour', opened_at, 'UTC')`, whatever the session's time zone. Each
database session adds to counters of its own (`slot`, from its backend's pid): two router
instances deciding for one queue at once would otherwise queue on one counter row until
the other commits, and could deadlock across a batch's two statements.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What counts as load, as the router's query read it from the rows before.
_COUNTED = "status = 'open' AND queue_id IS NOT NULL AND opened_at IS NOT NULL"
_HOUR = "date_trunc('hour', opened_at, 'UTC')"
_SLOTS = 64


def _delta(rows: str, sign: str) -> str:
    return (
        f"SELECT queue_id, coalesce(channel, '') AS channel, {_HOUR} AS opened_hour,"
        f" {sign}count(*) AS n FROM {rows} WHERE {_COUNTED}"
        " GROUP BY queue_id, coalesce(channel, ''), opened_hour"
    )


def _apply(source: str) -> str:
    return (
        "INSERT INTO routing.open_load AS l (opened_hour, queue_id, channel, slot, open)"
        f" SELECT opened_hour, queue_id, channel, pg_backend_pid() % {_SLOTS}, sum(n)"
        f" FROM ({source}) AS d GROUP BY opened_hour, queue_id, channel HAVING sum(n) <> 0"
        " ORDER BY opened_hour, queue_id, channel"
        " ON CONFLICT (opened_hour, queue_id, channel, slot)"
        " DO UPDATE SET open = l.open + EXCLUDED.open;"
    )


# Each trigger's statement, the transition tables it passes, and its function's body.
_TRIGGERS = {
    "inserted": ("INSERT", "NEW TABLE AS new_rows", _apply(_delta("new_rows", ""))),
    "deleted": ("DELETE", "OLD TABLE AS old_rows", _apply(_delta("old_rows", "-"))),
    "updated": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _apply(f"{_delta('old_rows', '-')} UNION ALL {_delta('new_rows', '')}"),
    ),
}


def upgrade() -> None:
    op.execute(
        "CREATE TABLE routing.open_load ("
        " opened_hour timestamptz NOT NULL, queue_id text NOT NULL, channel text NOT NULL,"
        " slot integer NOT NULL, open bigint NOT NULL,"
        " PRIMARY KEY (opened_hour, queue_id, channel, slot))"
    )
    op.execute(
        "INSERT INTO routing.open_load (opened_hour, queue_id, channel, slot, open)"
        f" SELECT opened_hour, queue_id, channel, 0, n FROM ({_delta('routing.contacts', '')}) AS d"
    )
    for name, (event, tables, body) in _TRIGGERS.items():
        op.execute(
            f"CREATE FUNCTION routing.open_load_{name}() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN {body} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER open_load_{name} AFTER {event} ON routing.contacts"
            f" REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION routing.open_load_{name}()"
        )
    op.execute(
        "CREATE FUNCTION routing.open_load_truncated() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN TRUNCATE routing.open_load; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER open_load_truncated AFTER TRUNCATE ON routing.contacts"
        " FOR EACH STATEMENT EXECUTE FUNCTION routing.open_load_truncated()"
    )
    # The hour the TTL's edge cuts through is counted from the rows: only its open ones.
    op.execute(
        f"CREATE INDEX contacts_open_by_opened_at ON routing.contacts (opened_at) WHERE {_COUNTED}"
    )


def downgrade() -> None:
    op.execute("DROP INDEX routing.contacts_open_by_opened_at")
    for name in (*_TRIGGERS, "truncated"):
        op.execute(f"DROP TRIGGER open_load_{name} ON routing.contacts")
        op.execute(f"DROP FUNCTION routing.open_load_{name}()")
    op.execute("DROP TABLE routing.open_load")
