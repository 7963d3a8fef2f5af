from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select

from services import interview_types
from services.db import db
from services.models import Role, User
from web.api.schemas import CoachSchema, InterviewTypeSchema, page_schema
from web.api.security import token_required

bp = Blueprint("api_catalog", __name__, url_prefix="/api/v1", description="What can be booked.")


@bp.route("/interview-types")
@token_required(bp)
@bp.response(200, page_schema(InterviewTypeSchema))
def list_interview_types() -> Any:
    """The kinds of mock interview that can be booked."""
    return {"items": interview_types.list_active(), "next_cursor": None}


@bp.route("/coaches")
@token_required(bp)
@bp.response(200, page_schema(CoachSchema))
def list_coaches() -> Any:
    """Active coaches and their expertise."""
    coaches = db.session.scalars(
        select(User).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.name)
    ).all()
    return {"items": coaches, "next_cursor": None}
