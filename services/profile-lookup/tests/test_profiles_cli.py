"""`python -m profile_lookup` as an operator runs it: import, check, explain, and the one
line it says when the database cannot be reached."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from profiles_support import SEEDER, customer, seed
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from profile_lookup.config import ProfilesSettings

Sessions = async_sessionmaker[AsyncSession]


def profile_lookup(settings: ProfilesSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PROFILES_DATABASE_URL": settings.database_url.get_secret_value()}
    return subprocess.run(
        [sys.executable, "-m", "profile_lookup", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def report(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def cli_trail(sessions: Sessions) -> list[tuple[str, str, list[str], str]]:
    """The audit records of everything but the test's own seeding, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT actor, action, customer_ids, outcome FROM profiles.audit_log"
                " WHERE actor <> :seeder ORDER BY audit_id"
            ),
            {"seeder": SEEDER},
        )
    return [(r.actor, r.action, list(r.customer_ids), r.outcome) for r in rows]


CHECKED = (
    "customer_id,external_ref,tier,phones\n"
    "c-1,crm-1,vip,\n"  # updates the stored c-1
    "c-2,crm-2,standard,07700 900222\n"  # new
    "c-2,crm-2,premium,\n"  # c-2 again: an update of the row above
    "c-3,crm-3,gold,\n"  # bad tier
    "c-4,crm-1,standard,\n"  # another customer's CRM id
)


@pytest.mark.integration
async def test_check_reports_what_an_import_would_do_and_writes_nothing(
    settings: ProfilesSettings, sessions: Sessions, tmp_path: Path
) -> None:
    await seed(sessions, [customer("c-1", "+447700900111", external_ref="crm-1")])
    rows = tmp_path / "customers.csv"
    rows.write_text(CHECKED)

    done = profile_lookup(settings, "check", str(rows))

    checked = report(done)
    assert (checked["imported"], checked["updated"], checked["rejected"]) == (1, 2, 2)
    assert [r["line"] for r in checked["rejections"]] == [5, 6]
    assert checked["rejections"][1]["reason"] == "external_ref belongs to customer c-1"
    assert "nothing was written" in done.stderr
    async with sessions() as session:
        stored = (
            await session.execute(text("SELECT customer_id, tier FROM profiles.customers"))
        ).all()
    assert [tuple(r) for r in stored] == [("c-1", "standard")]

    imported = report(profile_lookup(settings, "import", str(rows)))
    assert {k: imported[k] for k in ("imported", "updated", "rejections")} == {
        k: checked[k] for k in ("imported", "updated", "rejections")
    }, "the import does what the check said"
    # The check wrote nothing, its records neither; the import names who ran it, and the
    # row the rules rejected (c-4: another customer's CRM id) with its chunk.
    assert await cli_trail(sessions) == [
        (f"cli:{getpass.getuser()}", "customer.import", ["c-1", "c-2"], "ok"),
        (f"cli:{getpass.getuser()}", "customer.import", ["c-2"], "ok"),
        (f"cli:{getpass.getuser()}", "customer.import", ["c-4"], "conflict"),
    ]


@pytest.mark.integration
async def test_explain_shows_the_normalised_identity_and_whom_it_finds(
    settings: ProfilesSettings, sessions: Sessions
) -> None:
    await seed(
        sessions,
        [customer("c-1", "+79161234567", "ivan@example.com", display_name="Ivan")],
    )

    by_phone = report(
        profile_lookup(settings, "explain", "--phone", "8 (916) 123-45-67", "--country", "RU")
    )
    by_email = report(profile_lookup(settings, "explain", "--email", "Ivan <IVAN@Example.COM>"))
    stranger = report(profile_lookup(settings, "explain", "--email", "nobody@example.com"))
    garbage = profile_lookup(settings, "explain", "--phone", "12ab")

    assert (by_phone["normalised"], by_phone["status"]) == ("+79161234567", "known")
    assert [c["customer_id"] for c in by_phone["customers"]] == ["c-1"]
    assert (by_email["normalised"], by_email["status"]) == ("ivan@example.com", "known")
    assert (stranger["status"], stranger["customers"]) == ("unknown", [])
    assert garbage.returncode == 1
    assert garbage.stderr.strip() == "profile_lookup: phone unparseable: not a phone number"
    operator = f"cli:{getpass.getuser()}"
    assert await cli_trail(sessions) == [
        (operator, "customer.lookup", ["c-1"], "ok"),
        (operator, "customer.lookup", ["c-1"], "ok"),
        (operator, "customer.lookup", [], "ok"),
        (operator, "customer.lookup", [], "invalid"),
    ]


def test_import_without_a_database_says_so_in_one_line(tmp_path: Path) -> None:
    """Not a traceback: the address tried and the setting that points elsewhere."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    rows = tmp_path / "customers.jsonl"
    rows.write_text('{"customer_id": "c1"}\n')
    env = os.environ | {
        "PROFILES_DATABASE_URL": f"postgresql+asyncpg://postgres:secret@127.0.0.1:{port}/crm"
    }
    done = subprocess.run(
        [sys.executable, "-m", "profile_lookup", "import", str(rows)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"profile_lookup: cannot reach PostgreSQL at 127.0.0.1:{port}/crm: ")
    assert line.endswith("(set PROFILES_DATABASE_URL)")
    assert "secret" not in line
