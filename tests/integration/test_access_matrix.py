"""The access-control matrix: every route (pages and API) × six callers, each cell's answer.

The API's rule: a resource the caller may not see answers 404 (never 403); an action the
caller's role may never take answers 403; no credentials answers 401 on the API and a redirect to
/sign-in on pages.
"ok" means access control let the request through (any answer below 500 that is not 401, 403 or 404
nor a redirect to sign-in: a 409 or 422 about the body still got past the gate).

A route without a row, or a row without a route, fails the test: add the row when you add a route.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from typing import Any

from tests.support_access import (
    CALLERS,
    OK,
    SIGNIN,
    Sandbox,
    build_world,
    classify,
    has_int_id,
    is_api,
    route_keys,
    send,
    with_missing_ids,
)
from tests.support_booking import at

DUMP = bool(os.environ.get("ACCESS_MATRIX_DUMP"))  # print every cell (with pytest -s)

# Callers, in column order: anon, learner A (the owner), learner B, coach 1 (A's coach, the
# résumé's reviewer), coach 2, staff.  One tuple per row; the named rows keep the table readable.
Row = tuple[str, str, str, str, str, str]

# --- API rows (no credentials: 401) ---
API_PUBLIC: Row = (OK, OK, OK, OK, OK, OK)
API_SIGNED_IN: Row = ("401", OK, OK, OK, OK, OK)
API_LEARNER_ONLY: Row = ("401", OK, OK, "403", "403", "403")
API_COACH_ONLY: Row = ("401", "403", "403", OK, OK, "403")
API_STAFF_ONLY: Row = ("401", "403", "403", "403", "403", OK)
API_LEARNER_STAFF: Row = ("401", OK, OK, "403", "403", OK)
API_OWNER_COACH_STAFF: Row = ("401", OK, "404", OK, "404", OK)
API_OWNER_STAFF: Row = ("401", OK, "404", "403", "403", OK)  # coaches may never (reschedule)
API_OWNER_LEARNER: Row = ("401", OK, "404", "403", "403", "403")
API_OWNER_ONLY: Row = ("401", OK, "404", "404", "404", "404")  # every role has its own
API_ITS_COACH_STAFF: Row = ("401", "403", "403", OK, "404", OK)
API_ASSIGNED_COACH: Row = ("401", "403", "403", OK, "404", "403")
API_OWNER_COACH: Row = ("401", OK, "404", OK, "404", "403")  # its two people; staff only read

# --- page rows (no session: redirect to /sign-in) ---
PUBLIC: Row = (OK, OK, OK, OK, OK, OK)
ANY_SIGNED_IN: Row = (SIGNIN, OK, OK, OK, OK, OK)
LEARNER_ONLY: Row = (SIGNIN, OK, OK, "403", "403", "403")
COACH_ONLY: Row = (SIGNIN, "403", "403", OK, OK, "403")
STAFF_ONLY: Row = (SIGNIN, "403", "403", "403", "403", OK)
OWNER_LEARNER: Row = (SIGNIN, OK, "404", "403", "403", "403")
OWNER_COACH: Row = (SIGNIN, "403", "403", OK, "404", "403")  # the coach's own (session, résumé)
OWNER_ONLY: Row = (SIGNIN, OK, "404", "404", "404", "404")  # learner A's own (a notification)
SIGN_IN_STEP: Row = (SIGNIN, SIGNIN, SIGNIN, SIGNIN, SIGNIN, SIGNIN)
NOBODY: Row = ("404", "404", "404", "404", "404", "404")  # unknown capability token

MATRIX: dict[str, Row] = {
    # public site, health, dashboard
    "GET /": PUBLIC,
    "GET /faq": PUBLIC,
    "GET /healthz": PUBLIC,
    # the desk's working hours, coaches' own calendars, and why a time is not bookable
    "GET /staff/desk-hours": STAFF_ONLY,
    "POST /staff/desk-hours": STAFF_ONLY,
    "POST /coach/availability/calendars": COACH_ONLY,
    "POST /coach/availability/calendars/<int:feed_id>/delete": OWNER_COACH,
    "GET /api/v1/desk/hours": API_STAFF_ONLY,
    "PUT /api/v1/desk/hours": API_STAFF_ONLY,
    "GET /api/v1/coaches/me/calendars": API_COACH_ONLY,
    "POST /api/v1/coaches/me/calendars": API_COACH_ONLY,
    "DELETE /api/v1/coaches/me/calendars/<int:feed_id>": API_ASSIGNED_COACH,
    "GET /api/v1/slots/explain": API_SIGNED_IN,
    "GET /metrics": NOBODY,  # no METRICS_TOKEN set: not there for anyone
    "GET /readyz": PUBLIC,
    "GET /dashboard": ANY_SIGNED_IN,
    # accounts
    "GET /sign-in": PUBLIC,
    "POST /sign-in": PUBLIC,
    "GET /sign-up": PUBLIC,
    "POST /sign-up": PUBLIC,
    "GET /forgot-password": PUBLIC,
    "POST /forgot-password": PUBLIC,
    "GET /reset-password/<token>": NOBODY,  # an unknown or spent link
    "POST /reset-password/<token>": NOBODY,
    # the second step of a sign-in: without a pending password step it goes back to the first
    "GET /sign-in/two-factor": SIGN_IN_STEP,
    "POST /sign-in/two-factor": SIGN_IN_STEP,
    "POST /sign-out": ANY_SIGNED_IN,
    "GET /account": ANY_SIGNED_IN,
    "POST /account": ANY_SIGNED_IN,
    "GET /account/security": ANY_SIGNED_IN,
    "POST /account/password": ANY_SIGNED_IN,
    "POST /account/sign-out-everywhere": ANY_SIGNED_IN,
    "GET /account/two-factor/setup": ANY_SIGNED_IN,
    "POST /account/two-factor/setup": ANY_SIGNED_IN,
    "POST /account/two-factor/disable": ANY_SIGNED_IN,
    "POST /account/two-factor/recovery-codes": ANY_SIGNED_IN,
    # notifications (pages)
    "GET /notifications": ANY_SIGNED_IN,
    # opening one marks it read and goes where it points; someone else's is not found
    "GET /notifications/<int:notification_id>": OWNER_ONLY,
    # not yours and missing look the same here: a flash "There is no such notification" and back
    # to the list, nothing changed (tests/integration/test_notifications_web.py checks the row)
    "POST /notifications/<int:notification_id>/read": ANY_SIGNED_IN,
    "POST /notifications/read-all": ANY_SIGNED_IN,
    "GET /notifications/preferences": ANY_SIGNED_IN,
    "POST /notifications/preferences": ANY_SIGNED_IN,
    # learner pages: bookings and waitlist
    "GET /learn/bookings": LEARNER_ONLY,
    "GET /learn/bookings/new": LEARNER_ONLY,
    "GET /learn/bookings/new/confirm": LEARNER_ONLY,
    "POST /learn/bookings/new/confirm": LEARNER_ONLY,
    "GET /learn/bookings/<int:booking_id>": OWNER_LEARNER,
    "GET /learn/bookings/<int:booking_id>/calendar.ics": OWNER_LEARNER,
    "GET /learn/bookings/<int:booking_id>/cancel": OWNER_LEARNER,
    "POST /learn/bookings/<int:booking_id>/cancel": OWNER_LEARNER,
    "GET /learn/bookings/<int:booking_id>/reschedule": OWNER_LEARNER,
    "GET /learn/bookings/<int:booking_id>/reschedule/confirm": OWNER_LEARNER,
    "POST /learn/bookings/<int:booking_id>/reschedule/confirm": OWNER_LEARNER,
    "GET /learn/bookings/<int:booking_id>/contact": OWNER_LEARNER,
    "POST /learn/bookings/<int:booking_id>/contact": OWNER_LEARNER,
    "POST /learn/bookings/<int:booking_id>/proposal/accept": OWNER_LEARNER,
    "POST /learn/bookings/<int:booking_id>/proposal/decline": OWNER_LEARNER,
    "GET /learn/bookings/waitlist": LEARNER_ONLY,
    "POST /learn/bookings/waitlist": LEARNER_ONLY,
    "POST /learn/bookings/waitlist/<int:entry_id>/accept": OWNER_LEARNER,
    "POST /learn/bookings/waitlist/<int:entry_id>/decline": OWNER_LEARNER,
    "POST /learn/bookings/waitlist/<int:entry_id>/leave": OWNER_LEARNER,
    # learner pages: résumés
    "GET /learn/resumes": LEARNER_ONLY,
    "GET /learn/resumes/new": LEARNER_ONLY,
    "POST /learn/resumes/new": LEARNER_ONLY,
    "GET /learn/resumes/<int:resume_id>": OWNER_LEARNER,
    "GET /learn/resumes/<int:resume_id>/file": OWNER_LEARNER,
    "GET /learn/resumes/<int:resume_id>/versions/<int:number>/annotated.pdf": OWNER_LEARNER,
    (
        "POST /learn/resumes/<int:resume_id>/versions/<int:number>/annotations"
        "/<int:annotation_id>/reply"
    ): (OWNER_LEARNER),
    (
        "POST /learn/resumes/<int:resume_id>/versions/<int:number>/annotations"
        "/<int:annotation_id>/resolve"
    ): (OWNER_LEARNER),
    "POST /learn/resumes/<int:resume_id>/versions": OWNER_LEARNER,
    "POST /learn/resumes/<int:resume_id>/cancel": OWNER_LEARNER,
    # coach pages
    "GET /coach/sessions": COACH_ONLY,
    "GET /coach/sessions/<int:booking_id>": OWNER_COACH,
    "GET /coach/sessions/<int:booking_id>/cancel": OWNER_COACH,
    "POST /coach/sessions/<int:booking_id>/cancel": OWNER_COACH,
    "GET /coach/sessions/<int:booking_id>/propose": OWNER_COACH,
    "GET /coach/sessions/<int:booking_id>/propose/confirm": OWNER_COACH,
    "POST /coach/sessions/<int:booking_id>/propose/confirm": OWNER_COACH,
    "POST /coach/sessions/<int:booking_id>/proposal/withdraw": OWNER_COACH,
    "POST /coach/sessions/<int:booking_id>/feedback": OWNER_COACH,
    "POST /coach/sessions/<int:booking_id>/outcome": OWNER_COACH,
    "GET /coach/availability": COACH_ONLY,
    "POST /coach/availability/weekly": COACH_ONLY,
    "POST /coach/availability/exceptions": COACH_ONLY,
    "POST /coach/availability/exceptions/<int:exception_id>/delete": OWNER_COACH,
    "POST /coach/availability/feed": COACH_ONLY,
    "POST /coach/availability/feed/revoke": COACH_ONLY,
    "GET /coach/reviews": COACH_ONLY,
    "GET /coach/reviews/<int:resume_id>": OWNER_COACH,
    "GET /coach/reviews/<int:resume_id>/file": OWNER_COACH,
    "POST /coach/reviews/<int:resume_id>/accept": OWNER_COACH,
    "POST /coach/reviews/<int:resume_id>/decline": OWNER_COACH,
    "POST /coach/reviews/<int:resume_id>/annotations": OWNER_COACH,
    "POST /coach/reviews/<int:resume_id>/annotations/<int:annotation_id>/carry": OWNER_COACH,
    "POST /coach/reviews/<int:resume_id>/annotations/<int:annotation_id>/close": OWNER_COACH,
    # Only a draft is deleted: the world's comment is published, so its coach meets a 404 too.
    "POST /coach/reviews/<int:resume_id>/annotations/<int:annotation_id>/delete": (
        SIGNIN,
        "403",
        "403",
        "404",
        "404",
        "403",
    ),
    (
        "POST /coach/reviews/<int:resume_id>/versions/<int:number>/annotations"
        "/<int:annotation_id>/reply"
    ): (OWNER_COACH),
    (
        "POST /coach/reviews/<int:resume_id>/versions/<int:number>/annotations"
        "/<int:annotation_id>/resolve"
    ): (OWNER_COACH),
    "POST /coach/reviews/<int:resume_id>/review": OWNER_COACH,
    "POST /coach/reviews/<int:resume_id>/correct": OWNER_COACH,
    "PUT /coach/reviews/<int:resume_id>/draft": OWNER_COACH,
    # staff console
    "GET /staff/": STAFF_ONLY,
    "GET /staff/queue": STAFF_ONLY,
    "GET /staff/queue.csv": STAFF_ONLY,
    "POST /staff/queue/<int:resume_id>/assign": STAFF_ONLY,
    "GET /staff/audit": STAFF_ONLY,
    "GET /staff/coaches": STAFF_ONLY,
    "GET /staff/coaches/invite": STAFF_ONLY,
    "POST /staff/coaches/invite": STAFF_ONLY,
    "GET /staff/coaches/<int:coach_id>/edit": STAFF_ONLY,
    "POST /staff/coaches/<int:coach_id>/edit": STAFF_ONLY,
    "POST /staff/coaches/<int:coach_id>/active": STAFF_ONLY,
    "POST /staff/coaches/<int:coach_id>/move-all": STAFF_ONLY,
    "GET /staff/resumes/<int:resume_id>": STAFF_ONLY,
    "GET /staff/resumes/<int:resume_id>/file": STAFF_ONLY,
    "POST /staff/resumes/<int:resume_id>/cancel": STAFF_ONLY,
    "POST /staff/resumes/<int:resume_id>/unpin": STAFF_ONLY,
    "GET /staff/invite/<token>": NOBODY,
    "POST /staff/invite/<token>": NOBODY,
    "GET /staff/deliveries": STAFF_ONLY,
    "POST /staff/deliveries/<int:delivery_id>/retry": STAFF_ONLY,
    "GET /staff/faq": STAFF_ONLY,
    "GET /staff/faq/new": STAFF_ONLY,
    "POST /staff/faq/new": STAFF_ONLY,
    "GET /staff/faq/<int:entry_id>": STAFF_ONLY,
    "POST /staff/faq/<int:entry_id>": STAFF_ONLY,
    "GET /staff/rebalance": STAFF_ONLY,
    "POST /staff/rebalance": STAFF_ONLY,
    "GET /staff/rebalance/<int:plan_id>/<any(apply, undo):verb>": STAFF_ONLY,
    "POST /staff/rebalance/<int:plan_id>/<any(apply, undo):verb>": STAFF_ONLY,
    "GET /staff/requests": STAFF_ONLY,
    "POST /staff/requests/<int:request_id>/answer": STAFF_ONLY,
    "GET /staff/sessions": STAFF_ONLY,
    "GET /staff/sessions.csv": STAFF_ONLY,
    "POST /staff/sessions/<int:booking_id>/cancel": STAFF_ONLY,
    "GET /staff/interview-types": STAFF_ONLY,
    "GET /staff/interview-types/<slug>/edit": STAFF_ONLY,
    "POST /staff/interview-types/<slug>/edit": STAFF_ONLY,
    "GET /staff/interview-types/<slug>/questions": STAFF_ONLY,
    "POST /staff/interview-types/<slug>/questions": STAFF_ONLY,
    "GET /staff/interview-types/<slug>/questions/<int:question_id>": STAFF_ONLY,
    "POST /staff/interview-types/<slug>/questions/<int:question_id>": STAFF_ONLY,
    "POST /staff/interview-types/<slug>/questions/<int:question_id>/remove": STAFF_ONLY,
    "POST /staff/interview-types/<slug>/questions/<int:question_id>/move": STAFF_ONLY,
    "GET /staff/suspensions": STAFF_ONLY,
    "POST /staff/suspensions/<int:suspension_id>/lift": STAFF_ONLY,
    "GET /staff/waitlist": STAFF_ONLY,
    "POST /staff/waitlist/<int:entry_id>/remove": STAFF_ONLY,
    # API: auth and catalogue
    "GET /api/v1/openapi.json": API_PUBLIC,
    "POST /api/v1/auth/token": API_PUBLIC,
    "DELETE /api/v1/auth/token": API_SIGNED_IN,
    "GET /api/v1/me": API_SIGNED_IN,
    "PATCH /api/v1/me": API_SIGNED_IN,
    "GET /api/v1/coaches": API_SIGNED_IN,
    "GET /api/v1/coaches/<int:coach_id>/interview-types": API_SIGNED_IN,
    "PUT /api/v1/coaches/<int:coach_id>/interview-types": API_STAFF_ONLY,
    "GET /api/v1/interview-types": API_SIGNED_IN,
    "GET /api/v1/interview-types/<string:slug>": API_SIGNED_IN,
    "PATCH /api/v1/interview-types/<string:slug>": API_STAFF_ONLY,
    # API: availability
    "GET /api/v1/coaches/me/availability": API_COACH_ONLY,
    "PUT /api/v1/coaches/me/availability": API_COACH_ONLY,
    "POST /api/v1/coaches/me/calendar-feed": API_COACH_ONLY,
    "DELETE /api/v1/coaches/me/calendar-feed": API_COACH_ONLY,
    "GET /api/v1/calendar-feeds/<string:token>.ics": API_PUBLIC,  # a secret URL for calendar apps
    # API: bookings
    "GET /api/v1/slots": API_LEARNER_STAFF,
    "POST /api/v1/bookings": API_LEARNER_ONLY,
    "GET /api/v1/bookings": API_SIGNED_IN,
    "GET /api/v1/bookings/<int:booking_id>": API_OWNER_COACH_STAFF,
    "GET /api/v1/bookings/<int:booking_id>/ics": API_OWNER_COACH_STAFF,
    "POST /api/v1/bookings/<int:booking_id>/cancel": API_OWNER_COACH_STAFF,
    "POST /api/v1/bookings/<int:booking_id>/reschedule": API_OWNER_STAFF,
    "POST /api/v1/bookings/<int:booking_id>/outcome": API_ITS_COACH_STAFF,
    "PUT /api/v1/bookings/<int:booking_id>/feedback": API_ITS_COACH_STAFF,
    # API: waitlist and suspensions
    "POST /api/v1/waitlist": API_LEARNER_ONLY,
    "GET /api/v1/waitlist": API_LEARNER_STAFF,
    "DELETE /api/v1/waitlist/<int:entry_id>": API_OWNER_LEARNER,
    "POST /api/v1/waitlist/<int:entry_id>/accept": API_OWNER_LEARNER,
    "POST /api/v1/waitlist/<int:entry_id>/decline": API_OWNER_LEARNER,
    "GET /api/v1/suspensions": API_STAFF_ONLY,
    "POST /api/v1/suspensions/<int:suspension_id>/lift": API_STAFF_ONLY,
    # API: résumés
    "POST /api/v1/resumes": API_LEARNER_ONLY,
    "GET /api/v1/resumes": API_SIGNED_IN,
    "GET /api/v1/resumes/<int:resume_id>": API_OWNER_COACH_STAFF,
    "GET /api/v1/resumes/<int:resume_id>/file": API_OWNER_COACH_STAFF,
    "GET /api/v1/resumes/<int:resume_id>/versions/<int:number>/annotations": API_OWNER_COACH_STAFF,
    "POST /api/v1/resumes/<int:resume_id>/versions/<int:number>/annotations": API_ASSIGNED_COACH,
    (
        "POST /api/v1/resumes/<int:resume_id>/versions/<int:number>"
        "/annotations/<int:annotation_id>/replies"
    ): (API_OWNER_COACH),
    (
        "POST /api/v1/resumes/<int:resume_id>/versions/<int:number>"
        "/annotations/<int:annotation_id>/resolve"
    ): (API_OWNER_COACH),
    "POST /api/v1/resumes/<int:resume_id>/versions": API_OWNER_LEARNER,
    "POST /api/v1/resumes/<int:resume_id>/cancel": API_OWNER_STAFF,
    "POST /api/v1/resumes/<int:resume_id>/accept": API_ASSIGNED_COACH,
    "POST /api/v1/resumes/<int:resume_id>/decline": API_ASSIGNED_COACH,
    "POST /api/v1/resumes/<int:resume_id>/review": API_ASSIGNED_COACH,
    "PUT /api/v1/resumes/<int:resume_id>/review": API_ASSIGNED_COACH,  # correct one's own
    "POST /api/v1/resumes/<int:resume_id>/assign": API_STAFF_ONLY,
    "GET /api/v1/resumes/<int:resume_id>/decisions": API_STAFF_ONLY,
    "GET /api/v1/queue": API_STAFF_ONLY,
    "GET /api/v1/stats": API_STAFF_ONLY,
    "GET /api/v1/audit": API_STAFF_ONLY,
    # API: notifications and deliveries
    "GET /api/v1/notifications": API_SIGNED_IN,
    "GET /api/v1/notifications/unread-count": API_SIGNED_IN,
    "POST /api/v1/notifications/<int:notification_id>/read": API_OWNER_ONLY,
    "POST /api/v1/notifications/read-all": API_SIGNED_IN,
    "GET /api/v1/notifications/preferences": API_SIGNED_IN,
    "PUT /api/v1/notifications/preferences": API_SIGNED_IN,
    "GET /api/v1/deliveries": API_STAFF_ONLY,
    "GET /api/v1/deliveries/<int:delivery_id>": API_STAFF_ONLY,
    "POST /api/v1/deliveries/<int:delivery_id>/retry": API_STAFF_ONLY,
}


def bodies(world: Any) -> dict[str, dict[str, Any]]:
    """Request bodies (or query strings) that would succeed for the right caller, so that a
    not-yours cell reaches the ownership check instead of stopping at validation."""
    from tests.support_resumes import make_pdf

    ids = world.ids
    day: dt.date = ids["day"]
    later = at(day, 14).isoformat()

    def pdf() -> tuple[io.BytesIO, str]:
        return io.BytesIO(make_pdf()), "cv-v2.pdf"

    return {
        "POST /api/v1/auth/token": {
            "email": world.users["learner_b"].email,
            "password": "correct horse battery",
        },
        "GET /api/v1/slots": {
            "__query__": True,
            "type": "coding",
            "start": day.isoformat(),
            "end": (day + dt.timedelta(days=2)).isoformat(),
            "tz": "UTC",
        },
        "POST /api/v1/bookings": {"type": "coding", "start": later},
        "POST /api/v1/bookings/<int:booking_id>/cancel": {"reason": "access matrix"},
        "POST /api/v1/bookings/<int:booking_id>/reschedule": {"start": later},
        "POST /api/v1/bookings/<int:booking_id>/outcome": {"status": "completed"},
        "PUT /api/v1/bookings/<int:booking_id>/feedback": {
            "communication": 4,
            "technical_depth": 4,
            "problem_solving": 4,
            "ml_knowledge": 4,
            "notes": "Good.",
        },
        "PUT /api/v1/coaches/me/availability": {
            "timezone": "UTC",
            "rules": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
            "exceptions": [],
        },
        "PATCH /api/v1/interview-types/<string:slug>": {"cancel_cutoff_hours": 24},
        "PUT /api/v1/coaches/<int:coach_id>/interview-types": {
            "interview_types": ["coding"],
            "reason": "access matrix",
        },
        "POST /api/v1/waitlist": {"type": "coding"},
        "POST /api/v1/suspensions/<int:suspension_id>/lift": {"reason": "access matrix"},
        "POST /api/v1/resumes/<int:resume_id>/decline": {"reason": "Too busy this week."},
        "POST /api/v1/resumes/<int:resume_id>/review": {
            "summary": "Clear and focused.",
            "scores": {"impact": 4},
        },
        "PUT /api/v1/resumes/<int:resume_id>/review": {
            "summary": "Clear and focused.",
            "scores": {"impact": 4},
        },
        "POST /api/v1/resumes/<int:resume_id>/assign": {"coach_id": ids["coach_2_id"]},
        "PUT /api/v1/notifications/preferences": {"email": {}},
        "POST /api/v1/resumes/<int:resume_id>/versions/<int:number>/annotations": {
            "kind": "pin",
            "body": "Check the layout.",
            "page": 1,
            "point": {"x": 0.5, "y": 0.5},
        },
        (
            "POST /api/v1/resumes/<int:resume_id>/versions/<int:number>"
            "/annotations/<int:annotation_id>/replies"
        ): {"body": "Thanks."},
        "POST /coach/reviews/<int:resume_id>/annotations": {
            "kind": "pin",
            "body": "Check the layout.",
            "page": "1",
            "x_percent": "50",
            "y_percent": "50",
        },
        (
            "POST /coach/reviews/<int:resume_id>/versions/<int:number>/annotations"
            "/<int:annotation_id>/reply"
        ): {"body": "Thanks."},
        (
            "POST /learn/resumes/<int:resume_id>/versions/<int:number>/annotations"
            "/<int:annotation_id>/reply"
        ): {"body": "Thanks."},
        # pages: forms that would pass validation, so a stranger meets the ownership check
        "POST /coach/sessions/<int:booking_id>/outcome": {"outcome": "completed"},
        "POST /coach/sessions/<int:booking_id>/feedback": {
            "communication": "4",
            "technical_depth": "4",
            "problem_solving": "4",
            "ml_knowledge": "4",
            "notes": "Good.",
        },
        "POST /coach/sessions/<int:booking_id>/cancel": {"reason": "access matrix"},
        "GET /coach/sessions/<int:booking_id>/propose/confirm": {"__query__": True, "start": later},
        "POST /coach/sessions/<int:booking_id>/propose/confirm": {
            "start": later,
            "message": "access matrix",
        },
        "POST /coach/sessions/<int:booking_id>/proposal/withdraw": {
            "proposal": str(ids["proposal_id"])
        },
        "POST /learn/bookings/<int:booking_id>/proposal/accept": {
            "proposal": str(ids["proposal_id"])
        },
        "POST /learn/bookings/<int:booking_id>/proposal/decline": {
            "proposal": str(ids["proposal_id"]),
            "reply": "access matrix",
        },
        "POST /staff/interview-types/<slug>/edit": {
            "name": "Coding",
            "duration_minutes": "45",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "15",
            "min_notice_hours": "12",
            "horizon_days": "30",
            "cancel_cutoff_hours": "24",
            "active": "y",
        },
        "POST /staff/suspensions/<int:suspension_id>/lift": {"reason": "access matrix"},
        "POST /staff/resumes/<int:resume_id>/cancel": {"reason": "access matrix"},
        "POST /staff/requests/<int:request_id>/answer": {"reply": "access matrix"},
        "POST /learn/bookings/<int:booking_id>/contact": {"message": "access matrix"},
        "POST /staff/waitlist/<int:entry_id>/remove": {"reason": "access matrix"},
        "POST /api/v1/resumes": {"__multipart__": True, "target_role": "ML engineer"},
        "POST /api/v1/resumes/<int:resume_id>/versions": {"__multipart__": True},
        "__files__": {"pdf": pdf},  # type: ignore[dict-item]
    }


def request_body(table: dict[str, Any], key: str) -> dict[str, Any] | None:
    body = table.get(key)
    if body is None:
        return None
    body = dict(body)
    if body.get("__multipart__"):
        body["file"] = table["__files__"]["pdf"]()
    return body


def assert_world_unchanged(world: Any, db_session: Any) -> None:
    """Every cell was rolled back: the next cell met the same world as the first."""
    from services import accounts
    from services.models import Booking, Notification, Resume, TimeProposal, WaitlistEntry

    db_session.remove()
    ids = world.ids
    assert db_session.get(Booking, ids["booking_id"]).status == "confirmed"
    assert db_session.get(Notification, ids["notification_id"]).read_at is None
    assert db_session.get(Resume, ids["resume_id"]).status == "assigned"
    assert db_session.get(WaitlistEntry, ids["waitlist_entry_id"]).status == "waiting"
    assert db_session.get(TimeProposal, ids["proposal_id"]).status == "open"
    for name, token in world.tokens.items():
        assert accounts.user_for_token(token) is not None, f"{name}'s token was revoked"
    for name, browser in world.clients.items():
        if name != "anon":
            assert browser.get("/account/security").status_code == 200, f"{name} signed out"


def test_every_route_has_a_row_and_every_row_a_route(app: Any) -> None:
    served = route_keys(app)
    missing = sorted(served - MATRIX.keys())
    stale = sorted(MATRIX.keys() - served)
    assert not missing and not stale, (
        "the access matrix is out of date:\n"
        + "".join(f"  route without a row: {key}\n" for key in missing)
        + "".join(f"  row without a route: {key}\n" for key in stale)
    )


# Ids that name nothing: one in range, one beyond a 32-bit column (a client's mistake, never a 500).
MISSING_IDS = (987_654_321, 10**12)
# Forms that answer an id naming nothing the page's own way, a flash and back to the list, as they
# answer a foreign one (nothing changes, nothing leaks: staff see every object anyway).
MISSING_FLASHES_BACK = {
    "POST /notifications/<int:notification_id>/read",
    "POST /staff/coaches/<int:coach_id>/active",
    "POST /staff/coaches/<int:coach_id>/move-all",
    "POST /staff/deliveries/<int:delivery_id>/retry",
    "POST /staff/queue/<int:resume_id>/assign",
    "POST /staff/rebalance/<int:plan_id>/<any(apply, undo):verb>",
    "POST /staff/requests/<int:request_id>/answer",
    "POST /staff/sessions/<int:booking_id>/cancel",
    "POST /staff/suspensions/<int:suspension_id>/lift",
    "POST /staff/waitlist/<int:entry_id>/remove",
}


def missing_row(key: str, row: Row) -> Row:
    """The row for an id that names nothing: whoever would have been let through meets a 404."""
    if key in MISSING_FLASHES_BACK:
        return row
    return tuple("404" if cell == OK else cell for cell in row)  # type: ignore[return-value]


def test_access_matrix(app: Any, client: Any, db_session: Any, make_user: Any) -> None:
    """Every cell with the world's objects, then each id-taking route with ids naming nothing."""
    world = build_world(app, db_session, make_user)
    table = bodies(world)
    sandbox = Sandbox(db_session)
    served = route_keys(app)
    passes: list[tuple[str, dict[str, Any], Any]] = [("", world.ids, lambda key, row: row)]
    passes += [(f" [id {n}]", with_missing_ids(world.ids, n), missing_row) for n in MISSING_IDS]
    mismatches: list[tuple[str, str, str, str, str]] = []
    cells = 0
    for label, ids, expect in passes:
        for key in sorted(MATRIX.keys() & served):
            method, rule = key.split(" ", 1)
            if label and not has_int_id(rule):
                continue
            for caller, expected in zip(CALLERS, expect(key, MATRIX[key]), strict=True):
                response = sandbox.run(
                    world,
                    caller,
                    lambda m=method, r=rule, c=caller, k=key, i=ids: send(
                        world, c, m, r, request_body(table, k), i
                    ),
                )
                cells += 1
                got = classify(response, is_api(rule))
                if DUMP:
                    print(f"{key + label:<80} {caller:<9} {response.status_code} {got}")
                if got != expected:
                    location = response.headers.get("Location", "")
                    detail = f"{response.status_code} {location}".strip()
                    mismatches.append((key + label, caller, expected, got, detail))
    assert cells > 6 * len(MATRIX)
    assert_world_unchanged(world, db_session)
    if mismatches:
        width = max(len(m[0]) for m in mismatches)
        lines = [f"{'route':<{width}}  {'caller':<9}  {'expected':<8}  {'got':<8}  answer"]
        lines += [f"{k:<{width}}  {c:<9}  {e:<8}  {g:<8}  {d}" for k, c, e, g, d in mismatches]
        raise AssertionError(
            f"{len(mismatches)} cells of the access matrix differ:\n" + "\n".join(lines)
        )
