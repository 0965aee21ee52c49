"""What a queue may see: masks everywhere, and minimised views for outsourced queues."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from router_support import MONDAY_10_LONDON, SATURDAY_10_LONDON, decide

from router.domain.outcome import decision_event
from router.domain.pii import customer_key, mask_email, mask_phone, pseudonym
from switchboard_events import (
    DECISIONS_DECODER,
    ContactEnriched,
    IdentityConflict,
    RoutingDecided,
    encode,
)
from switchboard_events.testing import RAW_EMAIL, RAW_PHONE, enriched

KEY = b"test-pseudonym-key-0123456789"
DECIDED = datetime(2025, 3, 8, 10, 0, 1, tzinfo=UTC)


def outsourced(event: ContactEnriched) -> RoutingDecided:
    decision = decide(event, at=SATURDAY_10_LONDON)
    assert decision.queue.kind.value == "outsourced"
    out = decision_event(event, decision, "v1", DECIDED, KEY)
    assert DECISIONS_DECODER.decode(encode(out)) == out, "the decision keeps the contract"
    return out


def test_masks() -> None:
    assert mask_phone("+44 7700 900958") == "+********0958"
    assert mask_phone("8 (916) 123-45-67") == "*******4567"
    assert mask_phone("tel:+1-202-555-0143;ext=12") == "+*******0143"
    assert mask_phone("123") == "****"
    assert mask_email("Ivan Petrov <IVAN.Petrov@Example.com>") == "i***@example.com"
    assert mask_email("not an address") == "***"


def test_pseudonyms_are_stable_per_key_and_hide_the_id() -> None:
    first = pseudonym("cust-1", KEY)
    assert first == pseudonym("cust-1", KEY)
    assert first != pseudonym("cust-2", KEY)
    assert first != pseudonym("cust-1", b"another-key-0123456789")
    assert "cust-1" not in first


def test_customer_keys_are_stable_per_key_and_neither_the_id_nor_the_pseudonym() -> None:
    first = customer_key("cust-1", KEY)
    assert first == customer_key("cust-1", KEY)
    assert first != customer_key("cust-2", KEY)
    assert first != customer_key("cust-1", b"another-key-0123456789")
    assert "cust-1" not in first
    assert first != pseudonym("cust-1", KEY)
    # A separate key, not a prefix of the message: no customer id makes one the other.
    assert first.removeprefix("ck-") != pseudonym("customer-key:cust-1", KEY).removeprefix("anon-")


def test_one_customer_has_one_key_in_house_and_outsourced() -> None:
    """sla-monitor's first-contact resolution counts repeats across both by this key."""
    weekday = enriched(channel="email", at=MONDAY_10_LONDON)
    in_house = decision_event(weekday, decide(weekday), "v1", DECIDED, KEY)
    vendor = outsourced(enriched("c-2", channel="email", at=SATURDAY_10_LONDON))
    assert in_house.data.queue_kind.value == "in_house"
    assert (in_house.data.customer_id, vendor.data.customer_id) == (
        "cust-1",
        pseudonym("cust-1", KEY),
    )
    assert in_house.data.customer_key == vendor.data.customer_key is not None
    assert in_house.data.customer_key not in ("cust-1", vendor.data.customer_id)


@pytest.mark.parametrize("channel", ["call", "chat", "email", "social"])
@pytest.mark.parametrize("status", ["known", "unknown", "ambiguous"])
def test_outsourced_decisions_carry_no_raw_contact_data(channel: str, status: str) -> None:
    event = enriched(channel=channel, status=status, phone=RAW_PHONE, email=RAW_EMAIL)
    out = outsourced(event)
    raw = encode(out).decode()
    for secret in (
        RAW_PHONE,
        RAW_EMAIL,
        "447700900958",
        "7700 900958",
        "ivan.petrov",
        "Ivan Petrov",
        "cust-1",
    ):
        assert secret.lower() not in raw.lower(), f"{secret!r} leaked into {raw}"
    customer = out.data.customer
    assert customer is not None
    assert customer.masked_phone == "+********0958"
    assert customer.masked_email == "i***@example.com"
    assert customer.display_name is None
    assert out.data.vendor == "acme-bpo"
    if status == "known":
        assert out.data.customer_id == pseudonym("cust-1", KEY)
        assert out.data.customer_key == customer_key("cust-1", KEY)
    else:
        assert out.data.customer_id is None
        assert out.data.customer_key is None


