"""The handler on the in-memory repository: decisions, load, lifecycle, replay."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY
from router_fakes import FakeRoutingRepository
from router_fixtures import FakeSetup
from router_support import MONDAY_10_LONDON, SATURDAY_10_LONDON

from router.config import RouterSettings
from router.policies import holder
from router.wiring import build_router
from switchboard_events import (
    DECISIONS_DECODER,
    ContactEnriched,
    ContactLifecycle,
    RoutingDecided,
    decision_id,
)
from switchboard_events.testing import enriched, lifecycle
from switchboard_runtime.runner import Output, Record
from switchboard_runtime.testing import ManualClock


def decoded(outputs: Sequence[Output]) -> list[RoutingDecided]:
    return [DECISIONS_DECODER.decode(o.value) for o in outputs]


async def test_a_batch_is_decided_stored_and_counted(fake: FakeSetup) -> None:
    router = fake.router
    events = [
        enriched("c-vip", tier="vip"),
        enriched("c-bill", contact_type="billing"),
        enriched("c-gen", status="unknown"),
    ]
    outputs = await fake.handle(events)
    decisions = decoded(outputs)
    assert [o.key for o in outputs] == [b"c-vip", b"c-bill", b"c-gen"]
    assert [d.id for d in decisions] == [
        decision_id(f"in-{c}") for c in ("c-vip", "c-bill", "c-gen")
    ]
    assert [d.data.queue_id for d in decisions] == ["vip", "billing", "general"]
    assert {d.data.policy_version for d in decisions} == {router.policies.current.version}
    assert fake.store.open_by_queue() == {"vip": 1, "billing": 1, "general": 1}
    assert len(fake.store.decisions) == 3


async def test_replay_re_emits_the_identical_decision_and_counts_once(fake: FakeSetup) -> None:
    events = [enriched(f"c{i}") for i in range(5)]
    first = await fake.handle(events)
    # Later the load has changed and the policy would decide differently: a replay must not.
    await fake.handle([enriched(f"busy{i}") for i in range(20)])
    # The same records again, then a copy of the first at another offset: the records
    # re-emit their decisions, the copy emits nothing.
    again = await fake.handle([*events, events[0]])
    assert [o.value for o in again] == [o.value for o in first]
    assert (fake.store.open_by_queue())["general"] + (fake.store.open_by_queue()).get(
        "vendor", 0
    ) == 25
    assert len(fake.store.decisions) == 25


async def test_a_duplicate_inside_one_batch_is_decided_once(fake: FakeSetup) -> None:
    event = enriched("c-dup")
    outputs = await fake.handle([event, event])
    assert len({o.value for o in outputs}) == 1
    assert fake.store.open_by_queue() == {"general": 1}


async def test_lifecycle_closes_reopens_and_moves_contacts(fake: FakeSetup) -> None:
    await fake.handle([enriched(f"c{i}") for i in range(4)])
    await fake.handle(
        [
            lifecycle("c0", "resolved"),
            lifecycle("c1", "abandoned"),
            lifecycle("c2", "transferred", to_queue_id="billing"),
            lifecycle("c3", "first_response"),
        ],
    )
    assert fake.store.open_by_queue() == {"general": 1, "billing": 1}
    await fake.handle([lifecycle("c0", "reopened")])
    assert fake.store.open_by_queue() == {"general": 2, "billing": 1}
    # A replayed lifecycle event changes nothing: c0 stays open.
    await fake.handle([lifecycle("c0", "resolved")])
    assert fake.store.open_by_queue() == {"general": 2, "billing": 1}


async def test_a_contact_resolved_before_its_decision_is_not_load(fake: FakeSetup) -> None:
    await fake.handle([lifecycle("early", "resolved")])
    outputs = await fake.handle([enriched("early")])
    assert len(outputs) == 1
    assert fake.store.open_by_queue() == {}


async def test_the_load_of_other_decisions_drives_overflow(fake: FakeSetup) -> None:
    outputs = await fake.handle([enriched(f"c{i}") for i in range(8)])
    assert {d.data.queue_id for d in decoded(outputs)} == {"general"}
    # A second batch (as another instance would) reads the 8 open calls from the database.
    late_outputs = await fake.handle([enriched("late")])
    [late] = decoded([o for o in late_outputs if o.topic == "routing.decisions"])
    assert late.data.queue_id == "vendor"
    assert late.data.overflow is not None
    assert late.data.overflow.reason == "expected_wait_breaches_sla"
    payload = json.loads(DECISIONS_DECODER.decode(outputs[0].value).model_dump_json())
    assert payload["data"]["customer"]["display_name"] == "Ivan Petrov"


async def test_metrics_count_decisions_overflows_and_load(fake: FakeSetup) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    decided = sample(
        "switchboard_router_decisions_total",
        queue="vendor",
        queue_kind="outsourced",
        rule="default",
    )
    overflowed = sample(
        "switchboard_router_overflows_total",
        reason="expected_wait_breaches_sla",
        from_queue="general",
    )
    latencies = sample("switchboard_router_decision_latency_seconds_count")
    await fake.handle([enriched(f"c{i}") for i in range(10)])
    assert sample("switchboard_router_decision_latency_seconds_count") == latencies + 10
    new_vendor = sample(
        "switchboard_router_decisions_total",
        queue="vendor",
        queue_kind="outsourced",
        rule="default",
    )
    assert new_vendor - decided == 2
    assert (
        sample(
            "switchboard_router_overflows_total",
            reason="expected_wait_breaches_sla",
            from_queue="general",
        )
        - overflowed
        == 2
    )
    assert sample("switchboard_router_open_contacts", queue="general") == 8
    assert sample("switchboard_router_estimated_wait_seconds", queue="general", channel="call") > 0


async def test_the_decision_says_when_the_calendars_were_evaluated_and_replays_keep_it(
    fake: FakeSetup,
) -> None:
    """Calendars are read at the decision's instant, not the event's time: a contact sent on
    Saturday and routed on Monday morning goes to the in-house queue open on Monday."""
    saturday = enriched("c-late", at=SATURDAY_10_LONDON)
    [first] = await fake.handle([saturday])
    decision = DECISIONS_DECODER.decode(first.value)
    assert decision.data.evaluated_at == MONDAY_10_LONDON == decision.data.decided_at
    assert decision.data.arrived_at == SATURDAY_10_LONDON
    assert decision.data.queue_id == "general", "open at the decision's instant"

    fake.clock.set(MONDAY_10_LONDON + timedelta(days=5))
    [again] = await fake.handle([saturday])
    assert again.value == first.value, "a replay re-emits the stored decision, instants and all"


async def test_a_vendor_s_decisions_also_go_to_its_own_topic_and_replays_repeat_them(
    fake: FakeSetup,
) -> None:
    """On Saturday the in-house queues are closed: a contact overflows to the vendor, a VIP
    (never outsourced) stays in-house; only the vendor's decision reaches its topic."""
    fake.clock.set(SATURDAY_10_LONDON)
    events = [enriched("c-weekend"), enriched("c-vip-weekend", tier="vip")]
    first = await fake.handle(events)
    vendor_topic = "routing.decisions.vendor.acme-bpo"
    topics = [(o.topic, o.key) for o in first]
    assert topics == [
        ("routing.decisions", b"c-weekend"),
        ("routing.decisions", b"c-vip-weekend"),
        (vendor_topic, b"c-weekend"),
    ]
    [internal, _, vendors] = first
    assert vendors.value == internal.value
    data = json.loads(vendors.value)["data"]
    assert (data["queue_kind"], data["vendor"]) == ("outsourced", "acme-bpo")
    assert "display_name" not in data["customer"], "a vendor's queue sees the minimised view"
    assert data["customer_id"].startswith("anon-")

    again = await fake.handle(events)
    assert [(o.topic, o.value) for o in again] == [(o.topic, o.value) for o in first]


async def test_without_vendor_topics_every_decision_goes_to_routing_decisions_only(
    policy_path: Path,
) -> None:
    clock = ManualClock(SATURDAY_10_LONDON)
    settings = RouterSettings(policy_path=policy_path, vendor_topics=False)
    router = build_router(settings, holder(policy_path), clock)
    batch: list[Record[ContactEnriched | ContactLifecycle]] = [
        Record("t", 0, 0, None, 0, enriched("c-weekend"))
    ]
    outputs = await router.route(batch, FakeRoutingRepository(now=clock.now))
    assert [o.topic for o in outputs] == ["routing.decisions"]
