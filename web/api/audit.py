"""Staff: the audit log (every staff action and every routing decision, with its reason)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services import audit
from web.api.blueprint import Blueprint
from web.api.pagination import PageArgsSchema, cursor_field
from web.api.schemas import Text, page_schema, query_id
from web.api.security import token_required

bp = Blueprint(
    "api_audit",
    __name__,
    url_prefix="/api/v1",
    description="Staff: the append-only audit log, newest first.",
)


class AuditArgsSchema(PageArgsSchema):
    cursor = cursor_field(audit.CURSOR_PATTERN)
    source = fields.String(
        load_default=None,
        validate=validate.OneOf(audit.SOURCES),
        metadata={"description": "`staff` (actions) or `routing` (decisions); default both."},
    )
    action = Text(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "e.g. resume.assign, coach.deactivate, offered, unassigned."},
    )
    actor_id = query_id(load_default=None)
    subject_type = Text(
        load_default=None,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "e.g. resume, coach, booking, faq, rebalance, export."},
    )
    subject_id = query_id(load_default=None)
    since = fields.AwareDateTime(load_default=None, metadata={"description": "From (inclusive)."})
    until = fields.AwareDateTime(load_default=None, metadata={"description": "Before (exclusive)."})
    q = Text(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "Text in the reason."},
    )

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("`until` must be after `since`.", "until")


class AuditActorSchema(Schema):
    id = fields.Integer(required=True, allow_none=True)
    name = fields.String(required=True)


class AuditEntrySchema(Schema):
    source = fields.String(required=True, validate=validate.OneOf(audit.SOURCES))
    id = fields.Integer(required=True, metadata={"description": "Unique within its source."})
    at = fields.AwareDateTime(required=True)
    actor = fields.Nested(
        AuditActorSchema,
        required=True,
        metadata={"description": "Who acted; a null id: the routing policy itself."},
    )
    action = fields.String(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.Integer(required=True, allow_none=True)
    reason = fields.String(required=True)
    detail = fields.Dict(required=True)


@bp.route("/audit")
@token_required(bp, "staff")
@bp.arguments(AuditArgsSchema, location="query")
@bp.response(200, page_schema(AuditEntrySchema))
def audit_log(args: dict[str, Any]) -> Any:
    """The audit log, newest first: staff actions and routing decisions, never editable."""

    def utc(value: dt.datetime | None) -> dt.datetime | None:
        return value.astimezone(dt.UTC) if value else None

    text = (args["q"] or "").strip()
    page = audit.entries(
        audit.AuditFilter(
            source=args["source"],
            action=args["action"],
            actor_id=args["actor_id"],
            subject_type=args["subject_type"],
            subject_id=args["subject_id"],
            since=utc(args["since"]),
            until=utc(args["until"]),
            text=text or None,
        ),
        limit=args["limit"],
        cursor=args["cursor"],
    )
    return {
        "items": [
            {
                "source": e.source,
                "id": e.id,
                "at": e.at,
                "actor": {"id": e.actor_id, "name": e.actor_name},
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "reason": e.reason,
                "detail": e.detail,
            }
            for e in page.items
        ],
        "next_cursor": page.next_cursor,
    }
