"""Overflow (closed, estimated wait, occupancy), fallbacks, who never leaves in-house, Erlang C."""

from __future__ import annotations

from typing import Any

import pytest
from router_support import SATURDAY_10_LONDON, compile_policy, decide, policy_dict

from router.domain.engine import Snapshot
from router.domain.rules import Facts
from switchboard_events.testing import enriched


def test_closed_queue_overflows_to_the_vendor() -> None:
    decision = decide(enriched(), at=SATURDAY_10_LONDON)
    assert (decision.queue.id, decision.queue.kind.value) == ("vendor", "outsourced")
    assert decision.overflow is not None
    assert (decision.overflow.from_queue, decision.overflow.reason) == (
        "general",
        "outside_business_hours",
    )
    assert "general is closed (outside business hours)" in decision.reasons


def test_estimated_wait_above_the_share_of_the_target_overflows() -> None:
    # 10 agents, 8 open calls: occupancy 80% (under 90%), Erlang C wait ~61 s > 0.8 x 60 s.
    decision = decide(enriched(), load={("general", "call"): 8})
    assert decision.queue.id == "vendor"
    assert decision.overflow is not None
    assert decision.overflow.reason == "expected_wait_breaches_sla"
    assert decision.overflow.expected_wait_seconds == pytest.approx(61.0, abs=1.0)
    # With 6 open calls the wait (~9 s) is well within the target: it stays.
    assert decide(enriched(), load={("general", "call"): 6}).queue.id == "general"


def test_occupancy_over_the_threshold_overflows() -> None:
    data = policy_dict()
    data["overflow"]["max_wait_share"] = None
    policy = compile_policy(data)
    # 9 calls + 2 chats (each half an agent) = 10 agents' work on 10 agents: 100% > 90%.
    decision = decide(enriched(), policy, load={("general", "call"): 9, ("general", "chat"): 2})
    assert decision.overflow is not None
    assert decision.overflow.reason == "queue_full"
    assert decide(enriched(), policy, load={("general", "call"): 9}).queue.id == "general"


def test_fallback_chain_is_tried_before_overflow() -> None:
    decision = decide(enriched(contact_type="billing"), load={("billing", "call"): 4})
    assert decision.queue.id == "general"
    assert decision.overflow is not None
    assert decision.overflow.from_queue == "billing"


@pytest.mark.parametrize("kwargs", [{"tier": "vip"}, {"contact_type": "complaint"}])
def test_vip_and_sensitive_never_leave_in_house(kwargs: dict[str, Any]) -> None:
    closed = decide(enriched(**kwargs), at=SATURDAY_10_LONDON)
    busy = decide(enriched(**kwargs), load={("general", "call"): 50, ("vip", "call"): 50})
    for decision in (closed, busy):
        assert decision.queue.kind.value == "in_house"
        assert any("stays in-house" in r for r in decision.reasons)


def test_a_rule_sending_vip_to_the_vendor_is_overridden() -> None:
    data = policy_dict()
    data["rules"] = [{"id": "night", "match": {}, "action": {"queue": "vendor"}}]
    decision = decide(enriched(tier="vip"), compile_policy(data))
    assert decision.queue.id == "general", "never_outsource.in_house_fallback"


def test_no_overflow_policy_keeps_contacts_in_house() -> None:
    data = policy_dict()
    del data["overflow"]
    decision = decide(enriched(), compile_policy(data), at=SATURDAY_10_LONDON)
    assert decision.queue.id == "general"
    assert "no better queue: stays in general (closed: waits for opening)" in decision.reasons


def test_on_closed_false_keeps_closed_contacts_waiting() -> None:
    data = policy_dict()
    data["overflow"]["on_closed"] = False
    assert decide(enriched(), compile_policy(data), at=SATURDAY_10_LONDON).queue.id == "general"


def test_queues_skip_contacts_they_do_not_serve() -> None:
    # The German queue only serves German; a social contact goes nowhere but social/vendor.
    data = policy_dict()
    data["rules"] = [
        {"id": "all-german", "match": {}, "action": {"queue": "german", "fallback": ["general"]}}
    ]
    decision = decide(enriched(language_hint="fr"), compile_policy(data))
    assert decision.queue.id == "general"
    assert "skip german: does not serve language fr" in decision.steps
    assert decision.overflow is None, "not serving is not an overflow"


def test_contacts_of_one_batch_count_towards_the_load() -> None:
    policy = compile_policy()
    snap = Snapshot(policy, enriched().time, {})
    queues = [policy.decide(Facts.of(enriched(f"c{i}")), snap).queue.id for i in range(12)]
    assert queues[:7] == ["general"] * 7
    assert "vendor" in queues[7:]
