"""What-if replay: recorded contacts before and after a candidate policy, and the report."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from router_support import MONDAY_10_LONDON, compile_policy, policy_dict

from router.domain.engine import CompiledPolicy, Snapshot
from router.domain.outcome import decision_event
from router.domain.rules import Facts
from router.domain.whatif import RecordedContact, recorded_contact
from router.domain.whatif_report import what_if
from router.whatif_output import html_report, text_report
from switchboard_events import ContactEnriched
from switchboard_events.testing import enriched

KEY = b"test-pseudonym-key"
PERIOD = (MONDAY_10_LONDON, MONDAY_10_LONDON + timedelta(hours=1))


def record(
    policy: CompiledPolicy,
    event: ContactEnriched,
    status: str = "resolved",
    duration: float | None = 100.0,
) -> RecordedContact:
    """The contact as the router stored it: decided on no load at its arrival, closed
    `duration` seconds after it (event time; None: no closing time recorded)."""
    decision = policy.decide(Facts.of(event), Snapshot(policy, event.time, {}))
    stored = decision_event(event, decision, policy.version, event.time, KEY)
    closed_at = None if duration is None else event.time + timedelta(seconds=duration)
    return recorded_contact(stored, status, closed_at)


def one_agent() -> CompiledPolicy:
    data = policy_dict()
    data["queues"][0]["capacity"]["agents"] = 1  # general
    return compile_policy(data)


def three_calls(policy: CompiledPolicy, **last: Any) -> list[RecordedContact]:
    return [
        record(policy, enriched(f"c-{i}", at=MONDAY_10_LONDON + timedelta(seconds=i)), **kw)
        for i, kw in enumerate([{}, {}, last])
    ]


def test_the_recorded_facts_give_the_recorded_decision() -> None:
    policy = compile_policy()
    event = enriched(
        tier="premium",
        customer_language="de",
        repeat=True,
        priority_hint=1,
        at=MONDAY_10_LONDON,
    )
    contact = record(policy, event)
    facts = Facts.of(event)
    assert contact.facts == facts._replace(subject=None, attributes={})
    again = policy.decide(contact.facts, Snapshot(policy, MONDAY_10_LONDON, {}))
    # base 100 + call 100 + premium 200 + repeat 150 + hint 1: 300
    assert (
        (contact.queue_id, contact.priority) == (again.queue.id, again.priority) == ("german", 850)
    )


def test_one_agent_in_the_recorded_queue_queues_the_calls() -> None:
    policy = one_agent()
    report = what_if(three_calls(policy), policy, policy, PERIOD, seed=1)
    before = report["total"]["before"]
    # Arrivals at 0, 1, 2 s, 100 s each: waits 0, 99, 198; only the first within 60 s.
    assert (before["avg_wait_s"], before["p90_wait_s"]) == (99.0, 198.0)
    assert before["service_level"] == round(1 / 3, 4)
    assert before["overflows"] == {}


def test_the_candidate_overflows_on_the_simulated_load() -> None:
    policy = one_agent()
    report = what_if(three_calls(policy), policy, policy, PERIOD, seed=1)
    after = report["total"]["after"]
    # The second and third calls find general's one agent busy (occupancy 100% > 90%).
    assert after["overflows"] == {"queue_full": 2}
    queues = {q["queue"]: q["after"] for q in report["queues"]}
    assert queues["general"]["overflows"] == {"queue_full": 2}  # counted where they left
    assert (queues["vendor"]["contacts"], queues["vendor"]["overflows"]) == (2, {})
    assert (after["in_house_share"], after["outsourced_share"]) == (0.3333, 0.6667)
    assert after["service_level"] == 1.0
    assert report["moves"] == [
        {"from": "general", "to": "vendor", "why": "overflow: queue_full", "contacts": 2}
    ]
    # The vendor recorded no handle times: the policy's call handle time stands in.
    assert report["handle_times"]["after"] == {"own_record": 1, "queue_records": 0, "policy": 2}


def test_recorded_patience_abandons_in_a_queue_and_is_served_elsewhere() -> None:
    policy = one_agent()
    contacts = three_calls(policy, status="abandoned", duration=30.0)
    report = what_if(contacts, policy, policy, PERIOD, seed=1)
    assert report["total"]["before"]["abandoned"] == 1  # it waited 98 s in general
    assert report["total"]["after"]["abandoned"] == 0  # the vendor took it at once


def test_a_handle_time_without_a_closing_time_or_not_positive_is_unknown() -> None:
    """Rows closed before the router recorded closing times, or closed "before" they
    arrived, draw from the queue's known handle times, else the policy's."""
    policy = one_agent()
    calls = three_calls(policy)
    unknown = [
        record(policy, enriched("old", at=MONDAY_10_LONDON + timedelta(seconds=3)), duration=None),
        record(policy, enriched("neg", at=MONDAY_10_LONDON + timedelta(seconds=4)), duration=-5.0),
        record(policy, enriched("zero", at=MONDAY_10_LONDON + timedelta(seconds=5)), duration=0.0),
    ]
    assert [c.duration_s for c in calls] == [100.0] * 3
    assert [c.duration_s for c in unknown] == [None] * 3
    report = what_if([*calls, *unknown], policy, policy, PERIOD, seed=1)
    assert report["handle_times"]["before"] == {"own_record": 3, "queue_records": 3, "policy": 0}
    # The first three are the only known ones: each unknown one is drawn from them.
    assert report["total"]["before"]["p90_wait_s"] == 495.0
    alone = what_if(unknown, policy, policy, PERIOD, seed=1)
    assert alone["handle_times"]["before"] == {"own_record": 0, "queue_records": 0, "policy": 3}


def test_an_abandonment_without_a_closing_time_has_no_patience() -> None:
    policy = one_agent()
    contacts = three_calls(policy, status="abandoned", duration=None)
    assert contacts[-1].duration_s is None
    report = what_if(contacts, policy, policy, PERIOD, seed=1)
    assert report["total"]["before"]["abandoned"] == 0  # it waits for general's agent


def test_cost_is_per_contact_by_queue() -> None:
    data = policy_dict()
    data["queues"][0]["capacity"]["agents"] = 1
    data["queues"][0]["cost_per_contact"] = 6.0
    data["queues"][-1]["cost_per_contact"] = 2.5  # the vendor
    policy = compile_policy(data)
    report = what_if(three_calls(policy), policy, policy, PERIOD, seed=1)
    assert (report["total"]["before"]["cost"], report["total"]["after"]["cost"]) == (18.0, 11.0)
    general = next(q for q in report["queues"] if q["queue"] == "general")
    assert (general["before"]["contacts"], general["after"]["contacts"]) == (3, 1)


def test_the_same_seed_and_inputs_give_the_same_report() -> None:
    policy = one_agent()
    contacts = [
        record(
            policy,
            enriched(
                f"c-{i}",
                at=MONDAY_10_LONDON + timedelta(seconds=7 * i),
                channel=("call", "chat", "email")[i % 3],
                contact_type=("general", "billing")[i % 2],
            ),
            status=("resolved", "abandoned", "open")[i % 3],
            duration=None if i % 3 == 2 else 40.0 + i,
        )
        for i in range(60)
    ]
    first = what_if(contacts, policy, compile_policy(), PERIOD, seed=7)
    again = what_if(contacts, policy, compile_policy(), PERIOD, seed=7)
    assert json.dumps(first) == json.dumps(again)
    assert first["handle_times"]["after"]["policy"] > 0  # the seeded draws were used


def test_unrecorded_subjects_are_inferred_from_the_recorded_rule() -> None:
    data = policy_dict()
    refunds = {"subject_keywords": ["refund", "money back"], "attributes": {"paid": [True]}}
    data["rules"].insert(0, {"id": "refunds", "match": refunds, "action": {"queue": "billing"}})
    policy = compile_policy(data)
    asked = record(policy, enriched("r", subject="My refund please", attributes={"paid": True}))
    other = record(policy, enriched("o", subject="Hello"))
    assert (asked.rule, asked.queue_id, other.queue_id) == ("refunds", "billing", "general")
    report = what_if([asked, other], policy, policy, PERIOD, seed=1)
    # The refund contact stays in billing: the replay gave it "refund" and paid: True.
    assert report["moves"] == []
    assert any("rules refunds see them only for contacts recorded" in n for n in report["notes"])


def test_reports_for_people_show_the_moves_and_need_nothing_online() -> None:
    policy = one_agent()
    report = what_if(three_calls(policy), policy, policy, PERIOD, seed=1)
    text = text_report(report)
    assert "moved: 2 of 3 contacts" in text
    assert "general  vendor  overflow: queue_full" in text
    page = html_report(report)
    assert page.count("<svg") == 2
    assert all(outside not in page for outside in ("src=", "href=", "<script", "url("))
    assert "overflow: queue_full" in page
