"""Mock interviews: slots, bookings, cancel and reschedule, outcomes and feedback."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Response, current_app, json, make_response, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services import booking as booking_service
from services.booking import availability
from services.errors import ValidationFailed
from web.api.blueprint import Blueprint
from web.api.pagination import PageArgsSchema
from web.api.schemas import (
    NO_NUL,
    JsonInteger,
    PersonSchema,
    Text,
    Zone,
    answers_list,
    intake_answers,
    object_id,
    page_schema,
    query_id,
    type_slug,
)
from web.api.security import current_user, token_required
from web.problems import problem_doc
from web.transactions import writing

bp = Blueprint(
    "api_bookings",
    __name__,
    url_prefix="/api/v1",
    description="Mock interviews: bookable slots, bookings, cancel and reschedule, outcomes.",
)


# --- schemas -------------------------------------------------------------------------------------


class FeedbackSchema(Schema):
    communication = JsonInteger(required=True, validate=validate.Range(min=1, max=5))
    technical_depth = JsonInteger(required=True, validate=validate.Range(min=1, max=5))
    problem_solving = JsonInteger(required=True, validate=validate.Range(min=1, max=5))
    ml_knowledge = JsonInteger(required=True, validate=validate.Range(min=1, max=5))
    notes = Text(load_default="", validate=validate.Length(max=10000))
    updated_at = fields.AwareDateTime(dump_only=True)


class BookingHistorySchema(Schema):
    at = fields.AwareDateTime(required=True)
    event = fields.String(required=True)
    by = fields.Nested(PersonSchema, attribute="actor", allow_none=True, required=True)


class BookingSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["confirmed", "cancelled", "completed", "no_show"]),
    )
    type = fields.String(
        attribute="interview_type.slug", required=True, metadata={"description": "Type slug."}
    )
    start = fields.AwareDateTime(attribute="start_at", required=True)
    end = fields.AwareDateTime(attribute="end_at", required=True)
    coach = fields.Nested(PersonSchema, required=True)
    learner = fields.Nested(PersonSchema, required=True)
    meeting_url = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    notes = fields.String(required=True)
    answers = answers_list("The learner's intake answers, each with the question as asked.")
    reschedule_count = fields.Integer(required=True)
    cancel_reason = fields.String(allow_none=True, required=True)
    cancelled_at = fields.AwareDateTime(allow_none=True, required=True)
    feedback = fields.Nested(
        FeedbackSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The coach's feedback on a completed session, or null."},
    )
    history = fields.List(fields.Nested(BookingHistorySchema), attribute="events", required=True)


class BookingCreateSchema(Schema):
    type = type_slug(required=True)
    start = fields.AwareDateTime(required=True, metadata={"description": "With its offset."})
    coach_id = object_id(
        load_default=None,
        allow_none=True,
        metadata={"description": "Omit to let the server pick a free coach (round robin)."},
    )
    notes = Text(load_default="", validate=validate.Length(max=2000))
    answers = intake_answers()


class CancelSchema(Schema):
    reason = Text(load_default="", validate=validate.Length(max=1000))


class RescheduleSchema(Schema):
    start = fields.AwareDateTime(required=True)
    coach_id = object_id(load_default=None, allow_none=True)


_DATE_OR_TIME = "Use YYYY-MM-DD or an ISO 8601 time with an offset."
# RFC 3339's full-date and date-time, which the document's formats name (ASCII digits only).
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?")
_DATE_TIME = re.compile(_LOCAL_TIME.pattern + r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


class DateOrDateTime(fields.Field):
    """``2026-12-03`` (midnight UTC starting that day, or ending it with ``end_of_day``) or a full
    ISO 8601 time with its offset."""

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise ValidationError(_DATE_OR_TIME)
        # An unencoded "+" in a query string arrives as a space: "...T10:00:00 00:00".
        if len(value) > 10 and value[-6] == " ":
            value = value[:-6] + "+" + value[-5:]
        try:
            if _DATE.fullmatch(value):
                day = dt.date.fromisoformat(value) + dt.timedelta(days=int(self.end_of_day))
                return dt.datetime.combine(day, dt.time(0), dt.UTC)
            if _LOCAL_TIME.fullmatch(value):
                raise ValidationError("Give the time with its offset, e.g. +00:00.")
            if not _DATE_TIME.fullmatch(value):
                raise ValidationError(_DATE_OR_TIME)
            return dt.datetime.fromisoformat(value.upper())
        except (ValueError, OverflowError) as exc:
            raise ValidationError(_DATE_OR_TIME) from exc


class BookingListArgsSchema(PageArgsSchema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(["confirmed", "cancelled", "completed", "no_show"]),
    )
    from_ = DateOrDateTime(
        data_key="from",
        load_default=None,
        metadata={"type": "string", "description": "Sessions starting at or after this."},
    )
    to = DateOrDateTime(
        end_of_day=True,
        load_default=None,
        metadata={
            "type": "string",
            "description": "Sessions starting before this (a date includes that whole day); "
            "after `from`.",
        },
    )

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] >= data["to"]:
            raise ValidationError("`to` must be after `from`.", "to")


class SlotArgsSchema(Schema):
    type = type_slug(required=True, metadata={"description": "Interview type slug."})
    start = fields.Date(load_default=None, metadata={"description": "First day (default today)."})
    end = fields.Date(
        load_default=None, metadata={"description": "Last day, inclusive (default start + 6)."}
    )
    tz = Zone(
        load_default=None,
        metadata={"description": "IANA zone of the days and of the answer (default: yours)."},
    )
    coach_id = query_id(load_default=None)


class SlotSchema(Schema):
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    coach_ids = fields.List(fields.Integer(), required=True)


class SlotsSchema(Schema):
    slots = fields.List(fields.Nested(SlotSchema), required=True)
    timezone = fields.String(required=True)
    type = fields.String(required=True)


class ExactTime(DateOrDateTime):
    """A full ISO 8601 time with its offset (not a date alone)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metadata = {"type": "string", "format": "date-time", **kwargs.get("metadata", {})}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        if isinstance(value, str) and _DATE.fullmatch(value):
            raise ValidationError("Give a time with its offset, e.g. 2027-01-11T10:00:00+00:00.")
        return super()._deserialize(value, attr, data, **kwargs)


