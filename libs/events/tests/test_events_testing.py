"""The test factories: every event they build is one the real decoder accepts unchanged."""

from datetime import timedelta

import pytest

from switchboard_events import (
    ANY_DECODER,
    AUDIT_DECODER,
    DECISIONS_DECODER,
    ENRICHED_DECODER,
    INBOUND_DECODER,
    LIFECYCLE_DECODER,
    SLA_ALERTS_DECODER,
    AlertKind,
    Channel,
    Event,
    EventDecoder,
    IdentificationStatus,
    LifecycleKind,
    QueueKind,
    SlaTarget,
    decision_id,
    derive_id,
    encode,
)
from switchboard_events import testing as make
from switchboard_events.testing import T0


def round_trip(event: Event, decoder: EventDecoder[Event]) -> Event:
    decoded = decoder.decode(encode(event))
    assert decoded == event
    return decoded


BUILT: list[tuple[str, Event, EventDecoder[Event]]] = [
    ("inbound", make.inbound(), INBOUND_DECODER),
    (
        "inbound, every field",
        make.inbound(
            "c-9",
            channel="chat",
            contact_type="billing",
            phone="8 (916) 123-45-67",
            email="ivan@example.com",
            display_name="Ivan",
            external_ref="crm-1",
            withheld=True,
            dialled="+44 20 7946 0000",
            priority_hint=1,
            language_hint="de-DE",
            subject="refund",
            attributes={"ivr": "2", "vip": True, "n": 3, "score": 0.5},
            event_id="evt-0001",
            source="connector/chat",
        ),
        INBOUND_DECODER,
    ),
    ("enriched, known", make.enriched(), ENRICHED_DECODER),
    ("audit", make.audit(), AUDIT_DECODER),
    ("audit, refused, nobody", make.audit(customer_ids=[], outcome="rate_limited"), AUDIT_DECODER),
    ("enriched, unknown", make.enriched(status="unknown"), ENRICHED_DECODER),
    ("enriched, ambiguous", make.enriched(status="ambiguous"), ENRICHED_DECODER),
    (
        "enriched, repeat email",
        make.enriched(channel="email", repeat=True, tier="vip", inbound_source="connector/email"),
        ENRICHED_DECODER,
    ),
    ("decided", make.decided(), DECISIONS_DECODER),
    (
        "decided, outsourced and known",
        make.decided(queue_id="vendor", queue_kind="outsourced", customer_id="cust-1", tier="vip"),
        DECISIONS_DECODER,
    ),
    *[
        (f"lifecycle {kind.value}", make.lifecycle(kind=kind), LIFECYCLE_DECODER)
        for kind in LifecycleKind
    ],
    ("alert", make.alert(), SLA_ALERTS_DECODER),
    (
        "alert, outsourced breach, cycle 2",
        make.alert(kind="breach", level=2, cycle=2, queue_kind="outsourced", target="resolution"),
        SLA_ALERTS_DECODER,
    ),
]


@pytest.mark.parametrize(("what", "event", "decoder"), BUILT, ids=[b[0] for b in BUILT])
def test_every_factory_output_decodes_unchanged(
    what: str, event: Event, decoder: EventDecoder[Event]
) -> None:
    round_trip(event, decoder)
    assert round_trip(event, ANY_DECODER).subject == event.contact_id, what


def test_every_event_type_has_a_factory() -> None:
    built = {type(event) for _, event, _ in BUILT}
    assert {decoder.models[0] for _, _, decoder in BUILT} == built
    assert built == set(ANY_DECODER.models)


def test_times_default_to_the_fixed_instant_not_the_wall_clock() -> None:
    assert make.inbound().time == make.inbound().producedtime == T0
    assert make.enriched().time == T0
    assert make.decided().data.arrived_at == make.decided().data.decided_at == T0
    assert make.lifecycle().time == T0
    assert make.alert().data.due_at == T0 + timedelta(seconds=60)
    assert make.inbound() == make.inbound(), "the same call builds the same event"


def test_ids_follow_the_contract_derivations() -> None:
    assert make.inbound("c-7").id == "in-c-7"
    assert make.enriched("c-7").data.inbound_event_id == "in-c-7"
    assert make.decided("c-7").id == decision_id("in-c-7")
    sourced = make.decided("c-7", inbound_source="connector/chat")
    assert sourced.id == sourced.data.decision_id == decision_id("in-c-7", "connector/chat")
    first = make.alert("c-7", kind="breach", level=2)
    assert first.id == derive_id("sla.alert", "c-7", "first_response", "breach", "2")
    second = make.alert("c-7", kind="breach", level=2, cycle=2)
    assert second.id == derive_id("sla.alert", "c-7", "first_response", "breach", "2", "cycle 2")


def test_lifecycle_steps_of_one_kind_and_time_are_told_apart_by_n() -> None:
    a, b = (make.lifecycle("c", "customer_replied", T0, n=n) for n in (0, 1))
    assert a.id != b.id
    later = make.lifecycle("c", "customer_replied", T0 + timedelta(seconds=1))
    assert later.id not in {a.id, b.id}


def test_overrides_reach_the_event() -> None:
    call = make.inbound("c", channel=Channel.CALL, phone="+7 916", withheld=True, dialled="+44")
    assert call.data.sender.phone == "+7 916"
    assert call.data.sender.withheld is True
    assert call.data.entry_point is not None
    assert call.data.entry_point.dialled_number == "+44"
    assert make.inbound().data.sender.phone is None, "an unknown sender by default"

    known = make.enriched("c", tier="vip", customer_id="cust-9", customer_language="de")
    assert known.data.customer is not None
    assert (known.data.customer.tier, known.data.customer.customer_id) == ("vip", "cust-9")
    assert known.partition_key() == "cust-9"
    unknown = make.enriched("c", status=IdentificationStatus.UNKNOWN)
    assert unknown.data.customer is None
    assert unknown.partition_key() == "c"
    assert make.enriched(channel="email").data.contact.sender.email == make.RAW_EMAIL
    assert make.enriched(repeat=True).data.history.repeat_contact is True

    late = make.decided(decided_at=T0 + timedelta(seconds=2), tier="premium")
    assert late.data.routing_latency_ms == 2000
    assert late.data.customer is not None
    assert late.data.customer.tier == "premium"
    outsourced = make.decided(queue_kind=QueueKind.OUTSOURCED)
    assert outsourced.data.vendor == make.DEFAULT_VENDOR
    assert make.decided(customer_id="cust-1").data.customer_status is IdentificationStatus.KNOWN

    assert make.lifecycle(kind="csat_recorded").data.csat_score == 4
    assert make.lifecycle(kind="transferred", to_queue_id="vip").data.to_queue_id == "vip"

    breach = make.alert(target=SlaTarget.RESOLUTION, kind=AlertKind.BREACH, target_seconds=600)
    assert (breach.data.target, breach.data.kind) == (SlaTarget.RESOLUTION, AlertKind.BREACH)
    assert breach.data.elapsed_business_seconds == 600
