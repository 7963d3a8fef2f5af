"""A person's local time: the time zones they may pick, and every time written for them, in their
zone and on their 12- or 24-hour clock. Pages (web.formatting), emails and messages all write
times through ``format_time``; nothing else calls strftime on a time a person reads.

The zones offered are the ones the tz database itself lists for the places of the world
(``zone.tab``, which names at least one zone per country and includes every zone of
``zone1970.tab``), read from the ``tzdata`` package, plus ``UTC``. Backward-compatibility names
(``US/Eastern``, ``Asia/Calcutta``, ``GB``) and technical ones (``Etc/GMT+1``, ``EST5EDT``) are
not offered and not accepted for a new choice; a user who already has one keeps it."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import zoneinfo
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from services.errors import ValidationFailed

if TYPE_CHECKING:
    from services.models import User

UTC_NAME = "UTC"
CLOCKS = ("12h", "24h")
DEFAULT_CLOCK = "24h"
DEFAULT_FORMAT = "%a %-d %b %Y, %H:%M %Z"
_UTC_ZONES = frozenset({"Etc/UTC", "Etc/GMT"})  # what UTC, GMT, Zulu, Etc/Universal… stand for
MINUS = "\u2212"  # the minus sign, as in "UTC−05:00" (a hyphen is read as "dash")

# Regions whose people read a 12-hour clock (CLDR's "preferred" hour format is h:mm a there).
# Only the fallback: the browser's own setting (Intl, read by static/js/app.js) wins when sent.
_TWELVE_HOUR_REGIONS = frozenset(
    {"US", "CA", "AU", "NZ", "IN", "PH", "PK", "BD", "EG", "SA", "AE", "KR", "TW", "HK", "MY"}
)
_TWELVE_HOUR_LANGUAGES = frozenset({"en", "ko", "ar", "hi", "bn", "ur"})  # with no region given
_TWENTY_FOUR_HOUR_LOCALES = frozenset({("fr", "CA")})


# --- the zones ------------------------------------------------------------------------------------


def _tzdata_file(name: str) -> str:
    return importlib.resources.files("tzdata").joinpath("zoneinfo", name).read_text("utf-8")


def _rows(name: str) -> list[list[str]]:
    return [
        line.split("\t")
        for line in _tzdata_file(name).splitlines()
        if line.strip() and not line.startswith("#")
    ]


@dataclass(frozen=True)
class _Place:
    where: str  # "Germany — most of Germany", "United States — Eastern (most areas)"
    also: str  # the countries that share the zone's clock since 1970, for the search


@cache
def _places() -> dict[str, _Place]:
    """Every selectable zone, with where it is used (tzdata's own tables)."""
    countries = {row[0]: row[1] for row in _rows("iso3166.tab")}
    shared = {
        row[2]: ", ".join(countries.get(code, code) for code in row[0].split(","))
        for row in _rows("zone1970.tab")
    }
    places: dict[str, _Place] = {}
    for row in _rows("zone.tab"):
        code, name, comment = row[0], row[2], row[3] if len(row) > 3 else ""
        country = countries.get(code, code)
        if comment.lower() == f"most of {country}".lower():
            comment = ""  # "Germany — most of Germany" says no more than "Germany"
        where = country + (f" — {comment}" if comment else "")
        places[name] = _Place(where, shared.get(name, ""))
    places[UTC_NAME] = _Place("Coordinated Universal Time", "GMT")
    return {name: place for name, place in places.items() if _loads(name)}


def _loads(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


@cache
def _links() -> dict[str, str]:
    """Backward-compatibility name -> the zone it stands for (tzdata.zi's "L target name")."""
    links = {}
    for line in _tzdata_file("tzdata.zi").splitlines():
        if line.startswith("L "):
            _, target, name = line.split()
            links[name] = target
    return links


@cache
def _aliases() -> dict[str, tuple[str, ...]]:
    """Selectable zone -> the old names that stand for it (a browser may still report one:
    Chrome says "Asia/Calcutta" for Asia/Kolkata)."""
    places, links = _places(), _links()
    found: dict[str, list[str]] = {}
    for name in places:
        target = links.get(name, name)
        if name != target and target in places:
            continue  # Europe/Oslo: its old names belong to Europe/Berlin
        found[name] = sorted(
            old for old, to in links.items() if to == target and old not in places
        ) + ([target] if target != name and target not in places else [])
    return {name: tuple(old) for name, old in found.items() if old}


def selectable_zones() -> frozenset[str]:
    """The zone names a person may pick."""
    return frozenset(_places())


def display_name(name: str) -> str:
    """ "America/New_York" -> "America/New York"."""
    return name.replace("_", " ")


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone ``name``; UTC for a missing or unknown one (a time is always shown)."""
    try:
        return zoneinfo.ZoneInfo(name or UTC_NAME)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(UTC_NAME)


def utc_offset(name: str, at: dt.datetime) -> dt.timedelta:
    return at.astimezone(zone(name)).utcoffset() or dt.timedelta(0)


def offset_label(offset: dt.timedelta) -> str:
    """ "UTC+01:00", "UTC−05:00", "UTC+05:45"."""
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else MINUS
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


@dataclass(frozen=True)
class ZoneChoice:
    """One zone as the picker offers it: the value, its label, where it is used, and more words
    it is found by (with the label's and the place's own)."""

    name: str
    label: str  # "(UTC+01:00) Europe/Berlin"
    place: str  # "Germany — most of Germany"
    search: str  # "utc+1 gmt+1 germany, denmark, norway, sweden, svalbard & jan mayen"


def _choice(
    name: str, offset: dt.timedelta, place: str, also: str = "", note: str = ""
) -> ZoneChoice:
    minutes = int(offset.total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    short = ("+" if minutes >= 0 else "-") + f"{hours}" + (f":{rest:02d}" if rest else "")
    label = f"({offset_label(offset)}) {display_name(name)}" + (f" ({note})" if note else "")
    old = " ".join(_aliases().get(name, ()))
    search = " ".join(f"utc{short} gmt{short} {name} {also} {old}".lower().split())
    return ZoneChoice(name, label, place, search)


@lru_cache(maxsize=4)
def _choices_at(hour: dt.datetime) -> tuple[ZoneChoice, ...]:
    rows = []
    for name, place in _places().items():
        offset = utc_offset(name, hour)
        rows.append((offset, display_name(name), _choice(name, offset, place.where, place.also)))
    return tuple(choice for _, _, choice in sorted(rows, key=lambda r: (r[0], r[1])))


def zone_choices(at: dt.datetime | None = None, keep: str | None = None) -> list[ZoneChoice]:
    """The zones to pick from, by UTC offset (as it is ``at``, default now), then by name. A
    user's current zone that is no longer offered (``keep``) is listed first, marked."""
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    choices = list(_choices_at(moment.replace(minute=0, second=0, microsecond=0)))
    if keep and keep not in _places() and _loads(keep):
        target = _links().get(keep)
        note = f"an old name of {display_name(target)}" if target in _places() else "an old name"
        choices.insert(0, _choice(keep, utc_offset(keep, moment), "", note=note))
    return choices


def check_zone(name: str, current: str | None = None) -> str:
    """``name`` if a person may pick it now: a selectable zone, or the one they already have
    (``current``). Raises ValidationFailed (on the field ``timezone``) saying what to pick."""
    name = (name or "").strip()
    if name in _places() or (current and name == current):
        return name
    if not name:
        raise ValidationFailed.field("timezone", "Pick a time zone.")
    target = _links().get(name, name)
    if target in _UTC_ZONES:
        target = UTC_NAME
    if target in _places():
        raise ValidationFailed.field(
            "timezone", f"{name} is another name for {display_name(target)}: pick that instead."
        )
    if _loads(name):
        raise ValidationFailed.field(
            "timezone",
            f"{name} is not the time zone of a place: pick the city or country you are in.",
        )
    raise ValidationFailed.field(
        "timezone", 'Pick a time zone from the list: type a city or country, e.g. "Berlin".'
    )


# --- the clock ------------------------------------------------------------------------------------


def check_clock(clock: str) -> str:
    """``clock`` if it is "12h" or "24h". Raises ValidationFailed."""
    if clock not in CLOCKS:
        raise ValidationFailed.field("clock", "Choose the 12-hour or the 24-hour clock.")
    return clock


def clock_for_locale(tag: str | None) -> str:
    """The clock people of this language tag ("en-US", "de", "zh-Hant-TW") usually read."""
    parts = (tag or "").replace("_", "-").split("-")
    language = parts[0].lower()
    region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), "")
    if not language or language == "*":
        return DEFAULT_CLOCK
    if (language, region) in _TWENTY_FOUR_HOUR_LOCALES:
        return "24h"
    if region:
        return "12h" if region in _TWELVE_HOUR_REGIONS else "24h"
    return "12h" if language in _TWELVE_HOUR_LANGUAGES else "24h"