class ExplainArgsSchema(Schema):
    type = type_slug(required=True, metadata={"description": "Interview type slug."})
    start = ExactTime(
        required=True, metadata={"description": "The start time asked about, with its offset."}
    )
    coach_id = query_id(
        load_default=None,
        metadata={"description": "One coach (a coach may ask only of themselves); omit for all."},
    )


class ReasonSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf(availability.REASON_CODES))
    message = fields.String(required=True)


class CoachExplanationSchema(Schema):
    coach = fields.Nested(PersonSchema, required=True)
    bookable = fields.Boolean(required=True)
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)


class ExplanationSchema(Schema):
    type = fields.String(required=True)
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    bookable = fields.Boolean(required=True)
    coach_ids = fields.List(
        fields.Integer(), required=True, metadata={"description": "The coaches free then."}
    )
    reasons = fields.List(
        fields.Nested(ReasonSchema),
        required=True,
        metadata={"description": "What rules the time out for every coach."},
    )
    coaches = fields.List(
        fields.Nested(CoachExplanationSchema),
        required=True,
        metadata={"description": "Each coach asked about, and what rules it out for them."},
    )


class OutcomeSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["completed", "no_show"]))


_problem = problem_doc(bp)


# --- slots ---------------------------------------------------------------------------------------


# Each slot as answers write it (its JSON object), per zone: the same slots are asked for again
# and again, so an answer is mostly a join of kept text. Bounded: emptied past the limit.
_SLOTS_KEPT = 20_000
_written: dict[str, dict[availability.Slot, str]] = {}


def _slots_written(tz_name: str) -> dict[availability.Slot, str]:
    if sum(len(slots) for slots in _written.values()) > _SLOTS_KEPT:
        _written.clear()
    return _written.setdefault(tz_name, {})


def _slot_json(slot: availability.Slot, tz: dt.tzinfo) -> str:
    return json.dumps(
        {
            "start": slot.start.astimezone(tz).isoformat(),
            "end": slot.end.astimezone(tz).isoformat(),
            "coach_ids": list(slot.coach_ids),
        },
        separators=(",", ":"),
    )


