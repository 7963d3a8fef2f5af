"""Slot arithmetic without a database: daylight saving, and properties checked by hypothesis."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.booking.availability import (
    Shape,
    free_starts,
    grid_ceil,
    local_to_utc,
    merge,
    on_grid,
    open_windows,
    subtract,
)

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
WORKDAY = [(d, dt.time(9), dt.time(17)) for d in range(7)]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_merge_and_subtract():
    a, b, c, d = utc(2027, 1, 1, 9), utc(2027, 1, 1, 10), utc(2027, 1, 1, 11), utc(2027, 1, 1, 12)
    assert merge([(c, d), (a, b), (b, c)]) == [(a, d)]
    assert subtract([(a, d)], [(b, c)]) == [(a, b), (c, d)]
    assert subtract([(a, b)], [(a, d)]) == []


def test_grid():
    assert grid_ceil(utc(2027, 1, 1, 9, 1), 30) == utc(2027, 1, 1, 9, 30)
    assert grid_ceil(utc(2027, 1, 1, 9, 30), 30) == utc(2027, 1, 1, 9, 30)
    assert on_grid(utc(2027, 1, 1, 9, 30), 30)
    assert not on_grid(utc(2027, 1, 1, 9, 15), 30)


def windows_by_day(tz, start_day, days):
    utc_from = local_to_utc(start_day, dt.time(0), tz)
    utc_to = local_to_utc(start_day + dt.timedelta(days=days), dt.time(0), tz)
    return {w[0].astimezone(tz).date(): w for w in open_windows(WORKDAY, tz, utc_from, utc_to)}


def test_a_berlin_coach_keeps_nine_to_five_across_both_yearly_changes():
    for first, days in ((dt.date(2027, 3, 24), 8), (dt.date(2026, 10, 21), 8)):
        for day, (start, end) in windows_by_day(BERLIN, first, days).items():
            assert start.astimezone(BERLIN).time() == dt.time(9), day
            assert end.astimezone(BERLIN).time() == dt.time(17), day
    spring = windows_by_day(BERLIN, dt.date(2027, 3, 26), 4)
    assert spring[dt.date(2027, 3, 26)][0] == utc(2027, 3, 26, 8)  # CET, UTC+1
    assert spring[dt.date(2027, 3, 29)][0] == utc(2027, 3, 29, 7)  # CEST, UTC+2
    autumn = windows_by_day(BERLIN, dt.date(2026, 10, 23), 4)
    assert autumn[dt.date(2026, 10, 23)][0] == utc(2026, 10, 23, 7)  # CEST
    assert autumn[dt.date(2026, 10, 26)][0] == utc(2026, 10, 26, 8)  # CET


def test_a_new_york_learner_sees_the_berlin_hours_shift_between_the_two_changes():
    """The US changes two (spring) or one (autumn) week(s) before Europe: for those days the gap
    between New York and Berlin is five hours, not six."""

    def new_york_start(day):
        return windows_by_day(BERLIN, day, 1)[day][0].astimezone(NEW_YORK).time()

    assert new_york_start(dt.date(2027, 3, 12)) == dt.time(3)  # both on winter time
    assert new_york_start(dt.date(2027, 3, 15)) == dt.time(4)  # US on summer time, Europe not
    assert new_york_start(dt.date(2027, 3, 26)) == dt.time(4)
    assert new_york_start(dt.date(2027, 3, 29)) == dt.time(3)  # both on summer time
    assert new_york_start(dt.date(2026, 10, 23)) == dt.time(3)
    assert new_york_start(dt.date(2026, 10, 26)) == dt.time(4)  # Europe back, US not yet
    assert new_york_start(dt.date(2026, 10, 30)) == dt.time(4)
    assert new_york_start(dt.date(2026, 11, 2)) == dt.time(3)


def test_slots_on_the_changeover_day_are_real_instants():
    """On 28 March 2027 Berlin skips 02:00-03:00: a 01:00-05:00 rule is three hours long."""
    rules = [(6, dt.time(1), dt.time(5))]  # Sunday
    day = dt.date(2027, 3, 28)
    utc_from = local_to_utc(day, dt.time(0), BERLIN)
    windows = open_windows(rules, BERLIN, utc_from, utc_from + dt.timedelta(days=1))
    (start, end), *_ = [w for w in windows if w[0].astimezone(BERLIN).date() == day]
    assert end - start == dt.timedelta(hours=3)
    shape = Shape(dt.timedelta(minutes=60), dt.timedelta(0), dt.timedelta(0))
    starts = free_starts([(start, end)], shape, step=60, earliest=start, latest=end)
    assert [s.astimezone(BERLIN).hour for s in starts] == [1, 3, 4]  # 02:00 does not exist


def test_buffers_block_neighbouring_slots():
    window = [(utc(2027, 1, 4, 9), utc(2027, 1, 4, 17))]
    shape = Shape(dt.timedelta(minutes=45), dt.timedelta(minutes=15), dt.timedelta(minutes=15))
    booked = shape.block(utc(2027, 1, 4, 12))  # 11:45-13:00 occupied
    starts = free_starts(
        window, shape, step=30, earliest=window[0][0], latest=window[0][1], blocks=[booked]
    )
    hours = [(s.hour, s.minute) for s in starts]
    assert (10, 30) in hours  # its block 10:15-11:30 ends before 11:45
    for taken in ((11, 0), (11, 30), (12, 0), (12, 30), (13, 0)):
        assert taken not in hours  # e.g. 13:00's block starts 12:45, inside the booked one
    assert (13, 30) in hours


# --- properties ----------------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney"]
BASE = utc(2027, 3, 10)  # spans the US change on 14 March


def minutes(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=lo, max_value=hi)


@st.composite
def scenario(draw):
    tz = zoneinfo.ZoneInfo(draw(st.sampled_from(ZONES)))
    rules = []
    for _ in range(draw(st.integers(0, 6))):
        # Rules between 05:00 and 23:30 local: daylight-saving jumps happen in the small hours.
        start = draw(minutes(5 * 4, 22 * 4)) * 15
        length = draw(minutes(2, 40)) * 15
        end = min(start + length, 23 * 60 + 45)
        rules.append(
            (
                draw(st.integers(0, 6)),
                dt.time(start // 60, start % 60),
                dt.time(end // 60, end % 60),
            )
        )
    span = dt.timedelta(days=4)

    def interval(max_len: int):
        offset = draw(minutes(0, 4 * 24 * 4)) * 15
        length = draw(minutes(1, max_len)) * 15
        s = BASE + dt.timedelta(minutes=offset)
        return (s, s + dt.timedelta(minutes=length))

    extra = [interval(32) for _ in range(draw(st.integers(0, 3)))]
    time_off = [interval(48) for _ in range(draw(st.integers(0, 3)))]
    blocks = [interval(12) for _ in range(draw(st.integers(0, 6)))]
    learner = [interval(8) for _ in range(draw(st.integers(0, 3)))]
    shape = Shape(
        dt.timedelta(minutes=draw(st.sampled_from([30, 45, 60, 90]))),
        dt.timedelta(minutes=draw(st.sampled_from([0, 5, 15, 30]))),
        dt.timedelta(minutes=draw(st.sampled_from([0, 10, 15, 30]))),
    )
    step = draw(st.sampled_from([15, 30, 60]))
    earliest = BASE + dt.timedelta(minutes=draw(minutes(0, 24 * 4)) * 15)
    latest = earliest + dt.timedelta(minutes=draw(minutes(0, 3 * 24 * 4)) * 15)
    return tz, rules, extra, time_off, blocks, learner, shape, step, earliest, latest, span


def overlaps(a, b):
    return a[0] < b[1] and b[0] < a[1]


def available(moment, tz, rules, extra, time_off):
    """An independent oracle: is the coach available at this instant?"""
    if any(s <= moment < e for s, e in time_off):
        return False
    if any(s <= moment < e for s, e in extra):
        return True
    local = moment.astimezone(tz)
    return any(wd == local.weekday() and start <= local.time() < end for wd, start, end in rules)


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_offered_slots_are_inside_availability_and_overlap_nothing(case):
    tz, rules, extra, time_off, blocks, learner, shape, step, earliest, latest, span = case
    windows = open_windows(rules, tz, BASE, BASE + span, extra, time_off)
    starts = free_starts(
        windows,
        shape,
        step=step,
        earliest=earliest,
        latest=latest,
        blocks=blocks,
        learner_busy=learner,
    )
    assert starts == sorted(set(starts))
    minute = dt.timedelta(minutes=1)
    for start in starts:
        session = (start, start + shape.duration)
        assert on_grid(start, step)
        assert earliest <= start <= latest
        assert not any(overlaps(shape.block(start), b) for b in blocks)
        assert not any(overlaps(session, busy) for busy in learner)
        assert not any(overlaps(session, off) for off in time_off)
        # Every minute of the session lies inside the coach's availability.
        moment = start
        while moment < session[1]:
            assert available(moment, tz, rules, extra, time_off), (start, moment)
            moment += minute * 5


@settings(max_examples=60, deadline=None)
@given(scenario())
def test_every_free_grid_time_is_offered(case):
    """The converse: nothing bookable is missing from the list."""
    tz, rules, extra, time_off, blocks, learner, shape, step, earliest, latest, span = case
    windows = open_windows(rules, tz, BASE, BASE + span, extra, time_off)
    offered = set(
        free_starts(
            windows,
            shape,
            step=step,
            earliest=earliest,
            latest=latest,
            blocks=blocks,
            learner_busy=learner,
        )
    )
    moment = grid_ceil(earliest, step)
    while moment <= latest:
        session = (moment, moment + shape.duration)
        inside = all(
            available(moment + dt.timedelta(minutes=m), tz, rules, extra, time_off)
            for m in range(0, int(shape.duration.total_seconds() // 60), 5)
        )
        free = (
            inside
            and session[1] <= BASE + span + dt.timedelta(days=1)
            and not any(overlaps(shape.block(moment), b) for b in blocks)
            and not any(overlaps(session, busy) for busy in learner)
        )
        assert (moment in offered) == free, moment
        moment += dt.timedelta(minutes=step)
