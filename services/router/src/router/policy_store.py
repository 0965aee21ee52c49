"""The active policy and its hot reload: poll the file, compile a new version once, swap.

The handler reads `PolicyHolder.current` once at the start of each batch, so a swap
takes effect for the next batch and never in the middle of one. An invalid file is
refused (logged with every problem, counted) and the active policy stays.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from router import metrics
from router.domain.engine import CompiledPolicy
from router.domain.policy import PolicyInvalid, load_policy, policy_version

log = logging.getLogger(__name__)


def compile_file(path: Path) -> CompiledPolicy:
    """Read, validate and compile a policy file; PolicyInvalid or OSError otherwise."""
    content = path.read_bytes()
    return CompiledPolicy(load_policy(content), policy_version(content))


@dataclass(frozen=True)
class Refusal:
    version: str
    at: datetime
    problems: list[str]


class PolicyHolder:
    """Holds the compiled policy in force and swaps in valid new versions of its file."""

    def __init__(self, path: Path, policy: CompiledPolicy) -> None:
        self.path = path
        self.current = policy
        self.loaded_at = datetime.now(UTC)
        self.last_refusal: Refusal | None = None
        _show_active(None, policy.version)

    @classmethod
    def from_file(cls, path: Path) -> PolicyHolder:
        return cls(path, compile_file(path))

    def reload(self) -> bool:
        """Check the file once; True when a new version was applied."""
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            self._refuse("unreadable", [f"{self.path}: cannot read: {exc.strerror or exc}"])
            return False
        version = policy_version(content)
        if version == self.current.version:
            return False
        if self.last_refusal is not None and self.last_refusal.version == version:
            return False
        try:
            policy = CompiledPolicy(load_policy(content), version)
        except PolicyInvalid as exc:
            self._refuse(version, exc.problems)
            return False
        previous, self.current = self.current, policy
        self.loaded_at = datetime.now(UTC)
        self.last_refusal = None
        _show_active(previous.version, version)
        for gauge in (metrics.OPEN_CONTACTS, metrics.OCCUPANCY, metrics.ESTIMATED_WAIT):
            gauge.clear()  # queues the new policy dropped must not linger
        metrics.POLICY_RELOADS.labels("applied").inc()
        log.info(
            "routing policy applied",
            extra={"policy_version": version, "previous_version": previous.version},
        )
        return True

    def _refuse(self, version: str, problems: list[str]) -> None:
        if self.last_refusal is not None and self.last_refusal.version == version:
            return
        self.last_refusal = Refusal(version, datetime.now(UTC), problems)
        metrics.POLICY_RELOADS.labels("refused").inc()
        log.error(
            "routing policy refused; the active policy stays",
            extra={
                "refused_version": version,
                "active_version": self.current.version,
                "problems": problems,
            },
        )

    async def watch(self, interval_seconds: float) -> None:
        """Poll the file forever (cancel the task to stop)."""
        while True:
            await asyncio.sleep(interval_seconds)
            self.reload()


def _show_active(previous: str | None, version: str) -> None:
    if previous is None:
        metrics.POLICY_ACTIVE.clear()
    elif previous != version:
        metrics.POLICY_ACTIVE.remove(previous)
    metrics.POLICY_ACTIVE.labels(version).set(1)