@bp.route("/slots")
@token_required(bp, "learner", "staff")
@bp.arguments(SlotArgsSchema, location="query")
@bp.response(200, SlotsSchema)
@_problem(422, "`validation_error`: unknown type or coach, bad time zone, bad or too long range.")
def list_slots(args: dict[str, Any]) -> Any:
    """Bookable start times of a type, in `tz`, from `start` to `end` inclusive (at most 62 days).

    Without `coach_id`, each slot lists every coach free then; booking without a coach lets the
    server pick one of them."""
    user = current_user()
    tz_name = args["tz"] or user.timezone
    tz = availability.zone(tz_name)
    start = args["start"] or dt.datetime.now(tz).date()
    end = args["end"] or start + dt.timedelta(days=6)
    slots = availability.find_slots(
        availability.SlotQuery(
            type_slug=args["type"],
            start_date=start,
            end_date=end,
            tz=tz_name,
            coach_id=args["coach_id"],
        ),
        learner_id=user.id if user.role == "learner" else None,
    )
    written = _slots_written(tz_name)
    parts = []
    for slot in slots:
        text = written.get(slot)
        if text is None:
            text = written[slot] = _slot_json(slot, tz)
        parts.append(text)
    # Written here (the shape SlotsSchema documents): hundreds of slots per answer, and
    # marshmallow's per-field work would cost more than finding them.
    head = json.dumps({"type": args["type"], "timezone": tz_name}, separators=(",", ":"))
    return current_app.response_class(
        f'{head[:-1]},"slots":[{",".join(parts)}]}}', mimetype="application/json"
    )


@bp.route("/slots/explain")
@token_required(bp, "learner", "staff", "coach")
@bp.arguments(ExplainArgsSchema, location="query")
@bp.response(200, ExplanationSchema)
@_problem(422, "`validation_error`: unknown type or coach, a time without its offset.")
def explain_slot(args: dict[str, Any]) -> Any:
    """Why a time is or is not bookable: by the same tests as `/slots` (weekly hours, time off,
    sessions and their buffers, the coach's own calendars, notice, horizon, the daily cap) and,
    for a learner, their own sessions and fair use. Staff and coaches see which of the coach's
    calendars is busy; a learner, only that one is."""
    user = current_user()
    coach_id = args["coach_id"]
    if user.role == "coach":
        if coach_id not in (None, user.id):
            raise ValidationFailed.field("coach_id", "Coaches ask only about their own calendar.")
        coach_id = user.id
    start: dt.datetime = args["start"]
    explanation = booking_service.explain(
        args["type"],
        start,
        coach_id=coach_id,
        learner_id=user.id if user.role == "learner" else None,
    )
    tz = start.tzinfo
    return {
        "type": explanation.itype.slug,
        "start": explanation.start.astimezone(tz),
        "end": explanation.end.astimezone(tz),
        "bookable": explanation.bookable,
        "coach_ids": explanation.free_coach_ids,
        "reasons": explanation.reasons,
        "coaches": [
            {"coach": c.coach, "bookable": c.bookable, "reasons": c.reasons}
            for c in explanation.coaches
        ],
    }


# --- bookings ------------------------------------------------------------------------------------


