"""A policy file in force and its hot reload: poll the file, load a new version once, swap.

Shared by the router (routing policy) and sla-monitor (SLA policy). Readers take
`holder.current` once per unit of work (a batch, a round), so a swap takes effect for
the next one and never in the middle of one. A new version that is valid is swapped
in whole; an invalid or unreadable one is refused (logged with every problem,
counted, kept as `last_refusal` for the admin API) and the policy in force stays.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from prometheus_client import Counter

from switchboard_runtime.clock import SYSTEM_CLOCK, Clock, sleep_unless
from switchboard_runtime.host import Task
from switchboard_runtime.retry import is_transient

log = logging.getLogger(__name__)


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


P = TypeVar("P", bound=Versioned)


def policy_version(content: bytes) -> str:
    """The version of a policy file: a hash of its exact bytes."""
    return "sha256:" + hashlib.sha256(content).hexdigest()[:16]


@dataclass(frozen=True)
class Refusal:
    version: str
    at: datetime
    problems: list[str]


class PolicyHolder(Generic[P]):
    """Holds the policy in force and swaps in valid new versions of its file.

    - `load(content, version)` validates and compiles a file's bytes, raising
      `invalid` (an exception with `problems`) when it cannot.
    - `on_applied(previous, current)` runs on every swap, and once at start with
      `previous=None` (a service's gauges of the version in force).
    - `after_change(current)` runs after start and after each swap, from the watch task;
      a transient failure of it is retried at the next poll (sla-monitor re-plans its
      open contacts).
    """

    def __init__(
        self,
        path: Path,
        load: Callable[[bytes, str], P],
        *,
        what: str,
        invalid: type[Exception],
        reloads: Counter,
        on_applied: Callable[[P | None, P], None] = lambda _previous, _current: None,
        after_change: Callable[[P], Awaitable[object]] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.path = path
        self._load = load
        self._what = what
        self._invalid = invalid
        self._reloads = reloads
        self._on_applied = on_applied
        self._after_change = after_change
        self._clock = clock
        content = path.read_bytes()  # OSError or `invalid` at start: the service refuses to start
        self.current = load(content, policy_version(content))
        self.loaded_at = clock.now()
        self.last_refusal: Refusal | None = None
        on_applied(None, self.current)

    @property
    def version(self) -> str:
        return self.current.version

    def reload(self) -> bool:
        """Check the file once; True when a new version was applied."""
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            self._refuse("unreadable", [f"(file): cannot read {self.path}: {exc.strerror or exc}"])
            return False
        version = policy_version(content)
        if version == self.current.version:
            return False
        if self.last_refusal is not None and self.last_refusal.version == version:
            return False
        try:
            policy = self._load(content, version)
        except self._invalid as exc:
            problems: list[str] = getattr(exc, "problems", None) or [str(exc)]
            self._refuse(version, problems)
            return False
        previous, self.current = self.current, policy
        self.loaded_at = self._clock.now()
        self.last_refusal = None
        self._on_applied(previous, policy)
        self._reloads.labels("applied").inc()
        log.info(
            f"{self._what} applied",
            extra={"policy_version": version, "previous_version": previous.version},
        )
        return True

    def _refuse(self, version: str, problems: list[str]) -> None:
        if self.last_refusal is not None and self.last_refusal.version == version:
            return
        self.last_refusal = Refusal(version, self._clock.now(), problems)
        self._reloads.labels("refused").inc()
        log.error(
            f"{self._what} refused; the policy in force stays",
            extra={
                "refused_version": version,
                "active_version": self.current.version,
                "problems": problems,
            },
        )

    def task(self, poll_s: float) -> Task:
        """The host task that polls the file every `poll_s` until told to stop."""

        async def watch(stop: asyncio.Event) -> None:
            pending = self._after_change is not None  # it may have changed while we were down
            while not stop.is_set():
                if self.reload():
                    pending = self._after_change is not None
                if pending and self._after_change is not None:
                    try:
                        await self._after_change(self.current)
                    except Exception as exc:
                        if not is_transient(exc):
                            raise
                        log.warning(
                            f"{self._what}: applying the change failed, retrying",
                            extra={"error": repr(exc)[:300]},
                        )
                    else:
                        pending = False
                await sleep_unless(self._clock, poll_s, stop)

        return watch
