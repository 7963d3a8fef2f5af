"""Staff: the review queue and the figures of how it is going."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, fields, validate

from services import workhours
from services.models import ResumeStatus
from services.resumes import queue, routing
from services.resumes import stats as staff_stats
from services.validation import MAX_ID
from web.api.blueprint import Blueprint
from web.api.pagination import PageArgsSchema
from web.api.schemas import (
    JsonInteger,
    NamedKeys,
    PersonSchema,
    QueryBoolean,
    Text,
    Zone,
    page_schema,
    person,
    query_id,
)
from web.api.security import current_user, token_required
from web.problems import problem_doc
from web.transactions import writing

bp = Blueprint(
    "api_staff",
    __name__,
    url_prefix="/api/v1",
    description="Staff: the review queue (oldest first) and statistics.",
)


_problem = problem_doc(bp)


class QueueArgsSchema(PageArgsSchema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf([s.value for s in ResumeStatus]),
        metadata={
            "description": "Default: the open ones (submitted, assigned, in_review, unassigned)."
        },
    )
    coach_id = query_id(load_default=None, metadata={"description": "Held by this coach."})
    overdue = QueryBoolean(
        load_default=False, metadata={"description": "Only reviews past their due time."}
    )


class QueueItemSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    target_role = fields.String(required=True)
    filename = fields.String(required=True)
    version = fields.Integer(required=True)
    learner = fields.Nested(PersonSchema, required=True)
    reviewer = fields.Nested(PersonSchema, required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    queued_at = fields.AwareDateTime(
        required=True, metadata={"description": "When the current version joined the queue."}
    )
    age_hours = fields.Float(
        required=True,
        metadata={
            "description": "Working hours since queued_at, on the clock its due time counts "
            "(the desk's hours, or its coach's own week; the wall clock until staff set hours)."
        },
    )
    due_at = fields.AwareDateTime(required=True, allow_none=True)
    overdue = fields.Boolean(required=True)
    offer_expires_at = fields.AwareDateTime(required=True, allow_none=True)
    routing_reason = fields.String(required=True, allow_none=True)


class TurnaroundSchema(Schema):
    median_hours = fields.Float(required=True, allow_none=True)
    p90_hours = fields.Float(required=True, allow_none=True)
    reviews = fields.Integer(required=True)
    window_days = fields.Integer(required=True)


class AgeBucketSchema(Schema):
    bucket = fields.String(
        required=True, metadata={"description": "under_1d, 1d_3d, 3d_7d, over_7d"}
    )
    count = fields.Integer(required=True)


class BacklogSchema(Schema):
    by_status = NamedKeys(
        lambda: [s.value for s in ResumeStatus], values=fields.Integer(), required=True
    )
    by_age = fields.List(fields.Nested(AgeBucketSchema), required=True)
    open = fields.Integer(required=True)
    overdue = fields.Integer(required=True)


class CoachLoadSchema(Schema):
    coach = fields.Nested(PersonSchema, required=True)
    open = fields.Integer(required=True)
    capacity = fields.Integer(required=True)
    load_pct = fields.Float(required=True, allow_none=True)


class BookingWeekSchema(Schema):
    week_start = fields.Date(required=True, metadata={"description": "Monday, UTC."})
    count = fields.Integer(required=True)


class TurnaroundWeekSchema(Schema):
    week_start = fields.Date(required=True, metadata={"description": "Monday, UTC."})
    reviews = fields.Integer(required=True)
    median_hours = fields.Float(required=True, allow_none=True)
    p90_hours = fields.Float(required=True, allow_none=True)


class StatsSchema(Schema):
    generated_at = fields.AwareDateTime(required=True)
    turnaround = fields.Nested(TurnaroundSchema, required=True)
    backlog = fields.Nested(BacklogSchema, required=True)
    load = fields.List(fields.Nested(CoachLoadSchema), required=True)
    bookings_per_week = fields.List(fields.Nested(BookingWeekSchema), required=True)
    no_show_rate = fields.Float(
        required=True, allow_none=True, metadata={"description": "no-shows / sessions held."}
    )
    turnaround_per_week = fields.List(
        fields.Nested(TurnaroundWeekSchema),
        required=True,
        metadata={"description": "Median and p90 turnaround per week of review (12 weeks)."},
    )


@bp.route("/queue")
@token_required(bp, "staff")
@bp.arguments(QueueArgsSchema, location="query")
@bp.response(200, page_schema(QueueItemSchema))
def review_queue(args: dict[str, Any]) -> Any:
    """The review queue, oldest first, with age and due time."""
    page = queue.queue(
        current_user(),
        status=args["status"],
        coach_id=args["coach_id"],
        overdue=args["overdue"],
        limit=args["limit"],
        cursor=args["cursor"],
    )
    return {
        "items": [
            {
                "id": item.resume.id,
                "status": item.resume.status,
                "target_role": item.resume.target_role,
                "filename": item.version.filename,
                "version": item.version.number,
                "learner": person(item.learner),
                "reviewer": person(item.reviewer),
                "created_at": item.resume.created_at,
                "queued_at": item.resume.queued_at,
                "age_hours": round(item.age.total_seconds() / 3600, 2),
                "due_at": item.resume.due_at,
                "overdue": item.overdue,
                "offer_expires_at": item.assignment.expires_at
                if item.assignment and item.assignment.status == "offered"
                else None,
                "routing_reason": item.routing_reason,
            }
            for item in page.items
        ],
        "next_cursor": page.next_cursor,
    }


@bp.route("/stats")
@token_required(bp, "staff")
@bp.response(200, StatsSchema)
def stats() -> Any:
    """Turnaround median and p90, backlog by status and age, load per coach, bookings per week,
    no-show rate."""
    viewer = current_user()
    return {
        **queue.stats(viewer),
        "turnaround_per_week": staff_stats.turnaround_per_week(viewer),
    }


# --- the desk's working hours --------------------------------------------------------------------


_HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class WindowSchema(Schema):
    weekday = JsonInteger(
        required=True, validate=validate.Range(min=0, max=6), metadata={"description": "0 = Monday"}
    )
    start = fields.String(
        required=True,
        validate=validate.Regexp(_HH_MM, error="Use HH:MM, e.g. 09:00."),
        metadata={"description": "Wall-clock time, HH:MM.", "pattern": _HH_MM},
    )
    end = fields.String(
        required=True,
        validate=validate.Regexp(_HH_MM, error="Use HH:MM, e.g. 17:00."),
        metadata={"description": "After the start; 00:00 means midnight.", "pattern": _HH_MM},
    )


class HolidaySchema(Schema):
    day = fields.Date(required=True)
    name = Text(load_default="", validate=validate.Length(max=120))


class DeskHoursSchema(Schema):
    timezone = Zone(required=True)
    hours = fields.List(
        fields.Nested(WindowSchema), required=True, validate=validate.Length(min=1, max=28)
    )
    holidays = fields.List(
        fields.Nested(HolidaySchema), load_default=list, validate=validate.Length(max=366)
    )
    own_hours_coach_ids = fields.List(
        JsonInteger(validate=validate.Range(min=1, max=MAX_ID)),
        validate=validate.Length(max=1000),
        metadata={
            "description": "The coaches whose own weekly availability (in their zone, closed in "
            "their time off), not these hours, is the clock of their review due times and accept "
            "windows (a coach with no weekly hours counts these). Left out: unchanged."
        },
    )


class DeskHoursAnswerSchema(DeskHoursSchema):
    timezone = fields.String(required=True)
    hours = fields.List(
        fields.Nested(WindowSchema),
        required=True,
        metadata={"description": "Empty until staff set the hours."},
    )
    set = fields.Boolean(
        required=True,
        metadata={"description": "false: no hours set, deadlines run on the wall clock."},
    )
    own_hours_coach_ids = fields.List(fields.Integer(), required=True)


class DeskHoursChangeSchema(DeskHoursSchema):
    reason = Text(load_default="", validate=validate.Length(max=1000))


def _desk_hours() -> dict[str, Any]:
    row, holidays = workhours.get_schedule()
    clock = workhours.desk_clock()
    hours = clock.hours or {}
    return {
        "set": row is not None,
        "timezone": row.timezone if row else "UTC",
        "hours": [
            {"weekday": day, "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
            for day in sorted(hours)
            for start, end in hours[day]
        ],
        "holidays": [{"day": h.day, "name": h.name} for h in holidays],
        "own_hours_coach_ids": workhours.own_hours_coach_ids(),
    }


@bp.route("/desk/hours")
@token_required(bp, "staff")
@bp.response(200, DeskHoursAnswerSchema)
def get_desk_hours() -> Any:
    """The desk's working hours: résumé accept windows, due times and their 75 % warnings count
    only these (the wall clock until staff set them)."""
    return _desk_hours()


@bp.route("/desk/hours", methods=["PUT"])
@token_required(bp, "staff")
@bp.arguments(DeskHoursChangeSchema)
@bp.response(200, DeskHoursAnswerSchema)
@_problem(
    422,
    "`validation_error`: a bad zone, a window ending before it starts, overlaps, an id that is "
    "not a coach's.",
)
def put_desk_hours(data: dict[str, Any]) -> Any:
    """Set the desk's working hours and holidays. Open offers' deadlines move with them; the audit
    log and each résumé's history say so."""
    hours: dict[int, list[tuple[Any, Any]]] = {}
    for window in data["hours"]:
        hours.setdefault(window["weekday"], []).append(
            (dt.time.fromisoformat(window["start"]), dt.time.fromisoformat(window["end"]))
        )
    holidays = {h["day"]: h["name"] for h in data["holidays"]}
    with writing():
        routing.change_desk_hours(
            current_user(),
            workhours.ScheduleInput(
                data["timezone"],
                hours,
                holidays,
                frozenset(data["own_hours_coach_ids"]) if "own_hours_coach_ids" in data else None,
            ),
            data["reason"],
        )
    return _desk_hours()
