"""whatif: the what-if replay of a month of recorded traffic (the demo's scale) on one core.

Records 100,000 contacts over four weeks in a fresh database as the router stores them
(each decision event from the example policy, its contact resolved, abandoned or still
open), then replays the month through a candidate (the example policy with fewer
general agents and no occupancy overflow) as `python -m router whatif` does:

- `whatif_read_contacts_per_s`: reading and parsing the recorded contacts;
- `whatif_replay_contacts_per_s`: both simulated runs and the report, per recorded
  contact and wall second (`whatif_replay_s`: the whole month);
- `whatif_cpu_us_per_contact`: this process's CPU time for the replay, per contact.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import yaml

from bench.context import REPO, BenchContext
from router.domain.engine import Snapshot
from router.domain.outcome import decision_event
from router.domain.rules import Facts
from router.domain.whatif_report import what_if
from router.policies import compile_file, compile_policy
from router.whatif import recorded_contacts
from switchboard_events import encode
from switchboard_events.testing import enriched
from switchboard_runtime.db import make_engine, make_sessionmaker
from switchboard_runtime.policies import policy_version

CONTACTS = 100_000
START = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday
DAYS = 28
POLICY = REPO / "services/router/policies/routing.yaml"
KEY = b"bench-pseudonym-key"
TYPES = ("general", "billing", "technical", "sales", "complaint", "refund")
TIERS = ("standard",) * 15 + ("premium",) * 4 + ("vip",)
HANDLE = {"call": (30, 600), "chat": (60, 900), "email": (300, 1800), "social": (120, 900)}
CHUNK = 10_000
CONTACT_COLUMNS = (
    "contact_id",
    "queue_id",
    "channel",
    "status",
    "decision_id",
    "opened_at",
    "updated_at",
    "closed_at",
    "arrived_at",
)


def _candidate() -> bytes:
    data = yaml.safe_load(POLICY.read_text())
    general = next(q for q in data["queues"] if q["id"] == "general")
    general["capacity"]["agents"] = 8
    data["overflow"]["max_occupancy"] = None
    data["name"] = "fewer-general-agents"
    return yaml.safe_dump(data, sort_keys=False).encode()


def _rows(rng: random.Random) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """(decisions rows, contacts rows) of the month, as the router writes them."""
    policy = compile_file(POLICY)
    step = DAYS * 86400 / CONTACTS
    decisions: list[tuple[object, ...]] = []
    contacts: list[tuple[object, ...]] = []
    for i in range(CONTACTS):
        at = START + timedelta(seconds=i * step + rng.uniform(0, step))
        channel = rng.choice(("call", "call", "chat", "email", "social"))
        event = enriched(
            f"w-{i}",
            channel=channel,
            contact_type=rng.choice(TYPES),
            status=rng.choice(("known", "known", "known", "unknown")),
            tier=rng.choice(TIERS),
            customer_id=f"bench-{rng.randint(1, 20_000)}",
            language_hint=rng.choice((None, "en-GB", "en", "de-DE")),
            repeat=rng.random() < 0.15,
            priority_hint=rng.choice((None, None, 1, 2, 3, 4, 5)),
            at=at,
        )
        decision = policy.decide(Facts.of(event), Snapshot(policy, at, {}))
        ident = str(uuid.UUID(int=i + 1))
        stored = decision_event(event, decision, policy.version, at, KEY, ident=ident)
        roll = rng.random()
        status = "resolved" if roll < 0.75 else "abandoned" if roll < 0.85 else "open"
        seconds = rng.uniform(*HANDLE[channel]) if status == "resolved" else rng.uniform(10, 90)
        closed = at + timedelta(seconds=seconds) if status != "open" else None
        decisions.append(
            (ident, f"w-{i}", decision.queue.id, policy.version, at, encode(stored).decode())
        )
        contacts.append(
            (f"w-{i}", decision.queue.id, channel, status, ident, at, closed or at, closed, at)
        )
    return decisions, contacts


async def _record(url: str) -> None:
    decisions, contacts = _rows(random.Random(21))
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for i in range(0, CONTACTS, CHUNK):
            await conn.copy_records_to_table(
                "decisions", schema_name="routing", records=decisions[i : i + CHUNK]
            )
            await conn.copy_records_to_table(
                "contacts",
                schema_name="routing",
                records=contacts[i : i + CHUNK],
                columns=CONTACT_COLUMNS,
            )
    finally:
        await conn.close()


async def run(ctx: BenchContext) -> None:
    url = await ctx.new_database()
    await _record(url)
    content = _candidate()
    candidate = compile_policy(content, policy_version(content))
    baseline = compile_file(POLICY)
    period = (START, START + timedelta(days=DAYS))
    engine = make_engine(url, pool_size=1)
    try:
        started = time.monotonic()
        async with make_sessionmaker(engine)() as session:
            contacts = await recorded_contacts(session, *period, CONTACTS)
        read_s = time.monotonic() - started
    finally:
        await engine.dispose()
    cpu, wall = time.process_time(), time.monotonic()
    report = what_if(contacts, baseline, candidate, period, seed=0)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    assert report["contacts"] == CONTACTS, report["contacts"]
    ctx.emit("whatif_read_contacts_per_s", CONTACTS / read_s, "contacts/s")
    ctx.emit("whatif_replay_contacts_per_s", CONTACTS / wall, "contacts/s")
    ctx.emit("whatif_replay_s", wall, "s")
    ctx.emit("whatif_cpu_us_per_contact", cpu / CONTACTS * 1e6, "us")
