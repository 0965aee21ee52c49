"""The bench's CPU meter counts a process tree: live children, and children that ended
and were reaped (as PostgreSQL's backends are by the postmaster)."""

from __future__ import annotations

import subprocess
import sys

from bench.common import ProcessMeter

CHILD_CPU_S = 0.3
COUNTED_S = 0.8 * CHILD_CPU_S
"""/proc counts in clock ticks (1/100 s), the child's own clock finer; missing it: ~0."""
# Waits for a line, runs a child that burns CHILD_CPU_S of CPU, reaps it, says so, waits.
PARENT = f"""
import subprocess, sys
sys.stdin.readline()
subprocess.run([sys.executable, "-c",
    "import time\\nwhile time.process_time() < {CHILD_CPU_S}: pass"], check=True)
print("reaped", flush=True)
sys.stdin.readline()
"""


def test_a_reaped_child_counts_in_its_parents_tree() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdin is not None
        assert parent.stdout is not None
        as_service = ProcessMeter([parent.pid], [])
        as_stack = ProcessMeter([], [parent.pid])
        service_before, stack_before = as_service.read(), as_stack.read()
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == "reaped\n"
        service, stack = as_service.read() - service_before, as_stack.read() - stack_before
        parent.stdin.close()
    assert service.own_s >= COUNTED_S
    assert service.stack_s == service.own_s
    # This process's own CPU is in both of `as_stack`'s figures; the tree only in stack_s.
    assert stack.stack_s - stack.own_s >= COUNTED_S
