"""Model rules: optional senders, blank means absent, conditional fields, envelope invariants."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from switchboard_events import (
    Channel,
    ContactEnriched,
    ContactLifecycle,
    ContactReceived,
    ContactReceivedData,
    EntryPoint,
    HistorySummary,
    IdentificationStatus,
    LifecycleKind,
    QueueKind,
    RoutingDecided,
    Sender,
    decision_id,
)

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def received(**data: Any) -> ContactReceived:
    payload = {"contact_id": "c-1", "channel": "call", "contact_type": "billing", **data}
    return ContactReceived.model_validate(
        {
            "id": "ev-1",
            "source": "connector/telephony",
            "subject": payload["contact_id"],
            "time": NOW,
            "producedtime": NOW,
            "data": payload,
        }
    )


def lifecycle(kind: LifecycleKind, **data: Any) -> ContactLifecycle:
    return ContactLifecycle.model_validate(
        {
            "id": "lc-1",
            "source": "desktop/agent",
            "subject": "c-1",
            "time": NOW,
            "producedtime": NOW,
            "data": {"contact_id": "c-1", "kind": kind, **data},
        }
    )


@pytest.mark.parametrize(
    ("channel", "sender"),
    [
        (Channel.CALL, {"phone": "8 (916) 123-45-67"}),
        (Channel.CALL, {"phone": "12ab"}),
        (Channel.CALL, {"withheld": True}),
        (Channel.EMAIL, {"email": "Ivan Petrov <IVAN@Example.com>"}),
        (Channel.CHAT, {"external_ref": "visitor-1"}),
        (Channel.CHAT, {"display_name": "Emma"}),
        (Channel.SOCIAL, {"external_ref": "x:@jonas_b"}),
        (Channel.SOCIAL, {"phone": "+44 7700 900123"}),
    ],
)
def test_senders_that_fit_their_channel(channel: Channel, sender: dict[str, Any]) -> None:
    assert received(channel=channel, sender=sender).data.channel == channel


@pytest.mark.parametrize(
    ("channel", "sender"),
    [
        (Channel.CALL, {}),
        (Channel.CALL, {"email": "a@example.com"}),
        (Channel.EMAIL, {"phone": "+7 916 123-45-67"}),
        (Channel.CHAT, {"withheld": True}),
        (Channel.SOCIAL, {}),
    ],
)
def test_a_sender_without_a_usable_identity_is_still_a_contact(
    channel: Channel, sender: dict[str, Any]
) -> None:
    # Nothing to match it by makes an unknown sender (routed), not a lost contact.
    assert received(channel=channel, sender=sender).data.channel == channel


def test_a_contact_without_a_sender_object_is_still_a_contact() -> None:
    assert received().data.sender == Sender()


@pytest.mark.parametrize("blank", ["", " ", "\t\r\n "])
def test_blank_optional_strings_are_absent(blank: str) -> None:
    event = received(
        sender={"phone": blank, "email": blank, "display_name": blank, "external_ref": blank},
        entry_point={"dialled_number": blank, "mailbox": blank, "widget_id": blank, "page": blank},
        language_hint=blank,
    )
    assert event.data.sender == Sender()
    assert event.data.entry_point == EntryPoint()
    assert event.data.language_hint is None
    step = lifecycle(LifecycleKind.RESOLVED, agent_id=blank, queue_id=blank, reason=blank)
    assert (step.data.agent_id, step.data.queue_id, step.data.reason) == (None, None, None)


def test_free_text_blank_in_any_unicode_whitespace_is_absent() -> None:
    event = received(sender={"phone": "\u3000", "display_name": "\u00a0 "})
    assert event.data.sender == Sender()


def test_a_blank_transfer_target_is_no_target() -> None:
    with pytest.raises(ValidationError, match="kind transferred needs to_queue_id"):
        lifecycle(LifecycleKind.TRANSFERRED, to_queue_id="")


def test_raw_phone_and_email_are_kept_as_spelled() -> None:
    event = received(sender={"phone": " tel:+7-916-1234567;ext=12 "})
    assert event.data.sender.phone == " tel:+7-916-1234567;ext=12 "


def test_contact_type_is_trimmed_and_lower_cased() -> None:
    assert received(sender={"phone": "1"}, contact_type=" Billing ").data.contact_type == "billing"


def test_naive_time_is_rejected() -> None:
    event = received(sender={"phone": "1"}).model_dump()
    with pytest.raises(ValidationError, match="should have timezone info"):
        ContactReceived.model_validate({**event, "time": datetime(2025, 3, 3, 9)})


def test_unknown_fields_are_ignored_everywhere() -> None:
    event = received(sender={"phone": "1", "carrier": "MTS"}, sentiment=0.4)
    future = ContactReceived.model_validate({**event.model_dump(), "traceparent": "00-abc-01"})
    assert future == event


def test_subject_must_be_the_contact_id() -> None:
    event = received(sender={"phone": "1"})
    with pytest.raises(ValidationError, match="subject must equal"):
        ContactReceived.model_validate({**event.model_dump(), "subject": "c-2"})


def test_events_are_immutable() -> None:
    event = received(sender={"phone": "1"})
    with pytest.raises(ValidationError, match="frozen"):
        event.id = "ev-2"  # type: ignore[misc]


def test_attributes_are_bounded() -> None:
    with pytest.raises(ValidationError, match="at most 32"):
        received(sender={"phone": "1"}, attributes={f"k{i}": i for i in range(33)})


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        (LifecycleKind.CSAT_RECORDED, {"csat_score": 5}),
        (LifecycleKind.TRANSFERRED, {"to_queue_id": "returns-en"}),
        (LifecycleKind.RESOLVED, {}),
    ],
)
def test_lifecycle_conditional_fields_present(kind: LifecycleKind, extra: dict[str, Any]) -> None:
    assert lifecycle(kind, **extra).data.kind == kind


@pytest.mark.parametrize(
    ("kind", "extra", "message"),
    [
        (LifecycleKind.CSAT_RECORDED, {}, "kind csat_recorded needs csat_score"),
        (LifecycleKind.TRANSFERRED, {}, "kind transferred needs to_queue_id"),
        (LifecycleKind.RESOLVED, {"csat_score": 3}, "csat_score is only allowed"),
        (LifecycleKind.ASSIGNED, {"to_queue_id": "q"}, "to_queue_id is only allowed"),
        (LifecycleKind.CSAT_RECORDED, {"csat_score": 6}, "less than or equal to 5"),
    ],
)
def test_lifecycle_conditional_fields_wrong(
    kind: LifecycleKind, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        lifecycle(kind, **extra)


def _enriched(status: IdentificationStatus, **data: Any) -> ContactEnriched:
    contact = ContactReceivedData.model_validate(
        {
            "contact_id": "c-1",
            "channel": "email",
            "sender": {"email": "x"},
            "contact_type": "general",
        }
    )
    return ContactEnriched.model_validate(
        {
            "id": "en-1",
            "source": "switchboard/profile-lookup",
            "subject": "c-1",
            "time": NOW,
            "producedtime": NOW,
            "data": {
                "inbound_event_id": "ev-1",
                "contact": contact,
                "identification": {"status": status, **data.pop("identification", {})},
                **data,
            },
        }
    )


def test_enriched_is_keyed_by_customer_when_known() -> None:
    known = _enriched(
        IdentificationStatus.KNOWN,
        identification={"matched_by": "email", "candidates": 1},
        customer={"customer_id": "cust-7", "tier": "VIP"},
    )
    assert known.partition_key() == "cust-7"
    assert known.data.customer is not None
    assert known.data.customer.tier == "vip"
    assert _enriched(IdentificationStatus.UNKNOWN).partition_key() == "c-1"


@pytest.mark.parametrize(
    ("status", "data", "message"),
    [
        (IdentificationStatus.KNOWN, {"customer": {"customer_id": "x", "tier": "s"}}, "matched_by"),
        (IdentificationStatus.KNOWN, {"identification": {"matched_by": "phone"}}, "customer must"),
        (IdentificationStatus.AMBIGUOUS, {"identification": {"candidates": 1}}, "candidates >= 2"),
        (IdentificationStatus.UNKNOWN, {"identification": {"matched_by": "phone"}}, "unknown"),
    ],
)
def test_identification_must_be_consistent(
    status: IdentificationStatus, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _enriched(status, **data)


def test_history_windows_nest() -> None:
    with pytest.raises(ValidationError, match="contacts_24h <= contacts_7d"):
        HistorySummary(contacts_24h=3, contacts_7d=2, contacts_30d=5)


def _decided(**data: Any) -> dict[str, Any]:
    return {
        "id": decision_id("ev-1"),
        "source": "switchboard/router",
        "subject": "c-1",
        "time": NOW,
        "producedtime": NOW,
        "data": {
            "decision_id": decision_id("ev-1"),
            "inbound_event_id": "ev-1",
            "contact_id": "c-1",
            "customer_status": "unknown",
            "queue_id": "general-en",
            "queue_kind": "in_house",
            "priority": 100,
            "priority_label": "P4",
            "rule": "default",
            "policy_version": "1",
            "arrived_at": NOW,
            "decided_at": NOW,
            "routing_latency_ms": 3.5,
            "channel": "chat",
            "contact_type": "general",
            **data,
        },
    }


def test_decision_rules() -> None:
    assert RoutingDecided.model_validate(_decided()).data.queue_kind == QueueKind.IN_HOUSE
    with pytest.raises(ValidationError, match="vendor must be set"):
        RoutingDecided.model_validate(_decided(queue_kind="outsourced"))
    with pytest.raises(ValidationError, match="vendor must be set"):
        RoutingDecided.model_validate(_decided(vendor="northwind"))
    with pytest.raises(ValidationError, match="customer_id is only allowed"):
        RoutingDecided.model_validate(_decided(customer_id="cust-1"))
    with pytest.raises(ValidationError, match="customer_key is only allowed"):
        RoutingDecided.model_validate(_decided(customer_key="anon-1"))
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        RoutingDecided.model_validate(_decided(cost_per_contact=-1))
    with pytest.raises(ValidationError, match="decision_id must equal"):
        RoutingDecided.model_validate(_decided(decision_id="other"))
