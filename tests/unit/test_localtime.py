"""services.localtime: the zones people may pick (tzdata's own tables, not a hand list), how each
is labelled and found, what is refused and why, and times written on either clock."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from services import localtime
from services.errors import ValidationFailed

WINTER = dt.datetime(2025, 1, 15, 12, tzinfo=dt.UTC)
SUMMER = dt.datetime(2025, 7, 15, 12, tzinfo=dt.UTC)


def by_name(at: dt.datetime) -> dict[str, localtime.ZoneChoice]:
    return {choice.name: choice for choice in localtime.zone_choices(at)}


def test_the_zones_are_tzdatas_places_and_utc_without_the_old_names():
    zones = localtime.selectable_zones()

    assert {"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Europe/Kyiv", "UTC"} <= zones
    # Still a country's own zone in zone.tab, though it now shares Berlin's rules.
    assert "Europe/Oslo" in zones
    old = {"US/Eastern", "US/Pacific", "Asia/Calcutta", "Europe/Kiev", "GB", "Etc/GMT+1"}
    assert not old & zones
    assert not any(z.startswith(("Etc/", "US/", "SystemV/")) for z in zones)
    assert zones < zoneinfo.available_timezones() | {"UTC"}
    assert 400 < len(zones) < len(zoneinfo.available_timezones())


def test_labels_carry_the_offset_of_the_day_and_the_list_is_in_offset_order():
    winter, summer = by_name(WINTER), by_name(SUMMER)

    assert winter["Europe/Berlin"].label == "(UTC+01:00) Europe/Berlin"
    assert summer["Europe/Berlin"].label == "(UTC+02:00) Europe/Berlin"
    assert winter["America/New_York"].label == "(UTC−05:00) America/New York"
    assert winter["Asia/Kathmandu"].label == "(UTC+05:45) Asia/Kathmandu"
    assert winter["UTC"].label == "(UTC+00:00) UTC"
    choices = localtime.zone_choices(WINTER)
    offsets = [localtime.utc_offset(c.name, WINTER) for c in choices]
    assert offsets == sorted(offsets)
    assert choices[0].label.startswith("(UTC−1")  # Pacific/Midway and friends
    assert choices[-1].label.startswith("(UTC+14:00)")  # Pacific/Kiritimati


def test_each_zone_is_found_by_its_country_and_its_old_names():
    zones = by_name(WINTER)

    assert zones["Asia/Kolkata"].place == "India"
    assert "asia/calcutta" in zones["Asia/Kolkata"].search.split()
    assert zones["America/New_York"].place == "United States — Eastern (most areas)"
    assert "us/eastern" in zones["America/New_York"].search.split()
    assert zones["Europe/Berlin"].place == "Germany"
    assert "norway" in zones["Europe/Berlin"].search  # the countries that share its clock
    assert "utc+1" in zones["Europe/Berlin"].search.split()
    assert "etc/utc" in zones["UTC"].search.split()


def test_a_zone_someone_already_has_is_kept_on_offer_and_marked():
    choices = localtime.zone_choices(WINTER, keep="US/Eastern")

    assert choices[0].name == "US/Eastern"
    assert choices[0].label == "(UTC−05:00) US/Eastern (an old name of America/New York)"
    assert localtime.zone_choices(WINTER, keep="Europe/Berlin") == localtime.zone_choices(WINTER)
    assert localtime.zone_choices(WINTER, keep="Mars/Base") == localtime.zone_choices(WINTER)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("US/Eastern", "US/Eastern is another name for America/New York: pick that instead."),
        ("Europe/Kiev", "Europe/Kiev is another name for Europe/Kyiv: pick that instead."),
        ("Etc/UTC", "Etc/UTC is another name for UTC: pick that instead."),
        ("Zulu", "Zulu is another name for UTC: pick that instead."),
        (
            "EST5EDT",
            "EST5EDT is not the time zone of a place: pick the city or country you are in.",
        ),
        ("Mars/Base", 'Pick a time zone from the list: type a city or country, e.g. "Berlin".'),
        ("../etc/passwd", 'Pick a time zone from the list: type a city or country, e.g. "Berlin".'),
        ("", "Pick a time zone."),
    ],
)
def test_what_is_refused_says_what_to_pick(name, message):
    with pytest.raises(ValidationFailed) as refused:
        localtime.check_zone(name)

    assert refused.value.errors == {"timezone": [message]}


def test_the_zone_someone_has_is_accepted_even_if_it_is_an_old_name():
    assert localtime.check_zone("US/Eastern", current="US/Eastern") == "US/Eastern"
    assert localtime.check_zone(" Europe/Berlin ") == "Europe/Berlin"
    with pytest.raises(ValidationFailed):
        localtime.check_zone("US/Eastern", current="US/Pacific")


@pytest.mark.parametrize(
    ("tag", "clock"),
    [
        ("en-US", "12h"),
        ("en", "12h"),
        ("es-US", "12h"),
        ("en-IN", "12h"),
        ("hi", "12h"),
        ("ko-KR", "12h"),
        ("zh-Hant-TW", "12h"),
        ("en-CA", "12h"),
        ("fr-CA", "24h"),
        ("en-GB", "24h"),
        ("en-IE", "24h"),
        ("de-DE", "24h"),
        ("de", "24h"),
        ("fr", "24h"),
        ("ja-JP", "24h"),
        ("pt_BR", "24h"),
        ("*", "24h"),
        ("", "24h"),
        (None, "24h"),
    ],
)
def test_the_clock_a_language_suggests(tag, clock):
    assert localtime.clock_for_locale(tag) == clock


def test_times_are_written_on_either_clock_in_the_zone():
    at = dt.datetime(2025, 3, 3, 13, 5, tzinfo=dt.UTC)

    assert localtime.format_time(at, "Europe/Berlin") == "Mon 3 Mar 2025, 14:05 CET"
    assert localtime.format_time(at, "Europe/Berlin", clock="12h") == "Mon 3 Mar 2025, 2:05 PM CET"
    assert localtime.format_time(at, "America/New_York", "%H:%M %Z", "12h") == "8:05 AM EST"
    assert localtime.format_time(at, "Asia/Kolkata", "%-d %b", "12h") == "3 Mar"
    assert localtime.format_time(at, "Mars/Base") == "Mon 3 Mar 2025, 13:05 UTC"
    assert localtime.wall_time(dt.time(9, 30), "12h") == "9:30 AM"
    assert localtime.wall_time(dt.time(0, 0), "12h") == "12:00 AM"
    assert localtime.wall_time(dt.time(9, 30)) == "09:30"


def test_a_span_is_written_for_its_reader():
    class Reader:
        timezone = "America/Chicago"
        clock = "12h"

    start = dt.datetime(2025, 3, 3, 15, 0, tzinfo=dt.UTC)
    span = localtime.span_for(start, start + dt.timedelta(minutes=45), Reader())  # type: ignore[arg-type]

    assert span == "Mon 3 Mar 2025, 9:00 AM CST – 9:45 AM (America/Chicago)"
    Reader.timezone = "America/New_York"  # a place's name is written as people write it
    span = localtime.span_for(start, start + dt.timedelta(minutes=45), Reader())  # type: ignore[arg-type]
    assert span.endswith("10:45 AM (America/New York)")


def test_check_clock():
    assert localtime.check_clock("12h") == "12h"
    with pytest.raises(ValidationFailed) as refused:
        localtime.check_clock("13h")
    assert refused.value.errors == {"clock": ["Choose the 12-hour or the 24-hour clock."]}
