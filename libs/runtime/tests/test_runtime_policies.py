"""The one policy hot-reload: a valid new file is swapped in whole, an invalid one refused."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from switchboard_runtime.policies import PolicyHolder, policy_version
from switchboard_runtime.testing import ManualClock


class Invalid(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Policy:
    text: str
    version: str


def load(content: bytes, version: str) -> Policy:
    text = content.decode()
    if not text.startswith("ok"):
        raise Invalid([f"(root): expected ok, got {text!r}", "(root): second problem"])
    return Policy(text, version)


@pytest.fixture
def reloads() -> Counter:
    return Counter("reloads", "test", ["result"], registry=CollectorRegistry())


def holder(path: Path, reloads: Counter, **kwargs: object) -> PolicyHolder[Policy]:
    return PolicyHolder(
        path,
        load,
        what="test policy",
        invalid=Invalid,
        reloads=reloads,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_valid_change_is_applied_and_an_invalid_one_refused(
    tmp_path: Path, reloads: Counter
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("ok 1")
    applied: list[tuple[str | None, str]] = []
    policies = holder(path, reloads, on_applied=lambda p, c: applied.append((p and p.text, c.text)))
    assert applied == [(None, "ok 1")]
    path.write_text("broken")
    assert not policies.reload()
    assert policies.current.text == "ok 1"
    assert policies.last_refusal is not None
    assert policies.last_refusal.problems[1] == "(root): second problem"
    path.write_text("ok 2")
    assert policies.reload()
    assert policies.version == policy_version(b"ok 2")
    assert applied[-1] == ("ok 1", "ok 2")
    assert policies.last_refusal is None
    assert reloads.labels("applied")._value.get() == 1
    assert reloads.labels("refused")._value.get() == 1


def test_an_unreadable_file_is_refused_and_the_policy_stays(
    tmp_path: Path, reloads: Counter
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("ok")
    policies = holder(path, reloads)
    path.unlink()
    assert not policies.reload()
    assert policies.current.text == "ok"
    assert policies.last_refusal is not None
    assert "cannot read" in policies.last_refusal.problems[0]


async def test_the_task_applies_changes_on_the_clock_and_retries_after_change(
    tmp_path: Path, reloads: Counter
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("ok 1")
    clock = ManualClock()
    seen: list[str] = []
    attempts = 0

    async def after_change(policy: Policy) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionRefusedError()  # transient: retried at the next poll
        seen.append(policy.text)

    policies = holder(path, reloads, after_change=after_change, clock=clock)
    stop = asyncio.Event()
    watching = asyncio.ensure_future(policies.task(poll_s=2)(stop))
    await clock.until_sleeping()
    assert seen == []
    clock.advance(2)
    await clock.until_sleeping()
    assert seen == ["ok 1"]
    path.write_text("ok 2")
    clock.advance(2)
    await clock.until_sleeping()
    assert seen == ["ok 1", "ok 2"]
    stop.set()
    await asyncio.wait_for(watching, 10)
