"""Template filters: every time is shown in the viewer's own time zone and on their 12- or
24-hour clock (services.localtime writes it); a DOCX résumé's HTML is sanitised again as it is
shown."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import Flask, has_request_context, request
from flask_login import current_user
from markupsafe import Markup

from services import localtime
from services.resumes import extraction


def viewer_zone(tz: str | None = None) -> zoneinfo.ZoneInfo:
    return localtime.zone(tz or (current_user.timezone if current_user.is_authenticated else None))


def locale_clock() -> str:
    """The clock the browser's language suggests (Accept-Language), for whoever has no setting."""
    if not has_request_context():
        return localtime.DEFAULT_CLOCK
    languages = request.accept_languages
    return localtime.clock_for_locale(languages[0][0] if languages else None)


def viewer_clock() -> str:
    """The signed-in user's clock; for anyone else, their browser's language's."""
    if current_user.is_authenticated:
        return str(current_user.clock)
    return locale_clock()


def local(
    value: dt.datetime | None, fmt: str = localtime.DEFAULT_FORMAT, tz: str | None = None
) -> str:
    """``{{ booking.start_at | local }}``: the time in the viewer's zone (or ``tz``), on their
    clock; every "%H:%M" in ``fmt`` follows it ("14:30" or "2:30 PM")."""
    if value is None:
        return ""
    return localtime.format_time(value, viewer_zone(tz).key, fmt, viewer_clock())


def clock_time(value: dt.time | None) -> str:
    """``{{ rule.start_time | clock_time }}``: a time of day on the viewer's clock."""
    return "" if value is None else localtime.wall_time(value, viewer_clock())


def local_span(start: dt.datetime, end: dt.datetime, tz: str | None = None) -> str:
    """``{{ e.start_at | local_span(e.end_at) }}``: a span in the viewer's zone, its date once when
    it is one day: ``Mon 7 Dec, 09:00–12:00``; else ``Mon 7 Dec, 09:00 – Wed 9 Dec, 12:00``. The
    year shows only when it is not this year."""
    zone = viewer_zone(tz)
    first, last = start.astimezone(zone), end.astimezone(zone)
    this_year = dt.datetime.now(zone).year

    def day(moment: dt.datetime) -> str:
        text = moment.strftime("%a %-d %b")
        return text if moment.year == this_year else f"{text} {moment.year}"

    def hm(moment: dt.datetime) -> str:
        return localtime.wall_time(moment.time(), viewer_clock())

    if first.date() == last.date():
        return f"{day(first)}, {hm(first)}–{hm(last)}"
    if last.time() == dt.time(0) and last.date() - first.date() == dt.timedelta(days=1):
        end_of_day = "24:00" if viewer_clock() == "24h" else "midnight"
        return f"{day(first)}, {hm(first)}–{end_of_day}"  # to the end of the day
    return f"{day(first)}, {hm(first)} – {day(last)}, {hm(last)}"


def docx_preview(html: str | None) -> Markup:
    """``{{ version.preview_html | docx_preview }}``: sanitised when stored, and again here with the
    same allow-list (defence in depth; nh3 is fast and the HTML is capped)."""
    return Markup(extraction.clean_preview(html or ""))  # noqa: S704 (nh3-sanitised)


def init_app(app: Flask) -> None:
    app.add_template_filter(local, "local")
    app.add_template_filter(local_span, "local_span")
    app.add_template_filter(clock_time, "clock_time")
    app.add_template_filter(docx_preview, "docx_preview")
    app.add_template_filter(localtime.display_name, "zone_name")