@settings(max_examples=60, deadline=None)
@given(
    digits=st.text("0123456789", min_size=7, max_size=15),
    local=st.from_regex(r"[a-z][a-z0-9._]{2,20}", fullmatch=True),
    name=st.from_regex(r"[A-Z][a-z]{2,10} [A-Z][a-z]{2,10}", fullmatch=True),
)
def test_no_sender_spelling_leaks_to_a_vendor(digits: str, local: str, name: str) -> None:
    phone = f"+{digits[:2]} {digits[2:]}"
    email = f"{name} <{local}@mail.example>"
    out = outsourced(enriched(channel="email", phone=phone, email=email, display_name=name))
    raw = encode(out).decode()
    assert phone not in raw
    assert email not in raw
    assert f"{local}@" not in raw
    assert name not in raw
    assert digits not in raw


def with_conflict(event: ContactEnriched) -> ContactEnriched:
    """The sender's phone is cust-1's, the email another customer's."""
    conflict = IdentityConflict(phone_customer_id="cust-1", email_customer_id="cust-by-email")
    identification = event.data.identification.model_copy(update={"conflict": conflict})
    data = event.data.model_copy(update={"identification": identification})
    return event.model_copy(update={"data": data})


@pytest.mark.parametrize("queue_kind", ["in_house", "outsourced"])
def test_the_decision_says_phone_and_email_point_at_different_customers(queue_kind: str) -> None:
    event = with_conflict(enriched(channel="email", email=RAW_EMAIL))
    decision = decide(
        event, at=SATURDAY_10_LONDON if queue_kind == "outsourced" else MONDAY_10_LONDON
    )
    out = decision_event(event, decision, "v1", DECIDED, KEY)
    assert out.data.queue_kind.value == queue_kind
    assert out.data.identity_conflict is True
    assert DECISIONS_DECODER.decode(encode(out)) == out
    assert "cust-by-email" not in encode(out).decode(), "the flag names no customer"
    plain = decision_event(enriched(channel="email"), decision, "v1", DECIDED, KEY)
    assert plain.data.identity_conflict is False


def test_in_house_queues_see_the_full_profile() -> None:
    event = enriched(channel="email")
    decision = decide(event)
    out = decision_event(event, decision, "v1", DECIDED, KEY)
    assert DECISIONS_DECODER.decode(encode(out)) == out
    assert out.data.queue_kind.value == "in_house"
    assert out.data.customer_id == "cust-1"
    assert out.data.customer_key == customer_key("cust-1", KEY)
    assert out.data.customer is not None
    assert out.data.customer.display_name == "Ivan Petrov"
    assert out.data.customer.tier == "standard"
    assert RAW_EMAIL not in encode(out).decode()


@pytest.mark.parametrize("queue_kind", ["in_house", "outsourced"])
def test_the_customer_contract_reaches_every_queue_s_decision(queue_kind: str) -> None:
    at = SATURDAY_10_LONDON if queue_kind == "outsourced" else MONDAY_10_LONDON
    event = enriched(channel="email", contract_id="gold-2025", at=at)
    out = decision_event(event, decide(event, at=at), "v1", DECIDED, KEY)
    assert out.data.queue_kind.value == queue_kind
    assert DECISIONS_DECODER.decode(encode(out)) == out
    assert out.data.contract_id == "gold-2025", "sla-monitor needs it whoever serves the contact"
    unknown = enriched(channel="email", status="unknown", at=at)
    assert (
        decision_event(unknown, decide(unknown, at=at), "v1", DECIDED, KEY).data.contract_id is None
    )
    plain = enriched(channel="email", at=at)
    assert decision_event(plain, decide(plain, at=at), "v1", DECIDED, KEY).data.contract_id is None


def test_every_field_of_the_decision_is_filled() -> None:
    event = enriched(
        channel="chat", repeat=True, priority_hint=1, language_hint="en-GB", at=SATURDAY_10_LONDON
    )
    decision = decide(event, at=SATURDAY_10_LONDON)
    out = decision_event(event, decision, "sha256:abc", DECIDED, KEY)
    data = json.loads(encode(out))["data"]
    assert data["decision_id"] == out.id
    assert data["inbound_event_id"] == "in-c-1"
    assert data["overflow"] == {"from_queue": "general", "reason": "outside_business_hours"}
    assert data["routing_latency_ms"] == pytest.approx(1000.0)
    assert data["arrived_at"] == "2025-03-08T10:00:00Z"
    for field in (
        "priority",
        "priority_label",
        "priority_factors",
        "rule",
        "reasons",
        "policy_version",
        "channel",
        "contact_type",
        "language",
        "customer",
        "vendor",
        "queue_kind",
        "customer_status",
        "cost_per_contact",
    ):
        assert field in data, field
    assert data["cost_per_contact"] == decision.queue.spec.cost_per_contact
