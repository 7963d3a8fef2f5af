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


def docx_preview(html: str | None) -> Markup:
    """``{{ version.preview_html | docx_preview }}``: sanitised when stored, and again here with the
    same allow-list (defence in depth; nh3 is fast and the HTML is capped)."""
    return Markup(extraction.clean_preview(html or ""))  # noqa: S704 (nh3-sanitised)


def init_app(app: Flask) -> None:
    app.add_template_filter(local, "local")
    app.add_template_filter(docx_preview, "docx_preview")
