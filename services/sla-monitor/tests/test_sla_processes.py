"""`python -m sla_monitor` as real processes: two instances, a kill -9 mid-way, a restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta

import pytest
from sla_fixtures import Rig
from sla_support import short_policy_yaml

from switchboard_events import SLA_ALERTS_DECODER, SlaAlert
from switchboard_events.testing import decided as decision
from switchboard_runtime.clock import SYSTEM_CLOCK
from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import read_to_end

pytestmark = pytest.mark.integration
now = SYSTEM_CLOCK.now

CONTACTS = 240
PER_CONTACT = 3  # unanswered calls: warning, breach, escalation


async def test_kill_9_and_restart_fire_every_alert_exactly_once(rig: Rig) -> None:
    # The processes keep real time: the queue `closed` is closed today, not on the rig's clock.
    rig.policy_file.write_text(short_policy_yaml(now().date()))
    first, second = rig.start_process(), rig.start_process()

    async def joined() -> bool:
        # An email on a queue closed today: it starts no clock that could fire here.
        await rig.send(decision("probe", channel="email", queue_id="closed", arrived_at=now()))
        return bool(
            await rig.scalar("SELECT count(*) FROM sla.contacts WHERE contact_id = 'probe'")
        )

    await eventually(joined, what="the instances to consume", timeout=60)

    # 40 contacts/s for 6 s: timers come due all along, before and after the kill.
    start = now()
    await rig.send(
        *(
            decision(f"c{i:04d}", arrived_at=start + timedelta(seconds=i / 40))
            for i in range(CONTACTS)
        )
    )

    async def some_fired() -> bool:
        return await rig.count("SELECT count(*) FROM sla.alerts") >= 150

    await eventually(some_fired, what="some alerts to fire", timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait()
    fired_at_kill = await rig.count("SELECT count(*) FROM sla.alerts")
    assert fired_at_kill < CONTACTS * PER_CONTACT, "the kill should land mid-way"
    restarted = rig.start_process()

    expected = CONTACTS * PER_CONTACT

    async def all_published() -> bool:
        return await rig.published() >= expected

    await eventually(all_published, what="every alert recorded and published", timeout=90)
    # Stopped, they publish nothing more: the topic holds all they ever sent.
    for proc in (second, restarted):
        proc.send_signal(signal.SIGTERM)
    codes = [await asyncio.to_thread(proc.wait, 20) for proc in (second, restarted)]
    messages = await read_to_end(rig.kafka, rig.settings.alerts_topic)
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
    assert "schema sla is up to date" in done.stderr
