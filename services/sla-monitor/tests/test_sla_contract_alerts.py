"""A customer contract on the real broker and database: its target beats the tier's, the
alerts name it, a change to it re-plans open contacts, an undefined one keeps the tier's.

The test policy (sla_support.short_policy_yaml) gives calls a 2 s first-response target
(warning at 1 s, escalation 1 s after the breach); the contract `gold` gives its calls 1 s,
then 3 s after the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sla_fixtures import Rig
from sla_support import short_policy_yaml

from sla_monitor.service import replan
from switchboard_events.testing import decided as decision

pytestmark = pytest.mark.integration


def with_gold(rig: Rig, target: str) -> str:
    return short_policy_yaml(rig.clock.now().date()) + (
        "contracts:\n"
        "  - id: gold\n"
        "    rules:\n"
        "      - id: gold-calls\n"
        "        match: {channel: call}\n"
        f"        first_response: {{target: {target}, clock: calendar}}\n"
    )


async def test_a_contract_sets_the_target_names_itself_in_alerts_and_re_plans_on_change(
    rig: Rig,
) -> None:
    t0 = rig.clock.now()

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    breach = (
        "SELECT due_at FROM sla.due_alerts"
        " WHERE contact_id = '{}' AND target = 'first_response' AND kind = 'breach'"
    )
    rig.policy_file.write_text(with_gold(rig, "1s"))
    assert rig.policies.reload()
    async with rig.running():
        await rig.send(
            decision("gold", arrived_at=t0, contract_id="gold"),
            decision("plain", arrived_at=t0),
            decision("undefined", arrived_at=t0, contract_id="platinum"),
        )
        await rig.rows("SELECT count(*) FROM sla.due_alerts WHERE kind = 'breach'", 3)
        assert await rig.scalar(breach.format("gold")) == at(1)
        assert await rig.scalar(breach.format("undefined")) == at(2), "the tier's target"

        rig.policy_file.write_text(with_gold(rig, "3s"))
        assert rig.policies.reload()
        assert await replan(rig.sessions, rig.policy) == 3
        assert await rig.scalar(breach.format("gold")) == at(3), "the contract's new target"

        await rig.advance_to(at(3))
        # gold: its breach; plain and undefined: warning, breach and escalation each.
        assert await rig.fired(7) == 7
        alerts = await rig.alerts()
    by_contact = {
        (a.data.contact_id, a.data.kind.value): (
            a.data.policy_rule,
            a.data.contract_id,
            a.data.target_seconds,
        )
        for a in alerts
        if a.data.target.value == "first_response"
    }
    assert by_contact[("gold", "breach")] == ("gold-calls", "gold", 3)
    assert ("gold", "warning") not in by_contact, "the contract's target has no warning"
    assert by_contact[("plain", "breach")] == ("call", None, 2)
    assert by_contact[("undefined", "breach")] == ("call", None, 2)