@bp.route("/bookings", methods=["POST"])
@token_required(bp, "learner")
@bp.arguments(BookingCreateSchema)
@bp.response(201, BookingSchema)
@bp.doc(
    parameters=[
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NO_NUL},
            "description": "Repeat a POST with the same key to get the first answer again; "
            "nothing more is booked.",
        }
    ]
)
@_problem(403, "`booking_suspended`: booking is paused for the learner (missed sessions).")
@_problem(
    409,
    "`slot_unavailable`: the slot was taken, or you hold an overlapping session; "
    "`booking_limit_reached`: already two upcoming sessions of this type.",
)
@_problem(
    422,
    "`validation_error`: past, beyond the horizon, inside the minimum notice, not on a slot, "
    "unknown type or coach, an Idempotency-Key reused for another request, or `answers` "
    "missing a required question or not fitting one (`errors` names `answers.<id>`).",
)
def create_booking(body: dict[str, Any]) -> Any:
    """Book a mock interview (the learner's own)."""
    key = request.headers.get("Idempotency-Key")
    learner_id = current_user().id
    with writing():
        booking, replayed = booking_service.book(
            learner_id,
            booking_service.BookingRequest(
                type=body["type"],
                start=body["start"],
                coach_id=body["coach_id"],
                notes=body["notes"],
                answers=body["answers"] or None,
            ),
            idempotency_key=key,
        )
    headers = {"Location": f"/api/v1/bookings/{booking.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return booking_service.for_display(booking.id), 201, headers


@bp.route("/bookings")
@token_required(bp)
@bp.arguments(BookingListArgsSchema, location="query")
@bp.response(200, page_schema(BookingSchema))
@_problem(422, "`validation_error`: a bad filter or cursor.")
def list_bookings(args: dict[str, Any]) -> Any:
    """Learner: own bookings; coach: own sessions; staff: all. Soonest first."""
    page = booking_service.list_bookings(
        current_user(),
        booking_service.BookingFilter(
            status=args["status"], start_from=args["from_"], start_to=args["to"]
        ),
        limit=args["limit"],
        cursor=args["cursor"],
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@bp.route("/bookings/<int:booking_id>")
@token_required(bp)
@bp.response(200, BookingSchema)
@_problem(404, "`not_found`: no such booking, or not yours.")
def get_booking(booking_id: int) -> Any:
    """One booking: its owner, its coach and staff see it."""
    booking = booking_service.get_booking(booking_id, current_user())
    return booking_service.for_display(booking.id)


@bp.route("/bookings/<int:booking_id>/cancel", methods=["POST"])
@token_required(bp)
@bp.arguments(CancelSchema, required=False)
@bp.response(200, BookingSchema)
@_problem(404, "`not_found`: no such booking, or not yours.")
@_problem(
    409,
    "`too_late_to_cancel`: inside the cancellation cutoff (staff may override); "
    "`invalid_state`: the session is over.",
)
def cancel_booking(body: dict[str, Any], booking_id: int) -> Any:
    """Cancel (owner, its coach, staff). Cancelling a cancelled booking changes nothing."""
    actor_id = current_user().id
    with writing():
        booking_service.cancel(booking_id, actor_id, reason=body["reason"])
    return booking_service.for_display(booking_id)


@bp.route("/bookings/<int:booking_id>/reschedule", methods=["POST"])
@token_required(bp, "learner", "staff")
@bp.arguments(RescheduleSchema)
@bp.response(200, BookingSchema)
@_problem(404, "`not_found`: no such booking, or not yours.")
@_problem(
    409,
    "`slot_unavailable`: the new slot is taken (the booking keeps its old time); "
    "`too_late_to_reschedule`: inside the cutoff; `reschedule_limit_reached`: moved twice "
    "already; `invalid_state`: not a confirmed booking. Staff may override the policy.",
)
@_problem(422, "`validation_error`: the new time is not bookable.")
def reschedule_booking(body: dict[str, Any], booking_id: int) -> Any:
    """Move a booking to a new time, atomically: the old slot frees only if the new one is taken."""
    actor_id = current_user().id
    with writing():
        booking = booking_service.reschedule(
            booking_id,
            actor_id,
            booking_service.RescheduleRequest(start=body["start"], coach_id=body["coach_id"]),
        )
    return booking_service.for_display(booking.id)


@bp.route("/bookings/<int:booking_id>/ics")
@token_required(bp)
@bp.doc(
    responses={
        "200": {
            "description": "An RFC 5545 calendar file of the session (METHOD:CANCEL once "
            "cancelled).",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        }
    }
)
@_problem(404, "`not_found`: no such booking, or not yours.")
def booking_ics(booking_id: int) -> Response:
    """The session as an .ics file; its UID stays the same for the booking's life."""
    viewer = current_user()
    booking = booking_service.get_booking(booking_id, viewer)
    response = make_response(booking_service.ics_for(booking, viewer))
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = f'attachment; filename="booking-{booking.id}.ics"'
    return response


@bp.route("/bookings/<int:booking_id>/outcome", methods=["POST"])
@token_required(bp, "coach", "staff")
@bp.arguments(OutcomeSchema)
@bp.response(200, BookingSchema)
@_problem(404, "`not_found`: no such booking, or not yours.")
@_problem(409, "`invalid_state`: cancelled, or not started yet.")
def record_outcome(body: dict[str, Any], booking_id: int) -> Any:
    """The coach marks a session `completed` or `no_show` (three no-shows in 60 days pause the
    learner's booking for 14 days)."""
    actor_id = current_user().id
    with writing():
        booking_service.mark_outcome(booking_id, actor_id, body["status"])
    return booking_service.for_display(booking_id)


@bp.route("/bookings/<int:booking_id>/feedback", methods=["PUT"])
@token_required(bp, "coach", "staff")
@bp.arguments(FeedbackSchema)
@bp.response(200, BookingSchema)
@_problem(404, "`not_found`: no such booking, or not yours.")
@_problem(409, "`invalid_state`: mark the session completed first.")
def put_feedback(body: dict[str, Any], booking_id: int) -> Any:
    """The coach's feedback on a completed session (scores 1-5 and notes); the learner sees it."""
    actor_id = current_user().id
    with writing():
        booking_service.save_feedback(
            booking_id,
            actor_id,
            booking_service.FeedbackInput(
                communication=body["communication"],
                technical_depth=body["technical_depth"],
                problem_solving=body["problem_solving"],
                ml_knowledge=body["ml_knowledge"],
                notes=body["notes"],
            ),
        )
    return booking_service.for_display(booking_id)
