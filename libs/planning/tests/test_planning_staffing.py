"""Agents needed per interval, and sizing a new team from volume."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard_planning.__main__ import main
from switchboard_planning.erlang import service_level
from switchboard_planning.sizing import ChannelPlan, TeamPlan, size
from switchboard_planning.staffing import Target, agents_needed

EXAMPLE = Path(__file__).parents[1] / "examples" / "team.yaml"


def test_the_fewest_agents_that_meet_the_target() -> None:
    staffing = agents_needed(200, 180, Target(0.8, 20, max_occupancy=1, shrinkage=0.3))
    assert staffing.traffic_erlangs == pytest.approx(10)
    assert staffing.agents == 14
    assert service_level(13, 10, 180, 20) < 0.8 <= staffing.service_level
    assert staffing.scheduled == 20  # 14 / (1 - 0.3), rounded up


def test_maximum_occupancy_can_bind_before_the_service_level() -> None:
    staffing = agents_needed(2000, 180, Target(0.5, 60, max_occupancy=0.7))
    assert staffing.occupancy <= 0.7
    assert staffing.agents == 143  # 100 Erlangs / 0.7


def test_concurrency_divides_the_handle_time() -> None:
    one = agents_needed(120, 600, Target(0.8, 60))
    two = agents_needed(120, 600, Target(0.8, 60), concurrency=2)
    assert two.agents < one.agents


def test_no_volume_needs_no_agents() -> None:
    assert agents_needed(0, 300, Target(0.8, 20)).agents == 0


def test_targets_outside_their_range_are_refused() -> None:
    with pytest.raises(ValueError, match="target share"):
        Target(1.2, 20)
    with pytest.raises(ValueError, match="shrinkage"):
        Target(0.8, 20, shrinkage=1)


def test_a_channel_plan_needs_one_way_to_give_its_volume() -> None:
    with pytest.raises(ValidationError, match="contacts_per_month, or customers"):
        ChannelPlan(handle_s=300, target_share=0.8, target_s=20)
    by_customers = ChannelPlan(
        customers=1000,
        contacts_per_customer_per_month=0.5,
        incident_rate=0.4,
        handle_s=300,
        target_share=0.8,
        target_s=20,
    )
    assert by_customers.monthly == pytest.approx(200)


def test_sizing_prices_the_vendor_against_covering_nights_in_house() -> None:
    plan = TeamPlan(
        channels={
            "call": ChannelPlan(
                contacts_per_month=10_000, handle_s=300, target_share=0.8, target_s=20
            )
        },
        open_hours_per_week=50,
        out_of_hours_share=0.2,
        cost_per_agent_month=4000,
        vendor_cost_per_contact=3,
    )
    sizing = size(plan)
    (call,) = sizing.channels
    assert call.in_house_contacts == pytest.approx(8000)
    assert sizing.vendor_contacts_per_month == pytest.approx(2000)
    assert sizing.vendor_cost_per_month == pytest.approx(6000)
    assert call.fte == pytest.approx(call.peak.scheduled * 50 / 37.5)
    assert sizing.around_the_clock_extra_cost > sizing.vendor_cost_per_month


def test_the_command_sizes_the_example_team(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["size", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "in-house team:" in out
    assert "to the vendor:" in out


def test_the_command_explains_a_bad_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("open_hours_per_week: 50\nchannels: {call: {handle_s: 300}}\n")
    assert main(["size", str(plan)]) == 2
    assert "target_share" in capsys.readouterr().err
