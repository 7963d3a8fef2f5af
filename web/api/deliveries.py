"""Email deliveries for staff: find the failed ones and send them again, once."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from services import notifications
from services.models import DeliveryStatus
from web.api.blueprint import Blueprint
from web.api.pagination import PageArgsSchema
from web.api.schemas import PersonSchema, page_schema
from web.api.security import current_user, token_required
from web.problems import problem_doc
from web.transactions import writing

bp = Blueprint(
    "api_deliveries",
    __name__,
    url_prefix="/api/v1",
    description="Email deliveries (staff): each email of each notification, its attempts and "
    "errors; failed ones can be sent again.",
)
_problem = problem_doc(bp)


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf([s.value for s in DeliveryStatus])
    )
    kind = fields.String(required=True)
    to = fields.String(required=True, attribute="to_address")
    subject = fields.String(required=True)
    recipient = fields.Nested(PersonSchema, required=True, allow_none=True, attribute="user")
    attempts = fields.Integer(required=True)
    last_error = fields.String(required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    next_attempt_at = fields.AwareDateTime(
        required=True, metadata={"description": "Pending: the earliest time of the next try."}
    )
    sent_at = fields.AwareDateTime(required=True, allow_none=True)
    failed_at = fields.AwareDateTime(required=True, allow_none=True)
    retried_at = fields.AwareDateTime(required=True, allow_none=True)
    retried_by = fields.Nested(PersonSchema, required=True, allow_none=True)


class DeliveryListArgsSchema(PageArgsSchema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf([s.value for s in DeliveryStatus]),
        metadata={"description": "pending, sending, sent or failed."},
    )


_NOT_FOUND = "`not_found`: no such delivery."


@bp.route("/deliveries")
@token_required(bp, "staff")
@bp.arguments(DeliveryListArgsSchema, location="query")
@bp.response(200, page_schema(DeliverySchema))
@_problem(
    422,
    "`validation_error`: a bad status, limit or cursor.",
)
def list_deliveries(args: dict[str, Any]) -> Any:
    """Email deliveries, newest first; `?status=failed` for those that need staff."""
    page = notifications.list_deliveries(
        current_user(), status=args["status"], limit=args["limit"], cursor=args["cursor"]
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@bp.route("/deliveries/<int:delivery_id>")
@token_required(bp, "staff")
@bp.response(200, DeliverySchema)
@_problem(404, _NOT_FOUND)
def get_delivery(delivery_id: int) -> Any:
    """One delivery."""
    return notifications.get_delivery(current_user(), delivery_id)


@bp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@token_required(bp, "staff")
@bp.response(200, DeliverySchema)
@_problem(404, _NOT_FOUND)
@_problem(
    409,
    "`delivery_not_failed`: only a failed delivery can be sent again.",
)
def retry_delivery(delivery_id: int) -> Any:
    """Send a failed delivery again: it goes back to pending and is sent once."""
    with writing():
        delivery = notifications.retry_delivery(current_user(), delivery_id)
    return delivery
