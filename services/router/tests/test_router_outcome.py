"""The decision the router produces as plain data is the contract's event, byte for byte.

The hot path encodes `decision_data` without building the model; the property: for
any contact, policy outcome (in-house, outsourced and minimised, overflow, closed hours)
and load, its bytes are what `encode` gives of the validated model, they decode with the
topic's decoder, and they validate against the committed JSON Schema.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from router_support import MONDAY_10_LONDON

from router import DEFAULT_POLICY
from router.domain.engine import Snapshot
from router.domain.outcome import decision_bytes, decision_data, decision_event
from router.domain.rules import Facts
from router.policies import compile_file
from switchboard_events import DECISIONS_DECODER, ContactEnriched, RoutingDecided, encode
from switchboard_events.testing import enriched

SCHEMAS = Path(__file__).resolve().parents[3] / "libs" / "events" / "schemas"
VALIDATOR = Draft202012Validator(
    json.loads((SCHEMAS / f"{RoutingDecided.event_type()}.schema.json").read_bytes()),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)
POLICY = compile_file(DEFAULT_POLICY)
KEY = b"k" * 32

optional_text = st.none() | st.sampled_from(["Ivan Petrov", "Zoë d'Artagnan", "李雷", "a" * 256])


@st.composite
def contacts(draw: st.DrawFn) -> ContactEnriched:
    channel = draw(st.sampled_from(["call", "chat", "email", "social"]))
    return enriched(
        f"c-{draw(st.integers(0, 10**6))}",
        at=MONDAY_10_LONDON - timedelta(seconds=draw(st.integers(0, 86_400))),
        channel=channel,
        contact_type=draw(st.sampled_from(["general", "billing", "complaint", "sales"])),
        status=draw(st.sampled_from(["known", "unknown", "ambiguous"])),
        tier=draw(st.sampled_from(["standard", "premium", "vip"])),
        segment=draw(st.none() | st.just("smb")),
        customer_language=draw(st.none() | st.sampled_from(["de-DE", "fr"])),
        region=draw(st.none() | st.just("UK")),
        timezone=draw(st.none() | st.just("Europe/London")),
        repeat=draw(st.booleans()),
        phone=draw(st.none() | st.sampled_from(["+44 7700 900958", "12", "tel:+1-555-0100"])),
        email=draw(st.none() | st.sampled_from(["Ivan <IVAN@Example.com>", "not-an-email"])),
        display_name=draw(optional_text),
        language_hint=draw(st.none() | st.sampled_from(["en-GB", "de"])),
        priority_hint=draw(st.none() | st.integers(1, 5)),
        subject=draw(st.none() | st.just("I was charged twice")) if channel == "email" else None,
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=contacts(),
    hours_later=st.integers(0, 24 * 7),
    load=st.dictionaries(
        st.tuples(st.sampled_from(sorted(POLICY.queues)), st.sampled_from(["call", "chat"])),
        st.integers(0, 500),
        max_size=6,
    ),
)
def test_the_plain_decision_is_the_contracts_event(
    event: ContactEnriched, hours_later: int, load: dict[tuple[str, str], int]
) -> None:
    check(event, MONDAY_10_LONDON + timedelta(hours=hours_later, microseconds=123), load)


def check(event: ContactEnriched, now: datetime, load: dict[tuple[str, str], int]) -> Any:
    """Assert the plain decision's bytes are the model's and valid; return its data."""
    decision = POLICY.decide(Facts.of(event), Snapshot(POLICY, now, load))
    raw = decision_bytes(decision_data(event, decision, POLICY.version, now, KEY))
    model = decision_event(event, decision, POLICY.version, now, KEY)
    assert raw == encode(model)
    assert DECISIONS_DECODER.decode(raw) == model
    VALIDATOR.validate(json.loads(raw))
    return json.loads(raw)["data"]


def test_every_kind_of_queue_and_an_overflow_are_the_contracts_event() -> None:
    """Over a week of hours, idle and full: in-house and outsourced queues, minimised views
    (a pseudonymous customer id, no name) and overflows each meet the property."""
    full = {(q, c): 500 for q in POLICY.queues for c in ("call", "chat", "email")}
    seen: set[str] = set()
    for hours in range(0, 24 * 7, 3):
        now = MONDAY_10_LONDON + timedelta(hours=hours)
        for event in (
            enriched(channel="call", phone="+44 7700 900958", display_name="Ivan"),
            enriched(channel="chat", status="unknown", email="ivan@example.com"),
            enriched(channel="email", tier="vip", contact_type="complaint"),
        ):
            for load in ({}, full):
                data = check(event, now, load)
                seen |= {data["queue_kind"], *(k for k in ("overflow", "vendor") if k in data)}
                if str(data.get("customer_id", "")).startswith("anon-"):
                    seen.add("minimised")
    assert {"in_house", "outsourced", "overflow", "vendor", "minimised"} <= seen
