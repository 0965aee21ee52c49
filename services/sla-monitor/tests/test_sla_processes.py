"""`python -m sla_monitor` as real processes: two instances, a kill -9 mid-way, a restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from sla_fixtures import Rig

from sla_monitor.samples import decision
from switchboard_events import SLA_ALERTS_DECODER, SlaAlert
from switchboard_runtime.testing.kafka import read_topic

pytestmark = pytest.mark.integration

CONTACTS = 240
PER_CONTACT = 3  # unanswered calls: warning, breach, escalation


async def wait_until(what: str, timeout: float, check: object) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


async def test_kill_9_and_restart_fire_every_alert_exactly_once(rig: Rig) -> None:
    first, second = rig.start_process(), rig.start_process()

    async def joined() -> bool:
        # An email on a queue closed today: it starts no clock that could fire here.
        await rig.send(decision("probe", channel="email", queue_id="closed"))
        return bool(
            await rig.scalar("SELECT count(*) FROM sla.contacts WHERE contact_id = 'probe'")
        )

    await wait_until("the instances to consume", 60, joined)

    async def stream() -> None:
        # 40 contacts/s for 6 s: timers come due all along, before and after the kill.
        for n in range(0, CONTACTS, 20):
            now = datetime.now(UTC)
            await rig.send(*(decision(f"c{i:04d}", arrived_at=now) for i in range(n, n + 20)))
            await asyncio.sleep(0.5)

    publishing = asyncio.create_task(stream())

    async def some_fired() -> bool:
        return await rig.count("SELECT count(*) FROM sla.alerts") >= 150

    await wait_until("some alerts to fire", 60, some_fired)
    first.send_signal(signal.SIGKILL)
    first.wait()
    fired_at_kill = await rig.count("SELECT count(*) FROM sla.alerts")
    assert fired_at_kill < CONTACTS * PER_CONTACT, "the kill should land mid-way"
    await publishing
    restarted = rig.start_process()

    expected = CONTACTS * PER_CONTACT

    async def all_published() -> bool:
        return await rig.fired(expected, timeout=0) >= expected

    await wait_until("every alert to be recorded and published", 90, all_published)
    await asyncio.sleep(1.5)  # anything still in flight
    messages = await read_topic(rig.kafka, rig.settings.alerts_topic, 10**6, timeout=8)
    ids_by_key: dict[tuple[str, str, str, int], set[str]] = defaultdict(set)
    for message in messages:
        alert = SLA_ALERTS_DECODER.decode(message.value)
        assert isinstance(alert, SlaAlert)
        d = alert.data
        ids_by_key[(d.contact_id, d.target.value, d.kind.value, d.level)].add(alert.id)
    expected_keys = {
        (f"c{i:04d}", "first_response", kind, 1)
        for i in range(CONTACTS)
        for kind in ("warning", "breach", "escalation")
    }
    assert set(ids_by_key) == expected_keys, "every alert, none missing, nothing else"
    assert all(len(ids) == 1 for ids in ids_by_key.values()), "a re-publish repeats the same id"
    assert await rig.scalar("SELECT count(*) FROM sla.alerts") == expected
    assert await rig.scalar("SELECT count(*) FROM sla.alerts WHERE published_at IS NULL") == 0

    for proc in (second, restarted):
        proc.send_signal(signal.SIGTERM)
    codes = [await asyncio.to_thread(proc.wait, 20) for proc in (second, restarted)]
    assert codes == [0, 0], "SIGTERM stops the host and the scheduler cleanly"


async def test_invalid_policy_refuses_to_start_with_a_clear_message(rig: Rig) -> None:
    bad = rig.logs / "bad.yaml"
    bad.write_text("calendars: []\ndefault_calendars: {in_house: x, outsourced: y}\ndefault: {}\n")
    proc = rig.start_process(SLA_POLICY_PATH=str(bad))
    assert await asyncio.to_thread(proc.wait, 30) == 2
    output = (rig.logs / "sla-0.log").read_text()
    assert "invalid SLA policy" in output
    assert "calendars" in output


async def test_migrate_command_is_idempotent(rig: Rig) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "sla_monitor", "migrate"],
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "schema sla is up to date" in done.stdout
