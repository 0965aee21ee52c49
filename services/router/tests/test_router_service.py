"""The handler against the real database: decisions, load, lifecycle, replay (no broker)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from router.testing import MONDAY_10_LONDON, SATURDAY_10_LONDON, enriched, lifecycle
from router.testing_stack import RouterSetup
from switchboard_events import DECISIONS_DECODER, RoutingDecided, decision_id

pytestmark = pytest.mark.integration


def decoded(outputs: object) -> list[RoutingDecided]:
    return [DECISIONS_DECODER.decode(o.value) for o in outputs]  # type: ignore[attr-defined]


async def test_a_batch_is_decided_stored_and_counted(setup: RouterSetup) -> None:
    router = setup.router()
    events = [
        enriched("c-vip", tier="vip"),
        enriched("c-bill", contact_type="billing"),
        enriched("c-gen", status="unknown"),
    ]
    outputs = await setup.handle(router, events)
    decisions = decoded(outputs)
    assert [o.key for o in outputs] == [b"c-vip", b"c-bill", b"c-gen"]
    assert [d.id for d in decisions] == [
        decision_id(f"in-{c}") for c in ("c-vip", "c-bill", "c-gen")
    ]
    assert [d.data.queue_id for d in decisions] == ["vip", "billing", "general"]
    assert {d.data.policy_version for d in decisions} == {router.policies.current.version}
    assert await setup.open_load() == {"vip": 1, "billing": 1, "general": 1}
    assert await setup.scalar("SELECT count(*) FROM routing.decisions") == 3


async def test_replay_re_emits_the_identical_decision_and_counts_once(setup: RouterSetup) -> None:
    router = setup.router()
    events = [enriched(f"c{i}") for i in range(5)]
    first = await setup.handle(router, events)
    # Later the load has changed and the policy would decide differently: a replay must not.
    await setup.handle(router, [enriched(f"busy{i}") for i in range(20)])
    # The same records again, then a copy of the first at another offset: the records
    # re-emit their decisions, the copy emits nothing.
    again = await setup.handle(router, [*events, events[0]])
    assert [o.value for o in again] == [o.value for o in first]
    assert (await setup.open_load())["general"] + (await setup.open_load()).get("vendor", 0) == 25
    assert await setup.scalar("SELECT count(*) FROM routing.decisions") == 25


async def test_a_duplicate_inside_one_batch_is_decided_once(setup: RouterSetup) -> None:
    event = enriched("c-dup")
    outputs = await setup.handle(setup.router(), [event, event])
    assert len({o.value for o in outputs}) == 1
    assert await setup.open_load() == {"general": 1}


async def test_lifecycle_closes_reopens_and_moves_contacts(setup: RouterSetup) -> None:
    router = setup.router()
    await setup.handle(router, [enriched(f"c{i}") for i in range(4)])
    await setup.handle(
        router,
        [
            lifecycle("c0", "resolved"),
            lifecycle("c1", "abandoned"),
            lifecycle("c2", "transferred", to_queue="billing"),
            lifecycle("c3", "first_response"),
        ],
    )
    assert await setup.open_load() == {"general": 1, "billing": 1}
    await setup.handle(router, [lifecycle("c0", "reopened")])
    assert await setup.open_load() == {"general": 2, "billing": 1}
    # A replayed lifecycle event changes nothing: c0 stays open.
    await setup.handle(router, [lifecycle("c0", "resolved")])
    assert await setup.open_load() == {"general": 2, "billing": 1}


async def test_a_contact_resolved_before_its_decision_is_not_load(setup: RouterSetup) -> None:
    router = setup.router()
    await setup.handle(router, [lifecycle("early", "resolved")])
    outputs = await setup.handle(router, [enriched("early")])
    assert len(outputs) == 1
    assert await setup.open_load() == {}


async def test_the_load_of_other_decisions_drives_overflow(setup: RouterSetup) -> None:
    router = setup.router()
    outputs = await setup.handle(router, [enriched(f"c{i}") for i in range(8)])
    assert {d.data.queue_id for d in decoded(outputs)} == {"general"}
    # A second batch (as another instance would) reads the 8 open calls from the database.
    [late] = decoded(await setup.handle(router, [enriched("late")]))
    assert late.data.queue_id == "vendor"
    assert late.data.overflow is not None
    assert late.data.overflow.reason == "expected_wait_breaches_sla"
    payload = json.loads(DECISIONS_DECODER.decode(outputs[0].value).model_dump_json())
    assert payload["data"]["customer"]["display_name"] == "Ivan Petrov"


async def test_metrics_count_decisions_overflows_and_load(setup: RouterSetup) -> None:
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
    await setup.handle(setup.router(), [enriched(f"c{i}") for i in range(10)])
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
    setup: RouterSetup,
) -> None:
    """Calendars are read at the decision's instant, not the event's time: a contact sent on
    Saturday and routed on Monday morning goes to the in-house queue open on Monday."""
    router = setup.router()
    saturday = enriched("c-late", at=SATURDAY_10_LONDON)
    [first] = await setup.handle(router, [saturday])
    decision = DECISIONS_DECODER.decode(first.value)
    assert decision.data.evaluated_at == MONDAY_10_LONDON == decision.data.decided_at
    assert decision.data.arrived_at == SATURDAY_10_LONDON
    assert decision.data.queue_id == "general", "open at the decision's instant"

    router.clock = lambda: MONDAY_10_LONDON + timedelta(days=5)
    [again] = await setup.handle(router, [saturday])
    assert again.value == first.value, "a replay re-emits the stored decision, instants and all"
