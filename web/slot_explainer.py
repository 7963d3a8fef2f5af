"""The "why is this time not bookable?" form, on the coach's availability page and on staff's
page of a coach: a type, a day and a time in the viewer's zone, answered by the slot search's own
explainer (``services.booking.explain``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request

from services import booking as booking_service
from services.booking import interview_types
from services.errors import DomainError
from web.formatting import viewer_zone


def explain_context(coach_id: int) -> dict[str, Any]:
    """What ``_explain.html`` shows: the form's choices and values and, once asked, the answer or
    what is wrong with the question."""
    types = interview_types.list_active()
    args = request.args
    chosen = args.get("type") or (types[0].slug if types else "")
    context: dict[str, Any] = {
        "types": types,
        "type": chosen,
        "day": args.get("day", ""),
        "time": args.get("time", ""),
        "tz": viewer_zone(),
        "asked": "day" in args or "time" in args,
        "error": None,
        "answer": None,
    }
    if not context["asked"]:
        return context
    try:
        day = dt.date.fromisoformat(context["day"])
        time = dt.time.fromisoformat(context["time"])
    except ValueError:
        context["error"] = "Pick a day and a time (for example 2027-01-11 and 10:00)."
        return context
    start = dt.datetime.combine(day, time, context["tz"])
    try:
        context["answer"] = booking_service.explain(chosen, start, coach_id=coach_id)
    except DomainError as exc:
        context["error"] = exc.detail
    return context
