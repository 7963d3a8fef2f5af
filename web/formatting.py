"""Template filters: every time is shown in the viewer's own time zone; a DOCX résumé's HTML is
sanitised again as it is shown."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import Flask
from flask_login import current_user
from markupsafe import Markup

from services import extraction


def viewer_zone(tz: str | None = None) -> zoneinfo.ZoneInfo:
    name = tz or (current_user.timezone if current_user.is_authenticated else "UTC")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local(
    value: dt.datetime | None, fmt: str = "%a %-d %b %Y, %H:%M %Z", tz: str | None = None
) -> str:
    """``{{ booking.start_at | local }}``: the time in the viewer's zone (or ``tz``)."""
    if value is None:
        return ""
    return value.astimezone(viewer_zone(tz)).strftime(fmt)


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

    if first.date() == last.date():
        return f"{day(first)}, {first:%H:%M}–{last:%H:%M}"
    if last.time() == dt.time(0) and last.date() - first.date() == dt.timedelta(days=1):
        return f"{day(first)}, {first:%H:%M}–24:00"  # to the end of the day
    return f"{day(first)}, {first:%H:%M} – {day(last)}, {last:%H:%M}"


def docx_preview(html: str | None) -> Markup:
    """``{{ version.preview_html | docx_preview }}``: sanitised when stored, and again here with the
    same allow-list (defence in depth; nh3 is fast and the HTML is capped)."""
    return Markup(extraction.clean_preview(html or ""))  # noqa: S704 (nh3-sanitised)


def init_app(app: Flask) -> None:
    app.add_template_filter(local, "local")
    app.add_template_filter(local_span, "local_span")
    app.add_template_filter(docx_preview, "docx_preview")
