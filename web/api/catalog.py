from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.booking import availability, intake, interview_types
from services.db import db
from services.models import Role, User
from web.api.blueprint import Blueprint
from web.api.schemas import (
    CoachSchema,
    CoachTypesChangeSchema,
    CoachTypesSchema,
    InterviewTypeSchema,
    page_schema,
)
from web.api.security import current_user, token_required
from web.problems import problem_doc
from web.transactions import writing

bp = Blueprint("api_catalog", __name__, url_prefix="/api/v1", description="What can be booked.")
_problem = problem_doc(bp)


@bp.route("/interview-types")
@token_required(bp)
@bp.response(200, page_schema(InterviewTypeSchema))
def list_interview_types() -> Any:
    """The kinds of mock interview that can be booked, each with the active coaches who run it."""
    types = interview_types.list_active()
    coach_ids = interview_types.coach_ids_by_type(types)
    questions = intake.questions_by_type(types)
    items = [
        {
            "slug": t.slug,
            "name": t.name,
            "duration_minutes": t.duration_minutes,
            "description": t.description,
            "coach_ids": coach_ids[t.id],
            "questions": [intake.as_dict(q) for q in questions[t.id]],
        }
        for t in types
    ]
    return {"items": items, "next_cursor": None}


@bp.route("/coaches")
@token_required(bp)
@bp.response(200, page_schema(CoachSchema))
def list_coaches() -> Any:
    """Active coaches, their expertise, the interview types each runs, and whether they have hours
    (a coach without any offers no slots)."""
    coaches = db.session.scalars(
        select(User).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.name)
    ).all()
    slugs = interview_types.slugs_by_coach([c.id for c in coaches])
    with_hours = {c.id for c in availability.with_hours(coaches)}
    items = [
        {
            "id": c.id,
            "name": c.name,
            "expertise": list(c.expertise or []),
            "interview_types": slugs[c.id],
            "has_hours": c.id in with_hours,
        }
        for c in coaches
    ]
    return {"items": items, "next_cursor": None}


@bp.route("/coaches/<int:coach_id>/interview-types")
@token_required(bp)
@bp.response(200, CoachTypesSchema)
@_problem(404, "`not_found`: no such active coach (staff: no such coach).")
def get_coach_types(coach_id: int) -> Any:
    """Which interview types a coach runs: every active type, or the set staff chose."""
    return interview_types.coach_types(coach_id, active_only=current_user().role != Role.STAFF)


@bp.route("/coaches/<int:coach_id>/interview-types", methods=["PUT"])
@token_required(bp, "staff")
@bp.arguments(CoachTypesChangeSchema)
@bp.response(200, CoachTypesSchema)
@_problem(404, "`not_found`: no such coach.")
@_problem(
    422,
    "`validation_error`: an unknown or inactive type, or neither (or both) of "
    "`runs_all_types: true` and `interview_types`.",
)
def put_coach_types(body: dict[str, Any], coach_id: int) -> Any:
    """Staff choose the types a coach runs (sessions already booked stay). Audited, with the
    reason given, like the change on the coach's staff page."""
    slugs = None if body.get("runs_all_types") else body["interview_types"]
    with writing():
        result = interview_types.change_coach_types(
            current_user(), coach_id, slugs, body.get("reason") or ""
        )
    return result