def clock_pattern(fmt: str, clock: str) -> str:
    """``fmt`` for ``clock``: every "%H:%M" becomes "%-I:%M %p" on the 12-hour clock."""
    return fmt.replace("%H:%M", "%-I:%M %p") if clock == "12h" else fmt


def format_time(
    moment: dt.datetime, tz_name: str | None, fmt: str = DEFAULT_FORMAT, clock: str = DEFAULT_CLOCK
) -> str:
    """``moment`` as read in ``tz_name`` on ``clock``: "Mon 3 Mar 2025, 2:30 PM CET"."""
    return moment.astimezone(zone(tz_name)).strftime(clock_pattern(fmt, clock))


def wall_time(time: dt.time, clock: str = DEFAULT_CLOCK) -> str:
    """A time of day (no date, no zone) on ``clock``: "09:30" or "9:30 AM"."""
    return time.strftime(clock_pattern("%H:%M", clock))


def for_user(moment: dt.datetime, user: User, fmt: str = DEFAULT_FORMAT) -> str:
    """``moment`` as ``user`` reads it: their zone, their clock."""
    return format_time(moment, user.timezone, fmt, user.clock)


def span_for(start: dt.datetime, end: dt.datetime, user: User) -> str:
    """ "Mon 3 Mar 2025, 2:30 PM EST – 3:15 PM (America/New York)" for ``user``."""
    zone = display_name(user.timezone or UTC_NAME)
    return f"{for_user(start, user)} – {for_user(end, user, '%H:%M')} ({zone})"
