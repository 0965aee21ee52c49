"""The router on the real broker and database: flow, dead letters, replay, two instances, reload."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from router_stack import RouterSetup, RunnerFactory
from router_support import policy_dict, policy_yaml

from router import metrics
from router.policies import holder
from switchboard_events import (
    DECISIONS_DECODER,
    DLQ_ERROR_CLASS,
    ContactEnriched,
    RoutingDecided,
    decision_id,
    dlq,
)
from switchboard_events.testing import enriched, lifecycle
from switchboard_runtime.testing import ManualClock, eventually
from switchboard_runtime.testing.kafka import Message, committed, publish, read_topic, topic_size

pytestmark = pytest.mark.integration

POLL_S = 1.0


def decisions(messages: list[Message]) -> list[RoutingDecided]:
    return [DECISIONS_DECODER.decode(m.value) for m in messages]


def mixed(count: int, prefix: str = "c") -> list[ContactEnriched]:
    kinds: list[dict[str, Any]] = [
        {},
        {"tier": "vip"},
        {"contact_type": "billing"},
        {"status": "unknown"},
        {"channel": "social"},
    ]
    return [
        enriched(f"{prefix}{i}", customer_id=f"cust-{i % 13}", **kinds[i % 5]) for i in range(count)
    ]


async def test_decisions_flow_keyed_by_contact_and_bad_records_are_dead_lettered(
    setup: RouterSetup, run_router: RunnerFactory
) -> None:
    s = setup.settings
    events = mixed(40)
    await setup.publish(s.enriched_topic, events)
    await publish(
        setup.kafka, s.enriched_topic, [(b"bad", b'{"type": "switchboard.contact.enriched.v1"}')]
    )
    async with run_router():
        out = await read_topic(setup.kafka, s.decisions_topic, 40)
        letters = await read_topic(setup.kafka, dlq(s.enriched_topic), 1)
    assert len(out) == 40
    assert {m.key for m in out} == {f"c{i}".encode() for i in range(40)}
    assert {d.id for d in decisions(out)} == {decision_id(f"in-c{i}") for i in range(40)}
    assert all(m.headers["content-type"].startswith(b"application/cloudevents+json") for m in out)
    assert letters[0].headers[DLQ_ERROR_CLASS] == b"schema_violation"
    by_queue = Counter(d.data.queue_id for d in decisions(out))
    assert await setup.open_load() == dict(by_queue)


async def run_until_read(setup: RouterSetup, run_router: RunnerFactory, records: int) -> None:
    """Run a router until its group has committed `records` enriched records."""
    s = setup.settings
    group = s.consumer_group or "router"

    async def read_all() -> bool:
        return sum((await committed(setup.kafka, group, s.enriched_topic)).values()) == records

    async with run_router():
        await eventually(read_all, timeout=60, what=f"the group to read {records} enriched records")


async def test_copies_emit_nothing_and_a_full_replay_emits_each_decision_once(
    setup: RouterSetup, run_router: RunnerFactory
) -> None:
    s = setup.settings
    events = mixed(30)
    await setup.publish(s.enriched_topic, events)
    await run_until_read(setup, run_router, 30)
    first = await read_topic(setup.kafka, s.decisions_topic, 30)
    load = await setup.open_load()
    # The same events again, as profile-lookup re-emits them when its input is replayed
    # (or a producer retries): the decisions went out already.
    await setup.publish(s.enriched_topic, events)
    await run_until_read(setup, run_router, 60)
    assert await topic_size(setup.kafka, s.decisions_topic) == 30
    # A full replay (a new group from offset 0, over the originals and the copies):
    # each original re-emits its decision once, byte for byte.
    setup.settings = s.model_copy(update={"consumer_group": f"{s.consumer_group}-replay"})
    await run_until_read(setup, run_router, 60)
    assert await topic_size(setup.kafka, s.decisions_topic) == 60
    both = await read_topic(setup.kafka, s.decisions_topic, 60)
    assert sorted(m.value for m in both) == sorted([m.value for m in first] * 2)
    assert await setup.open_load() == load


async def test_one_inbound_id_from_two_sources_gets_two_decisions(
    setup: RouterSetup, run_router: RunnerFactory
) -> None:
    s = setup.settings

    def from_source(event: ContactEnriched, source: str) -> ContactEnriched:
        data = event.data.model_copy(update={"inbound_source": source})
        return event.model_copy(update={"data": data})

    telephony = from_source(enriched("c-tel", inbound_event_id="evt-0001"), "connector/telephony")
    chat = from_source(
        enriched("c-chat", channel="chat", inbound_event_id="evt-0001"), "connector/chat"
    )
    step = lifecycle("c-tel", "resolved", event_id="evt-0001")
    await setup.publish(s.lifecycle_topic, [step.model_copy(update={"source": "connector/chat"})])
    await setup.publish(s.enriched_topic, [telephony, chat])
    async with run_router():
        out = await read_topic(setup.kafka, s.decisions_topic, 2)
    ids = {d.data.contact_id: d.id for d in decisions(out)}
    assert ids == {
        "c-tel": decision_id("evt-0001", "connector/telephony"),
        "c-chat": decision_id("evt-0001", "connector/chat"),
    }
    assert len(set(ids.values())) == 2


async def test_two_instances_in_one_group_share_the_load_consistently(
    setup: RouterSetup, run_router: RunnerFactory
) -> None:
    s = setup.settings
    async with run_router() as (_, a), run_router() as (_, b):

        async def both_assigned() -> bool:
            return (
                bool(a.state.assigned)
                and bool(b.state.assigned)
                and (len(a.state.assigned | b.state.assigned) == 6)
            )

        await eventually(both_assigned, timeout=60, what="both runners to share the 3+3 partitions")
        events = mixed(300)
        await setup.publish(s.enriched_topic, events)
        await setup.publish(
            s.lifecycle_topic, [lifecycle(f"c{i}", "resolved") for i in range(0, 300, 3)]
        )
        out = await read_topic(setup.kafka, s.decisions_topic, 300, timeout=60)

        async def lifecycle_applied() -> bool:
            closed = await setup.scalar(
                "SELECT count(*) FROM routing.contacts WHERE status <> 'open'"
            )
            return bool(closed == 100)

        await eventually(lifecycle_applied, timeout=30, what="the 100 resolutions")
    found = decisions(out)
    assert len({d.id for d in found}) == 300, "one decision per contact"
    assert len(found) == 300, "no duplicate decisions"
    open_by_queue = Counter(
        d.data.queue_id for d in found if int(d.data.contact_id.removeprefix("c")) % 3 != 0
    )
    assert await setup.open_load() == dict(open_by_queue)
    assert await setup.scalar("SELECT count(*) FROM routing.decisions") == 300


async def test_hot_reload_under_traffic(setup: RouterSetup, run_router: RunnerFactory) -> None:
    s = setup.settings
    clock = ManualClock()  # the watcher polls when the test moves it
    policies = holder(setup.policy_path, clock)
    old = policies.current.version
    stop = asyncio.Event()
    watcher = asyncio.create_task(policies.task(POLL_S)(stop))
    refused_before = metrics.POLICY_RELOADS.labels("refused")._value.get()
    try:
        async with run_router(policies):
            await setup.publish(s.enriched_topic, mixed(50, "a"))
            await read_topic(setup.kafka, s.decisions_topic, 50)

            changed = policy_dict()
            changed["default"] = {"queue": "billing"}
            setup.policy_path.write_text(policy_yaml(changed))
            await clock.until_sleeping()
            clock.advance(POLL_S)
            await eventually(lambda: policies.current.version != old, what="the reload")
            new = policies.current.version
            await setup.publish(s.enriched_topic, mixed(50, "b"))
            out = await read_topic(setup.kafka, s.decisions_topic, 100)

            broken = policy_dict()
            broken["default"] = {"queue": "billing-x"}
            setup.policy_path.write_text(policy_yaml(broken))
            await clock.until_sleeping()
            clock.advance(POLL_S)
            await eventually(lambda: policies.last_refusal is not None, what="the refusal")
            await setup.publish(s.enriched_topic, mixed(20, "z"))
            out = await read_topic(setup.kafka, s.decisions_topic, 120)
    finally:
        stop.set()
        await watcher
    found = decisions(out)
    by_prefix = {
        p: {d.data.policy_version for d in found if d.data.contact_id.startswith(p)} for p in "abz"
    }
    assert by_prefix == {"a": {old}, "b": {new}, "z": {new}}
    assert policies.current.version == new, "the invalid policy was refused and the old one stays"
    assert policies.last_refusal is not None
    assert any(
        p.startswith("default.queue (line ") and "unknown queue 'billing-x'" in p
        for p in policies.last_refusal.problems
    )
    assert metrics.POLICY_RELOADS.labels("refused")._value.get() == refused_before + 1
    assert metrics.POLICY_ACTIVE.labels(new)._value.get() == 1
    first_choices = {
        d.data.overflow.from_queue if d.data.overflow else d.data.queue_id
        for d in found
        if d.data.rule == "default" and d.data.contact_id[0] in "bz"
    }
    assert first_choices == {"billing"}, "the new default route is in force"
