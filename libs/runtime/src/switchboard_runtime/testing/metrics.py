"""Reading this process's Prometheus metrics in tests."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample_total(name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`: a counter's
    `..._total` or a histogram's `..._count` over all its series, or over those named."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )
