"""The SLA policy in force and its hot reload: poll the file, validate, swap, re-plan.

Like the router's: the file is polled; a new version that is valid is swapped in at
once (one reference assignment: readers see the old or the new policy, never a mix);
an invalid or unreadable one is refused (logged with every problem, counted, shown by
`GET /sla/policy` as `last_refused`) and the policy in force stays.

What a change does to running clocks: every open contact is **re-planned**. Its clocks
are folded again from its whole history with the new policy, as if that policy had
always been in force, and its timers replaced (`service.replan`): waiting timers move
to the new times, a level the new policy puts in the past fires at once, a level that
already fired does not fire again. Resolved and abandoned contacts keep what they had.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sla_monitor import metrics
from sla_monitor.domain.compiled import SlaPolicy, load_policy, policy_version
from sla_monitor.domain.errors import PolicyInvalid
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.retry import is_transient

log = logging.getLogger(__name__)


def read_policy(path: Path) -> SlaPolicy:
    """Read and validate a policy file; PolicyInvalid (every problem) otherwise."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PolicyInvalid([f"(file): cannot read {path}: {exc.strerror}"]) from None
    return load_policy(content)


@dataclass(frozen=True)
class Refusal:
    version: str
    at: datetime
    problems: list[str]


class PolicyHolder:
    """Holds the policy in force and swaps in valid new versions of its file."""

    def __init__(self, path: Path, policy: SlaPolicy, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path
        self.current = policy
        self._clock = clock
        self.loaded_at = clock.now()
        self.last_refusal: Refusal | None = None
        _show_active(None, policy)

    @classmethod
    def from_file(cls, path: Path, clock: Clock = SYSTEM_CLOCK) -> PolicyHolder:
        return cls(path, read_policy(path), clock)

    def reload(self) -> bool:
        """Check the file once; True when a new version was applied."""
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            self._refuse("unreadable", [f"(file): cannot read {self.path}: {exc.strerror}"])
            return False
        version = policy_version(content)
        if version == self.current.version:
            return False
        if self.last_refusal is not None and self.last_refusal.version == version:
            return False
        try:
            policy = load_policy(content)
        except PolicyInvalid as exc:
            self._refuse(version, exc.problems)
            return False
        previous, self.current = self.current, policy
        self.loaded_at = self._clock.now()
        self.last_refusal = None
        _show_active(previous, policy)
        metrics.POLICY_RELOADS.labels("applied").inc()
        log.info(
            "SLA policy applied",
            extra={"policy_version": version, "previous_version": previous.version},
        )
        return True

    def _refuse(self, version: str, problems: list[str]) -> None:
        if self.last_refusal is not None and self.last_refusal.version == version:
            return
        self.last_refusal = Refusal(version, self._clock.now(), problems)
        metrics.POLICY_RELOADS.labels("refused").inc()
        log.error(
            "SLA policy refused; the active policy stays",
            extra={
                "refused_version": version,
                "active_version": self.current.version,
                "problems": problems,
            },
        )

    async def watch(self, interval_s: float, replan: Callable[[SlaPolicy], Awaitable[int]]) -> None:
        """Poll the file forever; re-plan open contacts at start and after each change.

        A transient failure of the re-plan (database down) is retried at the next poll.
        """
        pending = True  # the file may have changed while the service was down
        while True:
            if self.reload():
                pending = True
            if pending:
                try:
                    replanned = await replan(self.current)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    log.warning("re-planning failed, retrying", extra={"error": repr(exc)[:300]})
                else:
                    pending = False
                    if replanned:
                        log.info(
                            "open contacts re-planned with the SLA policy in force",
                            extra={"contacts": replanned, "policy_version": self.current.version},
                        )
            await self._clock.sleep(interval_s)


def _show_active(previous: SlaPolicy | None, policy: SlaPolicy) -> None:
    if previous is not None:
        metrics.POLICY.remove(previous.name, previous.version)
    metrics.POLICY.labels(policy.name, policy.version).set(1)
