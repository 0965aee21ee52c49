"""Open at an instant: time zones, DST changes, holidays, overrides, split shifts, 24x7.

Built from the YAML shape (`CalendarSpec`), as the services build them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from switchboard_calendars import Calendar, CalendarSpec

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def cal(zone: str = "Europe/London", hours: list[str] | None = None, **fields: Any) -> Calendar:
    weekly = {d: hours or ["09:00-17:00"] for d in WEEKDAYS}
    spec = {"id": "c", "timezone": zone, "weekly": weekly} | fields
    return Calendar.compile(CalendarSpec.model_validate(spec))


def utc(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def test_weekday_hours_are_half_open_intervals() -> None:
    london = cal()
    assert not london.is_open(utc(2025, 3, 3, 8, 59))
    assert london.is_open(utc(2025, 3, 3, 9, 0))
    assert london.is_open(utc(2025, 3, 3, 16, 59))
    assert not london.is_open(utc(2025, 3, 3, 17, 0))
    assert not london.is_open(utc(2025, 3, 8, 10, 0)), "Saturday has no hours"


def test_hours_follow_the_calendars_own_time_zone() -> None:
    new_york = cal("America/New_York")
    tokyo = cal("Asia/Tokyo")
    # Monday 09:00 in New York (EST, UTC-5) is 14:00 UTC.
    assert not new_york.is_open(utc(2025, 3, 3, 13, 59))
    assert new_york.is_open(utc(2025, 3, 3, 14, 0))
    # Monday 09:00 in Tokyo is Sunday 00:00 UTC: the local weekday counts.
    assert tokyo.is_open(utc(2025, 3, 3, 0, 0))
    assert not cal().is_open(utc(2025, 3, 3, 0, 0))
    # Any offset in the input is fine: 12:00+03:00 is 09:00 UTC = 09:00 in London (GMT).
    noon_plus_3 = datetime(2025, 3, 3, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    assert cal().explain(noon_plus_3).startswith("calendar c open at Mon 2025-03-03 09:00 GMT")


def test_daylight_saving_change_moves_the_utc_opening() -> None:
    london = cal()
    # Before the change (GMT): 09:00 local is 09:00 UTC.
    assert not london.is_open(utc(2025, 3, 28, 8, 30))
    # After 30 March 2025 (BST, UTC+1): 09:00 local is 08:00 UTC.
    assert london.is_open(utc(2025, 3, 31, 8, 30))
    assert not london.is_open(utc(2025, 3, 31, 16, 30)), "17:30 BST is after hours"
    # New York changed on 9 March: two weeks when the gap to London is 4 hours.
    new_york = cal("America/New_York")
    assert new_york.is_open(utc(2025, 3, 10, 13, 0))  # 09:00 EDT
    assert not new_york.is_open(utc(2025, 3, 3, 13, 0))  # 08:00 EST


def test_the_night_of_the_change_itself() -> None:
    night = Calendar.compile(
        CalendarSpec.model_validate(
            {"id": "n", "timezone": "Europe/London", "weekly": {"sun": ["00:00-03:00"]}}
        )
    )
    assert night.is_open(utc(2025, 3, 30, 0, 30))  # 00:30 GMT
    assert night.is_open(utc(2025, 3, 30, 1, 30))  # 02:30 BST (01:00-02:00 never happens)
    assert not night.is_open(utc(2025, 3, 30, 2, 0))  # 03:00 BST
    # Autumn: 01:00-02:00 happens twice on 26 October 2025, both times inside the hours.
    assert night.is_open(utc(2025, 10, 26, 0, 30))  # 01:30 BST
    assert night.is_open(utc(2025, 10, 26, 1, 30))  # 01:30 GMT
    assert not night.is_open(utc(2025, 10, 26, 3, 0))


def test_holidays_close_and_overrides_replace_the_day() -> None:
    london = cal(
        holidays=["2025-12-25", "2025-12-24"],
        overrides=[
            {"date": "2025-12-24", "hours": ["09:00-13:00"]},
            {"date": "2025-12-27", "hours": ["10:00-12:00"]},
        ],
    )
    assert not london.is_open(utc(2025, 12, 25, 11, 0)), "a Thursday holiday"
    assert london.is_open(utc(2025, 12, 24, 12, 59)), "the override wins over the holiday"
    assert not london.is_open(utc(2025, 12, 24, 13, 0))
    assert london.is_open(utc(2025, 12, 27, 11, 0)), "an override opens a Saturday"
    closed_day = cal(overrides=[{"date": "2025-03-03", "hours": []}])
    assert not closed_day.is_open(utc(2025, 3, 3, 11, 0)), "empty hours close the day"


def test_holidays_are_local_dates() -> None:
    tokyo = cal("Asia/Tokyo", holidays=["2025-03-03"])
    # 01:00 UTC on 3 March is 10:00 in Tokyo on the holiday; a day later it is a working day.
    assert not tokyo.is_open(utc(2025, 3, 3, 1, 0))
    assert tokyo.is_open(utc(2025, 3, 4, 1, 0))


def test_split_shifts() -> None:
    split = cal(hours=["07:00-12:00", "13:00-22:00"])
    assert split.is_open(utc(2025, 3, 3, 11, 59))
    assert not split.is_open(utc(2025, 3, 3, 12, 30)), "the gap between shifts"
    assert split.is_open(utc(2025, 3, 3, 13, 0))
    assert split.is_open(utc(2025, 3, 3, 21, 59))
    assert not split.is_open(utc(2025, 3, 3, 22, 0))


def test_24x7_and_the_explanation() -> None:
    always = Calendar.compile(CalendarSpec(id="always", always_open=True))
    assert always.is_open(utc(2025, 12, 25, 3, 0))
    assert always.explain(datetime(2025, 12, 25, 3, 0, tzinfo=UTC)) == "calendar always is 24x7"
    text = cal(holidays=["2025-12-25"]).explain(datetime(2025, 12, 25, 11, 0, tzinfo=UTC))
    assert "closed" in text
    assert "holiday" in text
    assert "Europe/London" not in text
    assert "GMT" in text
