"""What the runner tells about offsets is what the broker holds: lag, and committed offsets
as Apache Kafka's own tools read them."""

from __future__ import annotations

from collections import Counter

import pytest
from runtime_fixtures import EchoSetup, RunnerFactory
from test_runner_integration import events

from switchboard_runtime import metrics
from switchboard_runtime.apache_kafka import KafkaCluster
from switchboard_runtime.kafka import make_admin
from switchboard_runtime.testing import eventually
from switchboard_runtime.testing.kafka import committed, publish, read_topic
from switchboard_runtime.testing.plugin import Stack

pytestmark = pytest.mark.integration

CONSUMER_GROUPS_TOOL = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


async def records_per_partition(echo: EchoSetup, total: int) -> Counter[int]:
    return Counter(m.partition for m in await read_topic(echo.kafka, echo.input, total))


async def test_lag_metric_is_the_backlog_left_behind_the_last_commit(
    echo: EchoSetup, run_in_process: RunnerFactory
) -> None:
    echo.settings = echo.settings.model_copy(
        update={
            "kafka": echo.settings.kafka.model_copy(update={"max_batch_records": 20}),
            "handler_delay_s": 0.3,
        }
    )
    await publish(echo.kafka, echo.input, events(300))
    sent = await records_per_partition(echo, 300)
    assert sum(sent.values()) == 300

    async with run_in_process():

        async def some_committed() -> bool:
            return sum((await committed(echo.kafka, echo.group, echo.input)).values()) >= 40

        await eventually(some_committed, timeout=60, what="the first batches to be committed")
    done = await committed(echo.kafka, echo.group, echo.input)
    backlog = {p: sent[p] - offset for p, offset in done.items()}
    assert sum(backlog.values()) > 0, "the runner was stopped before the end of the topic"
    lag = {p: metrics.LAG.labels("echo", echo.input, str(p))._value.get() for p in sorted(done)}
    assert lag == backlog


@pytest.mark.kafka
async def test_committed_offsets_are_what_kafkas_own_tools_read(
    stack: Stack, echo: EchoSetup, run_in_process: RunnerFactory
) -> None:
    assert isinstance(stack.broker, KafkaCluster)
    await publish(echo.kafka, echo.input, events(120))
    sent = await records_per_partition(echo, 120)
    async with run_in_process():

        async def all_committed() -> bool:
            return sum((await committed(echo.kafka, echo.group, echo.input)).values()) == 120

        await eventually(
            all_committed, timeout=60, what="offsets of all 120 records to be committed"
        )

    admin = make_admin(echo.kafka)
    await admin.start()
    try:
        listed = await admin.list_consumer_group_offsets(echo.group)
    finally:
        await admin.close()
    assert {tp.partition: o.offset for tp, o in listed.items() if tp.topic == echo.input} == sent

    # kafka-consumer-groups.sh --describe, the tool an operator reaches for.
    described = stack.broker.run_tool(
        CONSUMER_GROUPS_TOOL,
        "--bootstrap-server",
        stack.bootstrap,
        "--describe",
        "--group",
        echo.group,
    )
    rows = [line.split() for line in described.splitlines() if echo.input in line.split()]
    by_partition = {int(r[2]): (r[3], r[4], r[5]) for r in rows}
    assert by_partition == {p: (str(n), str(n), "0") for p, n in sent.items()}
