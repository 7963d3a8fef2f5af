"""The booking waitlist, and suspensions of booking (fair use) that staff can lift."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from services import booking as booking_service
from services.booking import admin, waitlist
from web.api.blueprint import Blueprint
from web.api.bookings import BookingSchema
from web.api.schemas import (
    PersonSchema,
    QueryBoolean,
    Text,
    Zone,
    answers_list,
    intake_answers,
    object_id,
    type_slug,
)
from web.api.security import current_user, token_required
from web.problems import problem_doc
from web.transactions import writing

bp = Blueprint(
    "api_waitlist",
    __name__,
    url_prefix="/api/v1",
    description="Waiting for a slot: a freed slot is held for the first in line for 30 minutes.",
)


_problem = problem_doc(bp)


class OfferSchema(Schema):
    start = fields.AwareDateTime(attribute="start_at", required=True)
    end = fields.AwareDateTime(attribute="end_at", required=True)
    coach = fields.Nested(PersonSchema, required=True)
    expires_at = fields.AwareDateTime(attribute="hold_expires_at", required=True)


_TIME_OF_DAY = (
    "When in the day (in `tz`) a session may start: "
    + ", ".join(
        f"`{part}` ({waitlist.time_of_day_hours(part)})"
        if hours
        else f"`{part}` (every hour a coach works)"
        for part, hours in waitlist.TIMES_OF_DAY.items()
    )
    + "."
)


class WaitlistEntrySchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["waiting", "offered", "booked", "expired", "cancelled"]),
    )
    type = fields.String(attribute="interview_type.slug", required=True)
    day = fields.Date(allow_none=True, required=True)
    timezone = fields.String(required=True)
    coach_id = fields.Integer(allow_none=True, required=True)
    time_of_day = fields.String(
        required=True,
        validate=validate.OneOf(list(waitlist.TIMES_OF_DAY)),
        metadata={"description": _TIME_OF_DAY},
    )
    learner = fields.Nested(PersonSchema, required=True)
    created_at = fields.AwareDateTime(required=True)
    answers = answers_list("Intake answers, carried to the offered slot's booking.")
    offer = fields.Method(
        "_offer",
        required=True,
        allow_none=True,
        metadata={"description": "The held slot while `status` is `offered`, else null."},
    )

    def _offer(self, entry: Any) -> Any:
        if entry.status != "offered" or entry.hold is None:
            return None
        return OfferSchema().dump(entry.hold)


class WaitlistJoinSchema(Schema):
    type = type_slug(required=True)
    day = fields.Date(
        load_default=None, metadata={"description": "A wanted day (in `tz`); omit for any."}
    )
    tz = Zone(load_default=None, allow_none=True)
    coach_id = object_id(load_default=None, allow_none=True)
    time_of_day = fields.String(
        load_default="any",
        validate=validate.OneOf(list(waitlist.TIMES_OF_DAY)),
        metadata={"description": _TIME_OF_DAY},
    )
    answers = intake_answers()


class WaitlistListSchema(Schema):
    items = fields.List(fields.Nested(WaitlistEntrySchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class SuspensionSchema(Schema):
    id = fields.Integer(required=True)
    learner = fields.Nested(PersonSchema, required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True)
    lifted_at = fields.AwareDateTime(allow_none=True, required=True)


class SuspensionListSchema(Schema):
    items = fields.List(fields.Nested(SuspensionSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class SuspensionArgsSchema(Schema):
    active = QueryBoolean(load_default=True)


class LiftSchema(Schema):
    reason = Text(load_default="", validate=validate.Length(max=1000))


@bp.route("/waitlist", methods=["POST"])
@token_required(bp, "learner")
@bp.arguments(WaitlistJoinSchema)
@bp.response(201, WaitlistEntrySchema)
@_problem(403, "`booking_suspended`: booking is paused for the learner.")
@_problem(
    409,
    "`slots_available`: there are free slots, book one; `booking_limit_reached`: already two "
    "upcoming sessions of this type.",
)
@_problem(
    422,
    "`validation_error`: unknown type or coach, bad zone, a day outside the horizon, or a day "
    "and time of day no coach works; `answers` missing a required question or not fitting one.",
)
def join_waitlist(body: dict[str, Any]) -> Any:
    """Wait for a slot of a type: on one day, or any time within the horizon; at any time of day,
    or in the morning, afternoon or evening. Offers honour both."""
    learner_id = current_user().id
    with writing():
        entry = waitlist.join(
            learner_id,
            waitlist.WaitlistRequest(
                type=body["type"],
                day=body["day"],
                tz=body["tz"],
                coach_id=body["coach_id"],
                time_of_day=body["time_of_day"],
                answers=body["answers"] or None,
            ),
        )
    return entry


@bp.route("/waitlist")
@token_required(bp, "learner", "staff")
@bp.response(200, WaitlistListSchema)
def list_waitlist() -> Any:
    """Learner: own entries (with any held offer); staff: everyone's. Newest first."""
    return {"items": waitlist.list_entries(current_user()), "next_cursor": None}


@bp.route("/waitlist/<int:entry_id>", methods=["DELETE"])
@token_required(bp, "learner")
@bp.response(204)
@_problem(404, "`not_found`: no such entry, or not yours.")
def leave_waitlist(entry_id: int) -> None:
    """Stop waiting (a held offer passes to the next in line)."""
    learner_id = current_user().id
    with writing():
        waitlist.leave(entry_id, learner_id)


@bp.route("/waitlist/<int:entry_id>/accept", methods=["POST"])
@token_required(bp, "learner")
@bp.response(201, BookingSchema)
@_problem(404, "`not_found`: no such entry, or not yours.")
@_problem(409, "`offer_expired`: the offer lapsed or passed on.")
def accept_offer(entry_id: int) -> Any:
    """Take the held slot: it becomes a confirmed booking."""
    learner_id = current_user().id
    with writing():
        held = waitlist.accept(entry_id, learner_id)
    return held


@bp.route("/waitlist/<int:entry_id>/decline", methods=["POST"])
@token_required(bp, "learner")
@bp.response(200, WaitlistEntrySchema)
@_problem(404, "`not_found`: no such entry, or not yours.")
@_problem(409, "`offer_expired`: there is no open offer.")
def decline_offer(entry_id: int) -> Any:
    """Turn the offer down; it passes to the next in line at once."""
    learner_id = current_user().id
    with writing():
        entry = waitlist.decline(entry_id, learner_id)
    return entry


@bp.route("/suspensions")
@token_required(bp, "staff")
@bp.arguments(SuspensionArgsSchema, location="query")
@bp.response(200, SuspensionListSchema)
def list_suspensions(args: dict[str, Any]) -> Any:
    """Learners whose booking is paused after missed sessions (`active=false`: all, ever)."""
    return {
        "items": booking_service.list_suspensions(active_only=args["active"]),
        "next_cursor": None,
    }


@bp.route("/suspensions/<int:suspension_id>/lift", methods=["POST"])
@token_required(bp, "staff")
@bp.arguments(LiftSchema, required=False)
@bp.response(200, SuspensionSchema)
@_problem(404, "`not_found`: no such suspension.")
@_problem(409, "`conflict`: already lifted, or already over.")
def lift_suspension(body: dict[str, Any], suspension_id: int) -> Any:
    """Lift a suspension early: the learner can book again at once and is told; audited, like
    the staff page's lift (the same service function)."""
    reason = body["reason"].strip() or "Lifted early by staff."
    with writing():
        suspension = admin.lift_suspension(current_user(), suspension_id, reason)
    return suspension
