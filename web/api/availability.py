"""Coaches' availability, their private calendar feed, and interview-type settings."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, abort, make_response
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from services import booking as booking_service
from services import outbox
from services.booking import availability, busy, interview_types
from services.resumes import routing
from web.api.blueprint import Blueprint
from web.api.schemas import JsonBoolean, JsonInteger, Text, Zone
from web.api.security import current_user, token_required
from web.problems import problem_doc
from web.transactions import writing

bp = Blueprint(
    "api_availability",
    __name__,
    url_prefix="/api/v1",
    description="Coach availability (weekly rules and dated exceptions), calendar feeds, and "
    "interview-type settings.",
)


_problem = problem_doc(bp)


CLOCK_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]"


class ClockTime(fields.Field):
    """``HH:MM`` on a 24-hour clock."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        import datetime as dt

        if not isinstance(value, str) or not re.fullmatch(CLOCK_TIME, value):
            raise ValidationError("Use HH:MM, e.g. 09:30.")
        return dt.time(int(value[:2]), int(value[3:]))


class RuleSchema(Schema):
    weekday = JsonInteger(
        required=True,
        validate=validate.Range(min=0, max=6),
        metadata={"description": "0 = Monday ... 6 = Sunday."},
    )
    start = ClockTime(
        required=True,
        attribute="start_time",
        data_key="start",
        metadata={"type": "string", "pattern": f"^{CLOCK_TIME}$", "example": "09:00"},
    )
    end = ClockTime(
        required=True,
        attribute="end_time",
        data_key="end",
        metadata={"type": "string", "pattern": f"^{CLOCK_TIME}$", "example": "17:00"},
    )


class ExceptionSchema(Schema):
    id = fields.Integer(dump_only=True)
    start = fields.AwareDateTime(required=True, attribute="start_at", data_key="start")
    end = fields.AwareDateTime(required=True, attribute="end_at", data_key="end")
    available = JsonBoolean(
        load_default=False,
        metadata={"description": "false: time off; true: extra hours outside the weekly rules."},
    )
    reason = Text(load_default="", validate=validate.Length(max=500))


class AvailabilitySchema(Schema):
    timezone = fields.String(
        required=True, metadata={"description": "IANA zone of the weekly rules (the coach's)."}
    )
    rules = fields.List(
        fields.Nested(RuleSchema),
        required=True,
        validate=validate.Length(max=70),
        metadata={"description": "Weekly windows in `timezone`. `weekly` is accepted as an alias."},
    )
    exceptions = fields.List(
        fields.Nested(ExceptionSchema), load_default=list, validate=validate.Length(max=500)
    )
    daily_session_cap = JsonInteger(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=availability.MAX_DAILY_CAP),
        metadata={"description": "Most sessions a day (null: the default)."},
    )

    @pre_load
    def _aliases(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "rules" not in data and "weekly" in data:
            data = {**data, "rules": data["weekly"]}
            data.pop("weekly")
        return data


class AvailabilityInputSchema(AvailabilitySchema):
    """What a coach sends: the zone is one a person may pick now (an answer may show an older
    name the coach was given before)."""

    timezone = Zone(
        required=True,
        metadata={
            "description": "IANA zone of the weekly rules: a place's zone, or the coach's current "
            "one."
        },
    )


class FeedSchema(Schema):
    url = fields.String(
        required=True,
        metadata={
            "description": "Subscribe to it in a calendar app. The API returns it only here; "
            "the coach's availability page shows it again after sign-in."
        },
    )
    created_at = fields.AwareDateTime(required=True)


def _setting(name: str, description: str = "") -> JsonInteger:
    """A whole-number setting of an interview type, in the range the type accepts."""
    low, high = interview_types.LIMITS[name]
    return JsonInteger(
        validate=validate.Range(
            min=low, max=high, error=f"Use a whole number from {low} to {high}."
        ),
        metadata={"description": description} if description else {},
    )


class TypeSettingsSchema(Schema):
    slug = fields.String(dump_only=True)
    name = Text(validate=validate.Length(min=1, max=120))
    description = Text(validate=validate.Length(max=2000))
    duration_minutes = _setting("duration_minutes")
    buffer_before_minutes = _setting("buffer_before_minutes")
    buffer_after_minutes = _setting("buffer_after_minutes")
    min_notice_hours = _setting(
        "min_notice_hours", "Shorter than the horizon (`horizon_days` x 24)."
    )
    horizon_days = _setting("horizon_days")
    cancel_cutoff_hours = _setting("cancel_cutoff_hours")
    expertise = Text(
        validate=validate.Length(max=200),
        metadata={
            "description": "Comma-separated tags that may rank coaches for this type; which "
            "coaches run it is set per coach (`/api/v1/coaches/<id>/interview-types`)."
        },
    )
    active = JsonBoolean()
    warnings = fields.Method(
        "_warnings",
        dump_only=True,
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "description": "What the settings lead to that may surprise, e.g. a minimum notice "
            "shorter than the cancellation cutoff (a session booked inside the cutoff cannot be "
            "moved or cancelled online). Allowed, and said here; empty when there is nothing.",
        },
    )

    def _warnings(self, itype: Any) -> list[str]:
        warning = interview_types.late_booking_warning(
            itype.min_notice_hours, itype.cancel_cutoff_hours
        )
        return [warning] if warning else []


