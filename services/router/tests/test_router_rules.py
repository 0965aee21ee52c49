"""Rule matching (each feature), first match wins, the default route, the priority formula."""

from __future__ import annotations

from typing import Any

import pytest
from router_support import MONDAY_10_LONDON, SATURDAY_10_LONDON, compile_policy, decide, policy_dict

from router.domain.engine import CompiledPolicy
from switchboard_events.testing import enriched


def with_rule(match: dict[str, Any], queue: str = "billing", **action: Any) -> CompiledPolicy:
    data = policy_dict()
    data["rules"] = [{"id": "under-test", "match": match, "action": {"queue": queue, **action}}]
    return compile_policy(data)


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ({"channel": ["chat"]}, {"channel": "chat"}, {"channel": "call"}),
        (
            {"contact_type": ["billing", "refund"]},
            {"contact_type": "Refund"},
            {"contact_type": "sales"},
        ),
        ({"priority": {"min": 500}}, {"tier": "vip"}, {"tier": "standard"}),
        ({"priority_label": ["P1"]}, {"tier": "vip", "priority_hint": 1}, {"tier": "vip"}),
        ({"tier": ["premium"]}, {"tier": "premium"}, {"tier": "standard"}),
        ({"language": ["de"]}, {"language_hint": "de-AT"}, {"language_hint": "en-GB"}),
        ({"language": ["de"]}, {"customer_language": "de"}, {"customer_language": "fr"}),
        ({"region": ["uk"]}, {"region": "UK"}, {"region": "DE"}),
        ({"customer_status": ["unknown"]}, {"status": "unknown"}, {"status": "known"}),
        ({"customer_status": ["ambiguous"]}, {"status": "ambiguous"}, {"status": "unknown"}),
        ({"repeat_contact": True}, {"repeat": True}, {"repeat": False}),
        (
            {"subject_keywords": ["refund", "charged twice"]},
            {"subject": "I was CHARGED TWICE!"},
            {"subject": "refunded? no"},
        ),
        (
            {"attributes": {"ivr_path": ["1>3", "1>4"]}},
            {"attributes": {"ivr_path": "1>4"}},
            {"attributes": {"ivr_path": "2"}},
        ),
        (
            {"attributes": {"callback_requested": True}},
            {"attributes": {"callback_requested": True}},
            {"attributes": {"callback_requested": 1}},
        ),
        (
            {"attributes": {"cart_value": 89.5}},
            {"attributes": {"cart_value": 89.5}},
            {"attributes": {}},
        ),
    ],
)
def test_each_match_feature(
    match: dict[str, Any], hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    policy = with_rule(match)
    matched = decide(enriched(**hit), policy)
    assert (matched.rule, matched.queue.id) == ("under-test", "billing")
    assert decide(enriched(**miss), policy).rule == "default"


def test_queue_open_matches_on_the_calendar_now() -> None:
    policy = with_rule({"queue_open": {"general": False}}, queue="vendor")
    assert decide(enriched(), policy, at=SATURDAY_10_LONDON).rule == "under-test"
    assert decide(enriched(), policy, at=MONDAY_10_LONDON).rule == "default"


def test_all_conditions_of_a_rule_must_hold() -> None:
    policy = with_rule({"channel": ["email"], "tier": ["premium"]})
    assert decide(enriched(channel="email", tier="premium"), policy).rule == "under-test"
    assert decide(enriched(channel="email", tier="standard"), policy).rule == "default"
    assert decide(enriched(channel="call", tier="premium"), policy).rule == "default"


def test_first_match_wins() -> None:
    # A German VIP matches both "vip" and "german": "vip" comes first.
    decision = decide(enriched(tier="vip", language_hint="de"))
    assert (decision.rule, decision.queue.id) == ("vip", "vip")


def test_default_route_catches_everything_else() -> None:
    decision = decide(enriched(contact_type="sales", status="unknown"))
    assert (decision.rule, decision.queue.id) == ("default", "general")
    assert "no rule matched: default route" in decision.reasons


def test_reasons_name_the_rule_and_what_matched_but_never_the_subject() -> None:
    policy = with_rule({"subject_keywords": ["invoice"]})
    decision = decide(enriched(subject="Invoice 4711 for ivan@example.com"), policy)
    assert decision.reasons[0] == "rule under-test: subject mentions 'invoice'"
    assert not any("4711" in r or "example.com" in r for r in (*decision.reasons, *decision.steps))


def test_explain_lists_every_rule_tried() -> None:
    decision = decide(enriched(contact_type="billing"))
    assert decision.steps[:3] == (
        "rule vip: no match (tier standard not in vip)",
        "rule social: no match (channel call not in social)",
        "rule german: no match (language none not in de)",
    )
    assert decision.steps[3] == "rule billing: contact type billing"


def test_priority_formula_adds_each_factor() -> None:
    decision = decide(
        enriched(channel="call", contact_type="complaint", tier="vip", repeat=True, priority_hint=1)
    )
    factors = dict(decision.factors)
    assert factors == {
        "base": 100,
        "channel:call": 100,
        "type:complaint": 150,
        "tier:vip": 500,
        "repeat_contact": 150,
        "hint:1": 300,
    }
    assert decision.priority == sum(factors.values()) == 1300
    assert decision.label == "P1"


def test_priority_rule_adjustment_and_bands() -> None:
    policy = with_rule({"channel": ["email"]}, priority_adjust=-150)
    decision = decide(enriched(channel="email", priority_hint=5), policy)
    assert dict(decision.factors) == {"base": 100, "hint:5": -50, "rule:under-test": -150}
    assert (decision.priority, decision.label) == (0, "P3"), "clamped at 0"
    assert decide(enriched(tier="premium", channel="call"), policy).priority == 400
    assert decide(enriched(tier="vip", channel="email")).label == "P2"


def test_unknown_customers_have_no_tier_factor() -> None:
    decision = decide(enriched(status="unknown", channel="chat"))
    assert dict(decision.factors) == {"base": 100, "channel:chat": 50}
