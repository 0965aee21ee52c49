"""Two groups dead-letter the same bad records into one DLQ; a replay republishes each once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import echo_service
import pytest
from runtime_fixtures import EchoSetup
from test_runner_integration import events

from switchboard_events.topics import DLQ_CONSUMER_GROUP, dlq
from switchboard_runtime.replay import REPLAY_OF, replay
from switchboard_runtime.testing.kafka import publish, read_to_end, read_topic
from switchboard_runtime.testing.runner import running_runner

pytestmark = pytest.mark.integration

NOT_JSON = b'{"id": "x1", "n": '
SCHEMA = json.dumps({"id": 7, "n": "seven"}).encode()
OVERSIZE = json.dumps({"id": "x3", "n": 1, "pad": "x" * 5000}).encode()


async def test_each_bad_record_is_replayed_once_whatever_the_groups_that_rejected_it(
    echo: EchoSetup,
) -> None:
    good = events(10)
    bad = [(b"a", NOT_JSON), (b"b", SCHEMA), (b"c", OVERSIZE)]
    await publish(echo.kafka, echo.input, [*good[:5], *bad, *good[5:]])
    kafka = echo.settings.kafka.model_copy(update={"max_dead_letter_bytes": 4096})
    first = echo.settings.model_copy(update={"kafka": kafka})
    second = first.model_copy(update={"consumer_group": f"{echo.group}-other"})
    decoders = {echo.input: echo_service.decode}
    async with (
        running_runner("echo", first, decoders, echo_service.make_handler(first)),
        running_runner("echo", second, decoders, echo_service.make_handler(second)),
    ):
        letters = await read_topic(echo.kafka, dlq(echo.input), 6)
    assert len(letters) == 6, "each group dead-letters each bad record"
    groups = {m.headers[DLQ_CONSUMER_GROUP].decode() for m in letters}
    assert groups == {echo.group, f"{echo.group}-other"}

    listed = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "switchboard_runtime.replay",
            dlq(echo.input),
            "--bootstrap",
            echo.kafka.bootstrap,
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    dry = json.loads(listed.stdout)
    assert (dry["letters"], len(dry["replayed"]), len(dry["truncated"])) == (6, 2, 1)
    assert len(await read_to_end(echo.kafka, echo.input)) == 13, "a dry run sends nothing"

    report = await replay(echo.kafka, dlq(echo.input))
    assert report.replayed == dry["replayed"]
    assert report.truncated == dry["truncated"], "a cut copy is listed, never replayed"
    records = await read_to_end(echo.kafka, echo.input)
    replayed = [m for m in records if REPLAY_OF in m.headers]
    assert len(records) == 15
    assert sorted(m.value for m in replayed) == sorted([NOT_JSON, SCHEMA])
    assert sorted(m.key or b"" for m in replayed) == [b"a", b"b"]

    only_other = await replay(
        echo.kafka, dlq(echo.input), group=f"{echo.group}-other", dry_run=True
    )
    assert (only_other.selected, len(only_other.replayed)) == (3, 2)
