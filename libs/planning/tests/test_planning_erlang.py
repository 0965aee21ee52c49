"""The queueing maths against references: closed forms in exact arithmetic, textbook
cases, and Erlang A against its own limits."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard_planning.erlang import (
    erlang_a,
    erlang_b,
    erlang_c,
    expected_wait,
    service_level,
)


def exact_erlang_c(servers: int, traffic: Fraction) -> Fraction:
    """The textbook formula with factorials, in exact arithmetic: the reference."""
    top = traffic**servers / math.factorial(servers) * Fraction(servers) / (servers - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


def test_textbook_cases() -> None:
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = utilisation
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    # M/M/1 mean wait: rho / (1 - rho) x h.
    assert expected_wait(1, 0.8, 100) == pytest.approx(0.8 / 0.2 * 100)
    # 10 Erlangs on 13 agents: P(wait) 0.2853 as printed in Erlang C tables.
    assert erlang_c(13, 10) == pytest.approx(0.2853, abs=5e-5)
    assert erlang_c(10, 8) == pytest.approx(0.409, abs=0.001)
    assert expected_wait(10, 8, 300) == pytest.approx(61.4, abs=0.1)
    assert expected_wait(10, 0, 300) == 0
    assert math.isinf(expected_wait(0, 0.5, 300))


def test_more_load_never_shortens_the_wait() -> None:
    waits = [expected_wait(20, a, 300) for a in range(20)]
    assert waits == sorted(waits)


@given(
    servers=st.integers(min_value=1, max_value=60),
    load=st.fractions(min_value=Fraction(1, 100), max_value=Fraction(99, 100)),
)
def test_erlang_c_matches_the_exact_formula(servers: int, load: Fraction) -> None:
    traffic = load * servers
    assert erlang_c(servers, float(traffic)) == pytest.approx(
        float(exact_erlang_c(servers, traffic)), rel=1e-9
    )


def test_stable_for_a_large_centre() -> None:
    # 2,000 agents: the factorial form overflows a float; the recursion does not.
    assert 0 < erlang_c(2000, 1950) < 1


def test_saturated_queues() -> None:
    assert erlang_c(5, 5) == 1.0
    assert expected_wait(5, 6, 100) == math.inf
    assert service_level(5, 6, 100, 20) == 0.0


def test_service_level_rises_with_agents_and_target_time() -> None:
    levels = [service_level(n, 10, 180, 20) for n in range(11, 20)]
    assert levels == sorted(levels)
    assert service_level(13, 10, 180, 60) > service_level(13, 10, 180, 20)


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    rate, handle = 10 / 180, 180.0
    patient = erlang_a(13, rate, handle, patience_s=1e9)
    assert patient.waits == pytest.approx(erlang_c(13, 10), rel=1e-4)
    assert patient.mean_wait_s == pytest.approx(expected_wait(13, 10, handle), rel=1e-3)
    assert patient.abandons == pytest.approx(0, abs=1e-6)


def test_erlang_a_is_stable_past_saturation_and_its_flows_balance() -> None:
    rate, handle = 12 / 180, 180.0  # 12 Erlangs on 10 agents: only abandonment keeps it finite
    a = erlang_a(10, rate, handle, patience_s=60)
    assert 0 < a.abandons < 1
    # What is not abandoned is served: served work fills the busy agents.
    assert a.occupancy * 10 == pytest.approx(rate * (1 - a.abandons) * handle, rel=1e-6)


def test_erlang_a_with_one_agent_matches_the_mm1_plus_m_closed_form() -> None:
    # M/M/1+M with patience equal to the handle time: p(k) = p0 * (lambda/mu)^k / k!,
    # a Poisson distribution; P(wait) = 1 - p0 = 1 - exp(-rho).
    rho = 0.7
    a = erlang_a(1, rho / 100, 100, patience_s=100)
    assert a.waits == pytest.approx(1 - math.exp(-rho), rel=1e-9)
