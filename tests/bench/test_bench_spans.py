"""A drain measured in spans: consecutive spans of about equal size, the median by CPU
per event as the figure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.common import Cpu, ProcessMeter, Spans


class _Readings(ProcessMeter):
    """Hands out the CPU readings it was given, in order."""

    def __init__(self, own_s: list[float]) -> None:
        super().__init__([], [])
        self._readings: Iterator[float] = iter(own_s)

    def read(self) -> Cpu:
        own = next(self._readings)
        return Cpu(own, 2 * own)

    def rss_mb(self) -> float:
        return 42.0


def test_the_median_span_by_cpu_per_event_is_the_figure(capsys: pytest.CaptureFixture[str]) -> None:
    # The first reading (1 event) marks the start; then spans of 10 events each, costing
    # 100, 300 and 200 us per event in 1, 1 and 2 s.
    spans = Spans(31, 3, _Readings([0.0, 0.001, 0.004, 0.006]))
    for processed, now in ((1, 10.0), (6, 10.5), (11, 11.0), (21, 12.0), (25, 13.0)):
        spans.observe(processed, now)
        assert not spans.done
    spans.observe(31, 14.0)

    assert spans.done
    figure = spans.median("drain")
    assert figure.cpu_us_per_event == pytest.approx(200)
    assert figure.stack_cpu_us_per_event == pytest.approx(400)
    assert figure.events_per_s == pytest.approx(10 / 2)
    assert figure.rss_mb == 42.0
    shown = capsys.readouterr().out
    assert "3 spans" in shown
    assert all(f"{us:.1f} us" in shown for us in (100, 300, 200))


def test_one_round_is_the_whole_drain_after_the_first_reading(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spans = Spans(101, 1, _Readings([1.0, 1.005]))
    for processed, now in ((1, 0.0), (50, 0.5), (101, 2.0)):
        spans.observe(processed, now)

    figure = spans.median("drain")
    assert figure.events_per_s == pytest.approx(100 / 2)
    assert figure.cpu_us_per_event == pytest.approx(50)
    assert capsys.readouterr().out == ""


def test_a_drain_without_a_span_says_so() -> None:
    spans = Spans(10, 3, _Readings([0.0]))
    spans.observe(10, 0.0)

    with pytest.raises(RuntimeError, match="ended before a span"):
        spans.median("drain")
