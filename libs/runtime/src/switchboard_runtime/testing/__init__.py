"""The shared test kit: waiting with a deadline, a clock tests move, a handler run on a
batch, a metric's samples summed, and broker helpers built on the runtime's one client
factory (`testing.kafka`)."""

from switchboard_runtime.testing.clock import ManualClock
from switchboard_runtime.testing.metrics import sample_total
from switchboard_runtime.testing.runner import run_batch, runner_task, running_runner
from switchboard_runtime.testing.wait import eventually

__all__ = [
    "ManualClock",
    "eventually",
    "run_batch",
    "runner_task",
    "running_runner",
    "sample_total",
]
