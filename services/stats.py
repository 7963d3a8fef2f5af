"""Figures for the staff dashboard beyond services.queue.stats: turnaround per week."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.access import require_staff
from services.db import utcnow
from services.models import User
from services.queue import _week_start, turnaround_weekly


def turnaround_per_week(viewer: User, *, weeks: int = 12) -> list[dict[str, Any]]:
    """Median and p90 hours from upload to review, per week of the review (Monday, UTC): one
    statement (services.queue.turnaround_weekly), each week a range of the review index."""
    require_staff(viewer, "Only staff see the queue.")
    first = _week_start(utcnow()) - dt.timedelta(weeks=weeks - 1)
    return [
        {
            "week_start": week,
            "reviews": figures.reviews,
            "median_hours": figures.median_hours,
            "p90_hours": figures.p90_hours,
        }
        for week, figures in turnaround_weekly(first, weeks).items()
    ]
