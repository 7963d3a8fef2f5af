"""The notification centre: the caller's in-app notifications and their email preferences."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from services import notifications
from services.errors import ValidationFailed
from web.api.blueprint import Blueprint
from web.api.pagination import PageArgsSchema
from web.api.schemas import JsonBoolean, NamedKeys, QueryBoolean, page_schema
from web.api.security import current_user, token_required
from web.problems import problem_doc
from web.transactions import writing

bp = Blueprint(
    "api_notifications",
    __name__,
    url_prefix="/api/v1",
    description="In-app notifications (newest first) and per-kind email preferences.",
)
_problem = problem_doc(bp)


class NotificationSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(
        required=True, metadata={"description": "e.g. booking_confirmed, resume_reviewed."}
    )
    title = fields.String(required=True)
    body = fields.String(required=True)
    link = fields.String(
        required=True, allow_none=True, metadata={"description": "Where to see the details."}
    )
    created_at = fields.AwareDateTime(required=True)
    read_at = fields.AwareDateTime(required=True, allow_none=True)


class NotificationListArgsSchema(PageArgsSchema):
    unread = QueryBoolean(
        load_default=False, metadata={"description": "Only notifications not yet read."}
    )


class ReadAllSchema(Schema):
    marked = fields.Integer(
        required=True, metadata={"description": "How many were unread until now."}
    )
    unread = fields.Integer(required=True)


class UnreadCountSchema(Schema):
    unread = fields.Integer(required=True)


class KindSchema(Schema):
    kind = fields.String(required=True)
    label = fields.String(required=True)
    description = fields.String(required=True)
    email = fields.Boolean(required=True)


def _choosable() -> list[str]:
    """Every kind some role may choose email for."""
    return [k.name for k in notifications.kinds() if k.configurable]


class PreferencesSchema(Schema):
    email = NamedKeys(
        _choosable,
        values=fields.Boolean(),
        required=True,
        metadata={
            "description": "Email on or off per kind the caller may choose (`kinds`). In-app "
            "notifications are always on."
        },
    )
    kinds = fields.List(fields.Nested(KindSchema), required=True)


class PreferencesUpdateSchema(Schema):
    email = NamedKeys(
        _choosable,
        values=JsonBoolean(required=True),
        required=True,
        metadata={
            "description": "Kinds to change; kinds not named keep their setting. Only the kinds "
            "of the caller's role (`kinds` of GET) may be named; another is 422."
        },
    )


_NOT_FOUND = "`not_found`: no such notification of yours."


def _preferences() -> dict[str, Any]:
    user = current_user()
    email = notifications.email_preferences(user)
    return {
        "email": email,
        "kinds": [
            {"kind": k.name, "label": k.label, "description": k.description, "email": email[k.name]}
            for k in notifications.kinds_for(user.role)
        ],
    }


@bp.route("/notifications")
@token_required(bp)
@bp.arguments(NotificationListArgsSchema, location="query")
@bp.response(200, page_schema(NotificationSchema))
@_problem(
    422,
    "`validation_error`: a bad limit, cursor or unread flag.",
)
def list_notifications(args: dict[str, Any]) -> Any:
    """The caller's own in-app notifications, newest first; `?unread=true` for unread only."""
    page = notifications.list_notifications(
        current_user().id, unread=args["unread"], limit=args["limit"], cursor=args["cursor"]
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@bp.route("/notifications/unread-count")
@token_required(bp)
@bp.response(200, UnreadCountSchema)
def unread_count() -> Any:
    """How many of the caller's notifications are unread (the badge)."""
    return {"unread": notifications.unread_count(current_user().id)}


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@token_required(bp)
@bp.response(200, NotificationSchema)
@_problem(404, _NOT_FOUND)
def mark_read(notification_id: int) -> Any:
    """Mark one of the caller's notifications read; marking it again changes nothing."""
    with writing():
        notification = notifications.mark_read(current_user().id, notification_id)
    return notification


@bp.route("/notifications/read-all", methods=["POST"])
@token_required(bp)
@bp.response(200, ReadAllSchema)
def mark_all_read() -> Any:
    """Mark every unread notification of the caller read."""
    with writing():
        marked = notifications.mark_all_read(current_user().id)
    return {"marked": marked, "unread": 0}


@bp.route("/notifications/preferences")
@token_required(bp)
@bp.response(200, PreferencesSchema)
def get_preferences() -> Any:
    """Email on or off for each kind the caller's role may get; in-app is always on."""
    return _preferences()


@bp.route("/notifications/preferences", methods=["PUT"])
@token_required(bp)
@bp.arguments(PreferencesUpdateSchema)
@bp.response(200, PreferencesSchema)
@_problem(
    422,
    "`validation_error`: a kind the caller cannot choose email for.",
)
def put_preferences(body: dict[str, Any]) -> Any:
    """Turn email on or off per kind."""
    try:
        with writing():
            notifications.set_email_preferences(current_user(), body["email"])
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.detail, {f"email.{name}": messages for name, messages in exc.errors.items()}
        ) from exc
    return _preferences()
