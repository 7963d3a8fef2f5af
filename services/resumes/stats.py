"""Figures for the staff dashboard beyond services.resumes.queue.stats: turnaround per week."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.access import require_staff
from services.db import utcnow
from services.models import User
from services.resumes.queue import turnaround_weekly, week_start


def turnaround_per_week(viewer: User, *, weeks: int = 12) -> list[dict[str, Any]]:
    """Median and p90 hours from upload to review, per week of the review (Monday, UTC): one
    statement (services.resumes.queue.turnaround_weekly), each week a range of the review index."""
    require_staff(viewer, "Only staff see the queue.")
    first = week_start(utcnow()) - dt.timedelta(weeks=weeks - 1)
    return [
        {
            "week_start": week,
            "reviews": figures.reviews,
            "median_hours": figures.median_hours,
            "p90_hours": figures.p90_hours,
        }
        for week, figures in turnaround_weekly(first, weeks).items()
    ]
