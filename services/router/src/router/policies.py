"""The routing policy in force: the runtime's hot-reloading holder, with the router's
compiler and gauges.

The handler reads `holder.current` once at the start of each batch, so a swap takes
effect for the next batch and never in the middle of one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from router import metrics
from router.domain.engine import CompiledPolicy
from router.domain.policy import PolicyInvalid, load_policy
from switchboard_runtime.clock import SYSTEM_CLOCK, Clock
from switchboard_runtime.policies import PolicyHolder, policy_version

RoutingPolicies = PolicyHolder[CompiledPolicy]


def compile_policy(content: bytes, version: str) -> CompiledPolicy:
    """Validate and compile a policy file's bytes; PolicyInvalid otherwise."""
    return CompiledPolicy(load_policy(content), version)


def compile_file(path: Path) -> CompiledPolicy:
    """Read, validate and compile a policy file; PolicyInvalid or OSError otherwise."""
    content = path.read_bytes()
    return compile_policy(content, policy_version(content))


def holder(
    path: Path,
    clock: Clock = SYSTEM_CLOCK,
    after_change: Callable[[CompiledPolicy], Awaitable[object]] | None = None,
) -> RoutingPolicies:
    """The policy of `path` in force; PolicyInvalid or OSError when it cannot be loaded."""
    return PolicyHolder(
        path,
        compile_policy,
        what="routing policy",
        invalid=PolicyInvalid,
        reloads=metrics.POLICY_RELOADS,
        on_applied=_show_active,
        after_change=after_change,
        clock=clock,
    )


def vendors(policy: CompiledPolicy) -> list[str]:
    """The vendors of the policy's outsourced queues."""
    return sorted({q.spec.vendor for q in policy.queues.values() if q.spec.vendor is not None})


def _show_active(previous: CompiledPolicy | None, current: CompiledPolicy) -> None:
    if previous is None:
        metrics.POLICY_ACTIVE.clear()
    else:
        metrics.POLICY_ACTIVE.remove(previous.version)
        for gauge in (metrics.OPEN_CONTACTS, metrics.OCCUPANCY, metrics.ESTIMATED_WAIT):
            gauge.clear()  # queues the new policy dropped must not linger
    metrics.POLICY_ACTIVE.labels(current.version).set(1)
