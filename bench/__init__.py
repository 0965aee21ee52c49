"""Benchmarks: they print figures as JSON lines; they never pass or fail on time."""
