"""Deterministic ids and the topic table."""

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard_events import ALL_EVENTS, ALL_TOPICS, decision_id, decoder_for, derive_id, dlq
from switchboard_events.ids import SWITCHBOARD_NAMESPACE
from switchboard_events.topics import CONTACTS_LIFECYCLE, ROUTING_DECISIONS, SLA_ALERTS, topic_spec


def test_derive_id_is_a_stable_uuid() -> None:
    first = derive_id("routing.decided", "tel-20250303-0001")

    assert first == derive_id("routing.decided", "tel-20250303-0001")
    assert uuid.UUID(first).version == 5
    # Pinned: changing the namespace or the encoding would change every id ever issued.
    assert first == "0f04b145-ee22-5628-aec2-bd6d3447a8ed"


@given(st.text(), st.lists(st.text(), min_size=1, max_size=5))
def test_derive_id_is_the_uuid5_of_the_json_array(namespace: str, parts: list[str]) -> None:
    """The fast derivation is the documented one, for any text (quotes, escapes, control
    characters, non-ASCII)."""
    name = json.dumps([namespace, *parts], ensure_ascii=False, separators=(",", ":"))
    assert derive_id(namespace, *parts) == str(uuid.uuid5(SWITCHBOARD_NAMESPACE, name))


def test_derive_id_separates_namespaces_and_part_boundaries() -> None:
    assert derive_id("a", "b") != derive_id("b", "b")
    assert derive_id("ns", "a.b", "c") != derive_id("ns", "a", "b.c")
    assert derive_id("ns", "ab") != derive_id("ns", "a", "b")


def test_derive_id_needs_a_part() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        derive_id("routing.decided")


def test_decision_id_is_derived_from_the_inbound_event_id() -> None:
    assert decision_id("tel-1") == derive_id("routing.decided", "tel-1")


def test_sla_topics_are_co_partitioned() -> None:
    counts = {
        topic_spec(name).partitions for name in (ROUTING_DECISIONS, CONTACTS_LIFECYCLE, SLA_ALERTS)
    }
    assert len(counts) == 1


def test_every_event_type_lives_on_exactly_one_topic() -> None:
    assert len(ALL_EVENTS) == len(set(ALL_EVENTS)) == len({e.event_type() for e in ALL_EVENTS})


def test_consumed_topics_have_dead_letter_twins() -> None:
    for spec in ALL_TOPICS:
        assert spec.dlq == (dlq(spec.name) if spec.consumers else None)
    assert dlq("contacts.inbound") == "contacts.inbound.dlq"


def test_topic_decoders_accept_exactly_the_topic_events() -> None:
    for spec in ALL_TOPICS:
        assert decoder_for(spec.name).models == spec.events


def test_unknown_topic_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"contacts\.inbound"):
        topic_spec("contacts.outbound")
    with pytest.raises(KeyError, match=r"contacts\.inbound"):
        decoder_for("contacts.inbound.dlq")
