"""Figures for the staff dashboard beyond services.queue.stats: turnaround per week."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.db import utcnow
from services.models import User
from services.queue import _require_staff, _week_start, turnaround


def turnaround_per_week(viewer: User, *, weeks: int = 12) -> list[dict[str, Any]]:
    """Median and p90 hours from upload to review, per week of the review (Monday, UTC): one
    aggregate query (services.queue.turnaround), one row a week back from the database."""
    _require_staff(viewer)
    first = _week_start(utcnow()) - dt.timedelta(weeks=weeks - 1)
    first_at = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    found = turnaround(first_at, weekly=True)
    result = []
    for i in range(weeks):
        week = first + dt.timedelta(weeks=i)
        figures = found.get(week)
        result.append(
            {
                "week_start": week,
                "reviews": figures.reviews if figures else 0,
                "median_hours": figures.median_hours if figures else None,
                "p90_hours": figures.p90_hours if figures else None,
            }
        )
    return result
