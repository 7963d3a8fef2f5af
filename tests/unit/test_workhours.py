"""The working-hours clock without a database: weekends, holidays, daylight saving."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.workhours import WALL, Clock

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = dt.UTC
NINE_TO_FIVE = {d: [(dt.time(9), dt.time(17))] for d in range(5)}
DESK = Clock(BERLIN, NINE_TO_FIVE)


def berlin(day: int, hour: int, month: int = 1, year: int = 2027) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=BERLIN)


def test_an_offer_on_friday_evening_counts_from_monday_morning():
    friday_evening = berlin(8, 19)
    assert DESK.add(friday_evening, dt.timedelta(hours=24)) == berlin(13, 17)  # Wed 17:00
    assert DESK.add(berlin(8, 15), dt.timedelta(hours=4)) == berlin(11, 11)  # Mon 11:00
    assert DESK.elapsed(friday_evening, berlin(11, 10)) == dt.timedelta(hours=1)


def test_a_holiday_is_not_counted():
    clock = Clock(BERLIN, NINE_TO_FIVE, frozenset({dt.date(2027, 1, 11)}))
    assert clock.add(berlin(8, 15), dt.timedelta(hours=4)) == berlin(12, 11)  # Tue, not Mon
    assert clock.elapsed(berlin(8, 17), berlin(12, 9)) == dt.timedelta(0)


def test_daylight_saving_keeps_the_wall_clock():
    # Europe moves on Sunday 28 March 2027: Friday 16:00 + 2 h is Monday 10:00, UTC an hour less.
    start = berlin(26, 16, month=3)
    end = DESK.add(start, dt.timedelta(hours=2))
    assert end == berlin(29, 10, month=3)
    assert end.astimezone(UTC).hour == 8 and start.astimezone(UTC).hour == 15


def test_without_a_schedule_the_wall_clock():
    start = dt.datetime(2027, 1, 8, 19, tzinfo=UTC)
    assert WALL.add(start, dt.timedelta(hours=72)) == start + dt.timedelta(hours=72)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(0, 60 * 200),
)
def test_add_and_elapsed_agree(start, minutes):
    duration = dt.timedelta(minutes=minutes)
    end = DESK.add(start, duration)
    assert end >= start
    assert DESK.elapsed(start, end) == duration


@settings(max_examples=200, deadline=None)
@given(
    end=st.datetimes(
        min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(0, 60 * 200),
    off_days=st.integers(0, 3),
)
def test_before_is_the_inverse_of_elapsed(end, minutes, off_days):
    """``before`` is what the backlog's age buckets compare with: what lies before it is older."""
    off = ((end - dt.timedelta(days=off_days + 2), end - dt.timedelta(days=2)),) if off_days else ()
    clock = Clock(BERLIN, NINE_TO_FIVE, frozenset({dt.date(2027, 1, 11)}), off)
    duration = dt.timedelta(minutes=minutes)
    start = clock.before(end, duration)
    assert start <= end
    assert clock.elapsed(start, end) == duration
    # nothing later has as much working time before ``end``
    assert clock.elapsed(start + dt.timedelta(minutes=1), end) < duration or not minutes


def test_time_off_is_not_counted():
    monday = berlin(11, 9)
    clock = Clock(BERLIN, NINE_TO_FIVE, off=((berlin(11, 12), berlin(12, 12)),))
    # Monday 9-12 counts, then Tuesday from 12:00.
    assert clock.add(monday, dt.timedelta(hours=4)) == berlin(12, 13)
    assert clock.elapsed(monday, berlin(12, 17)) == dt.timedelta(hours=8)
