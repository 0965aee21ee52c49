"""The traffic stream: reproducible, valid, with the intended mix."""

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from switchboard_demo.customers import demo_customers
from switchboard_demo.publish import summary
from switchboard_demo.traffic import Outgoing, TrafficConfig, generate_traffic
from switchboard_events import (
    CONTACTS_INBOUND,
    ContactLifecycle,
    ContactReceived,
    InvalidEvent,
    LifecycleKind,
    decoder_for,
)

START = datetime(2025, 3, 3, 9, tzinfo=UTC)
CUSTOMERS = demo_customers()


def traffic(**config: Any) -> list[Outgoing]:
    settings = {"rate": 10.0, "duration": 300.0, "run_id": "test", **config}
    return list(generate_traffic(CUSTOMERS, TrafficConfig(**settings), START))


@pytest.fixture(scope="module")
def stream() -> list[Outgoing]:
    return traffic()


@pytest.fixture(scope="module")
def contacts(stream: list[Outgoing]) -> list[ContactReceived]:
    inbound = [i for i in stream if i.topic == CONTACTS_INBOUND]
    return [ContactReceived.model_validate_json(i.value) for i in inbound]


def test_same_seed_same_stream(stream: list[Outgoing]) -> None:
    assert traffic() == stream
    assert traffic(seed=8) != stream


def test_run_id_changes_ids_only(stream: list[Outgoing]) -> None:
    other = traffic(run_id="another")
    assert [(i.at, i.kind) for i in other] == [(i.at, i.kind) for i in stream]
    assert {i.key for i in other}.isdisjoint({i.key for i in stream})


def test_records_come_in_time_order_within_the_duration(stream: list[Outgoing]) -> None:
    times = [i.at for i in stream]
    assert times == sorted(times)
    assert times[0] > 0
    assert times[-1] <= 300.0


def test_every_record_is_a_valid_event_keyed_by_contact(stream: list[Outgoing]) -> None:
    for item in stream:
        event = decoder_for(item.topic).decode(item.value)
        assert item.key == event.partition_key() == event.subject


def test_channel_mix(contacts: list[ContactReceived]) -> None:
    shares = Counter(c.data.channel.value for c in contacts)
    total = len(contacts)
    assert total > 2500
    for channel, expected in {"call": 0.40, "chat": 0.25, "email": 0.25, "social": 0.10}.items():
        assert shares[channel] / total == pytest.approx(expected, abs=0.04)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text.split(";")[0].split(" ext")[0].split(" x")[0].split(" доб")[0])


def test_about_seventy_percent_of_callers_are_customers_spelled_many_ways(
    contacts: list[ContactReceived],
) -> None:
    known = {phone[-9:] for c in CUSTOMERS for phone in c.values("phone")}
    calls = [c for c in contacts if c.data.channel.value == "call"]
    phones = [c.data.sender.phone for c in calls if c.data.sender.phone]

    matched = [p for p in phones if _digits(p)[-9:] in known]
    assert len(matched) / len(calls) == pytest.approx(0.70, abs=0.05)
    spellings: dict[str, set[str]] = {}
    for phone in matched:
        spellings.setdefault(_digits(phone)[-9:], set()).add(phone)
    assert max(len(spelled) for spelled in spellings.values()) >= 3
    assert any(c.data.sender.withheld for c in calls)
    assert any(
        p in ("12ab", "unknown", "+", "000", "n/a", "anonymous", "+7 (9", "0") for p in phones
    )


def test_emails_are_re_spelled(contacts: list[ContactReceived]) -> None:
    emails = [c.data.sender.email for c in contacts if c.data.channel.value == "email"]
    assert any(e is not None and "<" in e for e in emails)
    assert any(e is not None and e != e.lower() for e in emails)


def test_lifecycle_follows_each_contact(
    stream: list[Outgoing], contacts: list[ContactReceived]
) -> None:
    arrival = {c.subject: c.time for c in contacts}
    steps: dict[str, list[LifecycleKind]] = {}
    for item in stream:
        if item.topic != CONTACTS_INBOUND:
            event = ContactLifecycle.model_validate_json(item.value)
            assert event.time >= arrival[event.subject]
            steps.setdefault(event.subject, []).append(event.data.kind)

    kinds = Counter(kind for run in steps.values() for kind in run)
    assert set(kinds) >= set(LifecycleKind) - {LifecycleKind.REOPENED}
    never_answered = [c for c in arrival if LifecycleKind.FIRST_RESPONSE not in steps.get(c, [])]
    assert 0.15 < len(never_answered) / len(arrival) < 0.45
    for run in steps.values():
        if LifecycleKind.ABANDONED in run:
            assert LifecycleKind.FIRST_RESPONSE not in run
        if LifecycleKind.CSAT_RECORDED in run:
            assert run.index(LifecycleKind.RESOLVED) < run.index(LifecycleKind.CSAT_RECORDED)


def test_malformed_records_are_off_by_default_and_fail_as_labelled(
    stream: list[Outgoing], contacts: list[ContactReceived]
) -> None:
    assert not [i for i in stream if i.kind.startswith("malformed:")]
    broken = traffic(malformed_share=0.1)
    malformed = [i for i in broken if i.kind.startswith("malformed:")]

    assert len(malformed) / len(contacts) == pytest.approx(0.1, abs=0.03)
    assert {i.kind for i in malformed} == {
        f"malformed:{k}" for k in ("not_json", "not_utf8", "schema_violation", "unknown_event_type")
    }
    for item in malformed:
        with pytest.raises(InvalidEvent) as caught:
            decoder_for(item.topic).decode(item.value)
        assert item.kind == f"malformed:{caught.value.error_class}"
    # Breaking some contacts leaves the others exactly as they were.
    intact = {
        i.key for i in broken if i.topic == CONTACTS_INBOUND and not i.kind.startswith("malformed:")
    }
    assert [i for i in broken if i.key in intact] == [i for i in stream if i.key in intact]


def test_time_scale_stretches_agent_delays() -> None:
    slow = traffic(time_scale=2.0, duration=60.0)
    fast = traffic(time_scale=1.0, duration=60.0)
    assert len([i for i in slow if i.topic != CONTACTS_INBOUND]) < len(
        [i for i in fast if i.topic != CONTACTS_INBOUND]
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"rate": 0.0}, "rate must be > 0"),
        ({"malformed_share": 1.5}, "malformed_share must be within 0..1"),
        ({"duration": -1.0}, "duration must be > 0"),
    ],
)
def test_bad_settings_are_refused(setting: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficConfig(**setting)


def test_summary_line() -> None:
    line = summary(
        Counter(
            {"contact:call": 3, "contact:chat": 1, "lifecycle:assigned": 2, "malformed:not_json": 1}
        ),
        12.34,
    )
    assert line == (
        "sent 7 records in 12.3s; contacts: call=3 chat=1; lifecycle: assigned=2; malformed: 1 (not_json=1)"
    )
