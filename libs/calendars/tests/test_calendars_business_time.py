"""Business-time arithmetic against an independent brute-force reference.

The reference steps minute by minute in UTC, converts each minute to local wall time
with zoneinfo, and asks whether that wall time lies in the hours of its local date. It
shares nothing with the calendar's day/segment algorithm but the definition of "open".
Calendars, instants and intervals are random; zones are chosen for their DST rules
(northern and southern hemisphere, 30-minute DST, odd offsets, none at all).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from switchboard_calendars import Calendar, CalendarExhausted, Range

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
    "America/Sao_Paulo",
]
MINUTE = 60
# Two weeks from each base cover the 2026 DST changes of every zone above.
_BASES = [
    datetime(2026, m, d, tzinfo=UTC) for m, d in ((3, 4), (3, 24), (3, 31), (9, 30), (10, 21))
]


def brute_open(cal: Calendar, at: int) -> bool:
    """Is the minute starting at `at` open? Straight from the definition."""
    local = datetime.fromtimestamp(at, UTC).astimezone(cal.zone)
    day = local.date()
    second = local.hour * 3600 + local.minute * 60 + local.second
    if day in cal.overrides:
        ranges: tuple[Range, ...] = cal.overrides[day]
    elif day in cal.holidays:
        ranges = ()
    else:
        ranges = cal.weekly[day.weekday()]
    return cal.always_open or any(s <= second < e for s, e in ranges)


def brute_seconds(cal: Calendar, start: int, end: int) -> int:
    return sum(MINUTE for m in range(start, end, MINUTE) if brute_open(cal, m))


def brute_add(cal: Calendar, start: int, minutes: int) -> int:
    at, left = start, minutes
    while left:
        if brute_open(cal, at):
            left -= 1
        at += MINUTE
    return at


@st.composite
def day_ranges(draw: st.DrawFn) -> tuple[Range, ...]:
    """0-3 disjoint ranges on minute boundaries (split shifts), sometimes to midnight."""
    points = sorted(draw(st.sets(st.integers(0, 24 * 60), min_size=0, max_size=6)))
    if len(points) % 2:
        points = points[:-1]
    return tuple((points[i] * 60, points[i + 1] * 60) for i in range(0, len(points), 2))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    if draw(st.integers(0, 5)) == 0:  # open all day every day: only holidays and overrides close it
        weekly: list[tuple[Range, ...]] = [((0, 86400),)] * 7
    else:
        weekly = [draw(day_ranges()) for _ in range(7)]
    if not any(weekly):
        weekly[draw(st.integers(0, 6))] = ((9 * 3600, 17 * 3600),)
    base = draw(st.sampled_from([b.date() for b in _BASES]))
    near = st.integers(-3, 12).map(lambda d: base + timedelta(days=d))
    holidays = frozenset(draw(st.lists(near, max_size=3)))
    overrides = {d: draw(day_ranges()) for d in draw(st.lists(near, max_size=3))}
    always = draw(st.integers(0, 20)) == 0
    if always:
        return Calendar("random", zone, always_open=True)
    return Calendar("random", zone, weekly=weekly, holidays=holidays, overrides=overrides)


instants = st.sampled_from(_BASES).flatmap(
    lambda base: st.integers(0, 14 * 24 * 60).map(lambda m: int(base.timestamp()) + m * MINUTE)
)

slow = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@slow
@given(cal=calendars(), start=instants, minutes=st.integers(0, 5 * 24 * 60))
def test_business_seconds_matches_minute_stepping(cal: Calendar, start: int, minutes: int) -> None:
    end = start + minutes * MINUTE
    assert cal.business_seconds(start, end) == brute_seconds(cal, start, end)


@slow
@given(cal=calendars(), start=instants, minutes=st.integers(0, 3 * 24 * 60))
def test_add_matches_minute_stepping(cal: Calendar, start: int, minutes: int) -> None:
    # Bound the brute force: skip calendars with almost no open time near the start.
    assume(cal.business_seconds(start, start + 21 * 86400) >= minutes * MINUTE)
    assert cal.add(start, minutes * MINUTE) == brute_add(cal, start, minutes)


@slow
@given(
    cal=calendars(),
    start=instants,
    offsets=st.lists(st.floats(0, 2 * 86400, allow_nan=False), min_size=1, max_size=6),
)
def test_add_many_inverts_business_seconds(cal: Calendar, start: int, offsets: list[float]) -> None:
    """For any real offsets: business_seconds(start, add(start, x)) == x, and earliest."""
    offsets.sort()
    assume(cal.business_seconds(start, start + 60 * 86400) >= offsets[-1])
    ends = cal.add_many(start, offsets)
    assert ends == sorted(ends)
    for x, end in zip(offsets, ends, strict=True):
        assert cal.business_seconds(start, end) == pytest.approx(x, abs=1e-6)
        if x > 0:
            assert cal.business_seconds(start, end - 1e-3) < x


@slow
@given(cal=calendars(), start=instants, a=st.integers(0, 3000), b=st.integers(0, 3000))
def test_business_seconds_is_additive(cal: Calendar, start: int, a: int, b: int) -> None:
    mid, end = start + a * MINUTE, start + (a + b) * MINUTE
    assert cal.business_seconds(start, end) == cal.business_seconds(
        start, mid
    ) + cal.business_seconds(mid, end)


def london(weekly: list[tuple[Range, ...]] | None = None, **kwargs: object) -> Calendar:
    nine_to_five = ((9 * 3600, 17 * 3600),)
    return Calendar(
        "london",
        ZoneInfo("Europe/London"),
        weekly=weekly or [nine_to_five] * 5 + [(), ()],
        **kwargs,  # type: ignore[arg-type]
    )


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_spring_forward_night_shift_is_one_hour_short() -> None:
    # 2026-03-29: London clocks go from 01:00 GMT to 02:00 BST.
    night = ((0, 6 * 3600),)
    cal = london([night] * 7)
    assert (
        cal.business_seconds(ts("2026-03-28T23:00:00+00:00"), ts("2026-03-29T12:00:00+00:00"))
        == 5 * 3600
    )
    assert (
        cal.business_seconds(ts("2026-03-21T23:00:00+00:00"), ts("2026-03-22T12:00:00+00:00"))
        == 6 * 3600
    )


def test_fall_back_repeated_hour_counts_twice() -> None:
    # 2026-10-25: London clocks go from 02:00 BST back to 01:00 GMT.
    night = ((0, 6 * 3600),)
    cal = london([night] * 7)
    assert (
        cal.business_seconds(ts("2026-10-24T22:00:00+00:00"), ts("2026-10-25T12:00:00+00:00"))
        == 7 * 3600
    )


def test_shift_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    cal = london([((90 * 60, 4 * 3600),)] * 7)  # 01:30-04:00, on a day 01:00-02:00 never happens
    # Open from 02:00 BST (01:00 UTC) to 04:00 BST (03:00 UTC).
    assert cal.add(ts("2026-03-29T00:00:00+00:00"), 1) == ts("2026-03-29T01:00:01+00:00")
    assert (
        cal.business_seconds(ts("2026-03-29T00:00:00+00:00"), ts("2026-03-29T06:00:00+00:00"))
        == 2 * 3600
    )


def test_business_hours_across_a_dst_weekend() -> None:
    cal = london()
    friday_4pm = ts("2026-03-27T16:00:00+00:00")  # GMT
    # 1 h on Friday, then Monday 09:00 BST is 08:00 UTC: 2 business hours end at 09:00 UTC.
    assert cal.add(friday_4pm, 2 * 3600) == ts("2026-03-30T09:00:00+00:00")


def test_new_york_business_hours_follow_its_own_dst_date() -> None:
    nine_to_five = ((9 * 3600, 17 * 3600),)
    cal = Calendar("nyc", ZoneInfo("America/New_York"), weekly=[nine_to_five] * 5 + [(), ()])
    # 2026-03-08 US DST starts; Monday 09:00 EDT is 13:00 UTC (it was 14:00 UTC the week before).
    assert cal.add(ts("2026-03-06T22:00:00+00:00"), 1) == ts("2026-03-09T13:00:01+00:00")
    assert cal.add(ts("2026-02-27T22:00:00+00:00"), 1) == ts("2026-03-02T14:00:01+00:00")


def test_holiday_and_override_move_the_deadline() -> None:
    cal = london(
        holidays=frozenset({date(2026, 12, 25)}),
        overrides={date(2026, 12, 24): ((9 * 3600, 13 * 3600),), date(2026, 12, 28): ()},
    )
    thursday_noon = ts("2026-12-24T12:00:00+00:00")
    # 1 h left on Christmas Eve's half day; Friday holiday; weekend; Monday overridden closed.
    assert cal.add(thursday_noon, 2 * 3600) == ts("2026-12-29T10:00:00+00:00")
    assert not cal.is_open(ts("2026-12-24T14:00:00+00:00"))
    assert cal.is_open(ts("2026-12-24T12:30:00+00:00"))


def test_split_shift_skips_the_gap() -> None:
    split = ((8 * 3600, 12 * 3600), (13 * 3600, 17 * 3600))
    cal = london([split] * 7)
    assert cal.add(ts("2026-01-05T11:30:00+00:00"), 3600) == ts("2026-01-05T13:30:00+00:00")


def test_24x7_is_calendar_time() -> None:
    cal = Calendar.twenty_four_seven()
    assert cal.add(1000.5, 20) == 1020.5
    assert cal.business_seconds(0, 86400 * 3) == 86400 * 3


def test_a_calendar_closed_for_years_fails_clearly() -> None:
    closed = {date(2026, 1, 1) + timedelta(days=d): () for d in range(4 * 366)}
    cal = london(overrides=closed)
    with pytest.raises(CalendarExhausted, match="no open time"):
        cal.add(ts("2026-01-01T00:00:00+00:00"), 60)