def _to_input(body: dict[str, Any]) -> availability.AvailabilityInput:
    return availability.AvailabilityInput(
        timezone=body["timezone"],
        rules=tuple(
            availability.RuleInput(r["weekday"], r["start_time"], r["end_time"])
            for r in body["rules"]
        ),
        exceptions=tuple(
            availability.ExceptionInput(e["start_at"], e["end_at"], e["available"], e["reason"])
            for e in body["exceptions"]
        ),
        daily_session_cap=body["daily_session_cap"],
    )


@bp.route("/coaches/me/availability")
@token_required(bp, "coach")
@bp.response(200, AvailabilitySchema)
def get_availability() -> Any:
    """The caller's weekly rules (in their time zone), dated exceptions and daily cap."""
    return availability.get_availability(current_user().id)


@bp.route("/coaches/me/availability", methods=["PUT"])
@token_required(bp, "coach")
@bp.arguments(AvailabilityInputSchema)
@bp.response(200, AvailabilitySchema)
@_problem(422, "`validation_error`: bad times, overlapping windows, an unknown time zone.")
def put_availability(body: dict[str, Any]) -> Any:
    """Replace the caller's availability. Booked sessions keep their times; freed time is offered
    to the waitlist."""
    coach_id = current_user().id
    data = _to_input(body)
    with writing():
        availability.replace_availability(coach_id, data)
        outbox.enqueue_after_commit("bookings.match_waitlist")
        # A coach on their own clock: their review deadlines count these hours.
        routing.coach_hours_changed(current_user())
    return availability.get_availability(coach_id)


@bp.route("/coaches/me/calendar-feed", methods=["POST"])
@token_required(bp, "coach")
@bp.response(201, FeedSchema)
def create_feed() -> Any:
    """A private iCalendar feed of the caller's sessions; a new one revokes the old URL."""
    coach_id = current_user().id
    with writing():
        secret = booking_service.create_feed(coach_id)
    return {
        "url": booking_service.feed_url(secret),
        "created_at": booking_service.feed_created_at(coach_id),
    }


@bp.route("/coaches/me/calendar-feed", methods=["DELETE"])
@token_required(bp, "coach")
@bp.response(204)
def revoke_feed() -> None:
    """Revoke the caller's feed URL: it stops working at once."""
    coach_id = current_user().id
    with writing():
        booking_service.revoke_feed(coach_id)


class OwnCalendarSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    address = fields.String(
        required=True,
        metadata={"description": "The address without what grants access (only its host)."},
    )
    all_day_blocks = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)
    last_success_at = fields.AwareDateTime(required=True, allow_none=True)
    next_fetch_at = fields.AwareDateTime(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    stale = fields.Boolean(
        required=True, metadata={"description": "Not read successfully for a while."}
    )


class OwnCalendarsSchema(Schema):
    calendars = fields.List(fields.Nested(OwnCalendarSchema), required=True)


class OwnCalendarInputSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=80))
    url = Text(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "The calendar's iCalendar address: http(s):// or webcal://."},
    )
    all_day_blocks = JsonBoolean(load_default=False)


def _own(feed: Any) -> dict[str, Any]:
    return {
        "id": feed.id,
        "name": feed.name,
        "address": busy.display_url(feed.url),
        "all_day_blocks": feed.all_day_blocks,
        "created_at": feed.created_at,
        "last_success_at": feed.last_success_at,
        "next_fetch_at": feed.next_fetch_at,
        "error": feed.error,
        "stale": busy.is_stale(feed),
    }


@bp.route("/coaches/me/calendars")
@token_required(bp, "coach")
@bp.response(200, OwnCalendarsSchema)
def list_own_calendars() -> Any:
    """The caller's own calendars, whose busy times block their slots."""
    return {"calendars": [_own(f) for f in busy.list_feeds(current_user().id)]}


@bp.route("/coaches/me/calendars", methods=["POST"])
@token_required(bp, "coach")
@bp.arguments(OwnCalendarInputSchema)
@bp.response(201, OwnCalendarSchema)
@_problem(422, "`validation_error`: not an http(s) address, a name taken, five calendars already.")
def add_own_calendar(body: dict[str, Any]) -> Any:
    """Add a calendar by its address; a beat job reads it within minutes, and again every few."""
    with writing():
        feed = busy.add_feed(
            current_user().id, body["name"], body["url"], all_day_blocks=body["all_day_blocks"]
        )
    return _own(feed)


@bp.route("/coaches/me/calendars/<int:feed_id>", methods=["DELETE"])
@token_required(bp, "coach")
@bp.response(204)
@_problem(404, "`not_found`: no such calendar of the caller's.")
def remove_own_calendar(feed_id: int) -> None:
    """Remove a calendar: its busy times stop blocking at once."""
    with writing():
        busy.remove_feed(current_user().id, feed_id)


@bp.route("/calendar-feeds/<string:token>.ics")
@bp.doc(
    responses={
        "200": {
            "description": "The coach's sessions (RFC 5545).",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        }
    }
)
@_problem(404, "`not_found`: unknown or revoked feed.")
def calendar_feed(token: str) -> Response:
    """A coach's private session feed: the secret in the URL is the only credential."""
    body = booking_service.feed_ics(token)
    if body is None:
        abort(404)
    response = make_response(body)
    response.mimetype = "text/calendar"
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/interview-types/<string:slug>")
@token_required(bp)
@bp.response(200, TypeSettingsSchema)
@_problem(404, "`not_found`: no such type.")
def get_type_settings(slug: str) -> Any:
    """A type's settings: duration, buffers, minimum notice, horizon, cancellation cutoff."""
    return interview_types.get(slug)


@bp.route("/interview-types/<string:slug>", methods=["PATCH"])
@token_required(bp, "staff")
@bp.arguments(TypeSettingsSchema)
@bp.response(200, TypeSettingsSchema)
@_problem(404, "`not_found`: no such type.")
@_problem(422, "`validation_error`: a value out of range, or notice not shorter than horizon.")
def patch_type_settings(body: dict[str, Any], slug: str) -> Any:
    """Staff change a type's settings; booked sessions keep their times. Audited, like the
    staff page's change (the same service function)."""
    with writing():
        itype = interview_types.update(current_user(), slug, body)
    return itype
