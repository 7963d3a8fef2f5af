"""Helpers for the access-control matrix: the world it runs in, the callers, one cell's request and
the classification of its answer.

Every cell runs inside a SAVEPOINT that is rolled back afterwards, and each caller's cookies are put
back as they were, so a cell that succeeds (cancels, signs out, revokes its token) leaves the world
unchanged for the next cell.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select

from tests.support_auth import csrf_token, sign_in
from tests.support_booking import PASSWORD, add_rules, at, future_weekday

CALLERS = ("anon", "learner_a", "learner_b", "coach_1", "coach_2", "staff")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}

OK = "ok"
SIGNIN = "signin"


@dataclass
class World:
    users: dict[str, Any]
    tokens: dict[str, str]
    clients: dict[str, Any]
    csrf: dict[str, str]
    ids: dict[str, Any]
    bodies: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)


def route_keys(app: Flask) -> set[str]:
    """Every "METHOD /rule" the app serves (HEAD/OPTIONS and static files left out)."""
    keys = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in rule.methods or ():
            if method not in SKIPPED_METHODS:
                keys.add(f"{method} {rule.rule}")
    return keys


def is_api(rule: str) -> bool:
    return rule.startswith("/api/")


# --- the world ------------------------------------------------------------------------------------


def build_world(app: Flask, db_session: Any, make_user: Callable[..., Any]) -> World:
    """Learner A's booking with coach 1 (and coach 1's proposal of a new time for it), résumé
    offered to coach 1, notification, waitlist entry and suspension; coach 1's availability
    exception and calendar feed; a failed delivery; the FAQ; interview types; a rebalance plan;
    learner A's open request to staff about the booking; a bearer token and a signed-in browser
    per caller."""
    from services import accounts, faq, resumes
    from services import booking as booking_service
    from services.booking import availability, busy, interview_types, proposals
    from services.booking import requests as staff_requests
    from services.booking import waitlist as waitlist_service
    from services.db import utcnow
    from services.models import Delivery, FaqEntry, LearnerSuspension, Notification
    from services.resumes import annotations, rebalance, routing
    from tests.support_resumes import make_pdf, submit

    interview_types.ensure_defaults()
    faq.load_seed()
    db_session.commit()

    tags = ["ml", "python", "behavioral", "algorithms", "mlops", "system-design"]
    users = {
        "learner_a": make_user("learner", name="Learner A"),
        "learner_b": make_user("learner", name="Learner B"),
        "coach_1": make_user("coach", name="Coach One", expertise=tags, review_capacity=5),
        "coach_2": make_user("coach", name="Coach Two", expertise=tags, review_capacity=5),
        "staff": make_user("staff", name="Staff Person"),
    }
    learner_a, coach_1, staff = users["learner_a"], users["coach_1"], users["staff"]
    for coach in ("coach_1", "coach_2"):
        add_rules(users[coach].id)

    day = future_weekday(4)
    booking, _ = booking_service.book(
        learner_a.id,
        booking_service.BookingRequest(type="coding", start=at(day, 10), coach_id=coach_1.id),
    )
    db_session.commit()
    # Coach 1 proposes moving it to the afternoon: open, for learner A to answer.
    proposal = proposals.propose(
        booking.id, coach_1.id, proposals.ProposalRequest(start=at(day, 15))
    )
    db_session.commit()

    resume = submit(learner_a, make_pdf())
    db_session.commit()
    resumes.analyse(resumes.current_version(resume).id)
    db_session.commit()
    routing.assign_manually(staff, resume.id, coach_1.id, "access matrix")
    db_session.commit()
    # A second résumé of learner A, under review by coach 1, with one comment pinned on its first
    # page and published (the row a sent review leaves behind), for the annotation routes.
    marked = submit(learner_a, make_pdf())
    db_session.commit()
    resumes.analyse(resumes.current_version(marked).id)
    routing.assign_manually(staff, marked.id, coach_1.id, "access matrix")
    resumes.accept(coach_1, marked.id)
    annotation = annotations.create(
        coach_1,
        marked.id,
        1,
        annotations.AnnotationInput(body="Lead with the result.", kind="pin", page=1, x=0.5, y=0.5),
    )
    annotation.status = "open"
    db_session.commit()

    # Coach 1 works one Saturday session, already booked: a day worth waiting for, with no slot.
    saturday = day + dt.timedelta(days=(5 - day.weekday()) % 7)  # coaches keep weekends free
    availability.add_exception(
        coach_1.id,
        availability.ExceptionInput(
            start=at(saturday, 10), end=at(saturday, 10, 45), available=True
        ),
    )
    booking_service.book(
        make_user("learner", name="Learner C").id,
        booking_service.BookingRequest(type="coding", start=at(saturday, 10)),
    )
    db_session.commit()
    entry = waitlist_service.join(
        learner_a.id, waitlist_service.WaitlistRequest(type="coding", day=saturday)
    )
    exception = availability.add_exception(
        coach_1.id,
        availability.ExceptionInput(
            start=at(day + dt.timedelta(days=7), 9), end=at(day + dt.timedelta(days=7), 12)
        ),
    )
    feed_secret = booking_service.create_feed(coach_1.id)
    own_calendar = busy.add_feed(coach_1.id, "Day job", "https://calendar.example.com/coach.ics")
    db_session.commit()

    now = utcnow()
    notification = Notification(
        user_id=learner_a.id,
        kind="booking_confirmed",
        title="Your session is booked",
        body="See you there.",
        link="http://testserver/learn/bookings",
        dedupe_key=f"access:{uuid.uuid4().hex}",
        created_at=now,
    )
    delivery = Delivery(
        dedupe_key=f"access:failed:{uuid.uuid4().hex}",
        user_id=learner_a.id,
        kind="booking_confirmed",
        to_address=learner_a.email,
        subject="Your session is booked",
        text_body="Body",
        status="failed",
        attempts=8,
        last_error="SMTPDataError(451, b'Try again later')",
        failed_at=now,
    )
    # No service makes a suspension but three no-shows; the row is what they would leave behind.
    suspension = LearnerSuspension(
        learner_id=learner_a.id,
        starts_at=now,
        ends_at=now + dt.timedelta(days=14),
        reason="you missed 3 sessions (access matrix)",
        created_at=now,
    )
    db_session.add_all([notification, delivery, suspension])
    db_session.commit()

    plan = rebalance.propose(staff)
    db_session.commit()
    request = staff_requests.ask(learner_a, booking.id, "Can I move this session? (access matrix)")
    db_session.commit()
    faq_entry_id = db_session.scalar(select(FaqEntry.id).order_by(FaqEntry.id).limit(1))
    assert faq_entry_id is not None, "the FAQ seed made no entries"

    tokens = {
        name: accounts.issue_token(user, dt.timedelta(hours=2))[0] for name, user in users.items()
    }
    db_session.commit()

    clients: dict[str, Any] = {"anon": app.test_client()}
    for name, user in users.items():
        browser = app.test_client()
        sign_in(browser, user.email, PASSWORD)
        clients[name] = browser
    assert clients["staff"].get("/staff/").status_code == 200, "staff did not sign in"
    # One CSRF token per browser session (anonymous: from the sign-in form).
    csrf = {
        name: csrf_token(browser, "/sign-in" if name == "anon" else "/account/security")
        for name, browser in clients.items()
    }

    ids = {
        "booking_id": booking.id,
        "resume_id": resume.id,
        "waitlist_entry_id": entry.id,
        "faq_entry_id": faq_entry_id,
        "exception_id": exception.id,
        "notification_id": notification.id,
        "delivery_id": delivery.id,
        "suspension_id": suspension.id,
        "coach_id": coach_1.id,
        "coach_2_id": users["coach_2"].id,
        "plan_id": plan.id,
        "request_id": request.id,
        "proposal_id": proposal.id,
        "marked_resume_id": marked.id,
        "number": 1,
        "annotation_id": annotation.id,
        "feed_id": own_calendar.id,
        "feed_token": feed_secret,
        "day": day,
        "slug": "coding",
        "question_id": _first_question("coding"),
    }
    return World(users=users, tokens=tokens, clients=clients, csrf=csrf, ids=ids)


# --- one cell -------------------------------------------------------------------------------------


def _first_question(slug: str) -> int:
    """The id of a type's first intake question (the seeded ones)."""
    from services.booking import intake, interview_types

    return intake.questions_of(interview_types.get(slug).id)[0].id


def fill_path(rule: str, ids: dict[str, Any]) -> str:
    """The rule with each <converter:name> replaced by the world's object for it."""

    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        if name == "entry_id":  # a FAQ entry under /staff/faq, a waitlist entry elsewhere
            return str(
                ids["faq_entry_id" if rule.startswith("/staff/faq") else "waitlist_entry_id"]
            )
        if name == "token":
            if rule.startswith("/api/v1/calendar-feeds/"):
                return str(ids["feed_token"])  # a capability URL: whoever holds it may read it
            return "no-such-token-" + "x" * 24  # invitations: an unknown one, 404 for everyone
        if name == "verb":
            return "apply"
        if name == "resume_id" and "annotat" in rule:
            return str(ids["marked_resume_id"])  # the résumé under review, with a comment
        if name not in ids:
            raise KeyError(f"no value for <{name}> in {rule}: add it to the world")
        return str(ids[name])

    return re.sub(r"<(?:[^:<>]+:)?(?P<name>[^<>]+)>", value, rule)


INT_IDS = (
    "booking_id",
    "resume_id",
    "waitlist_entry_id",
    "faq_entry_id",
    "exception_id",
    "notification_id",
    "delivery_id",
    "suspension_id",
    "coach_id",
    "plan_id",
    "request_id",
    "marked_resume_id",
    "annotation_id",
    "question_id",
    "feed_id",
)


def has_int_id(rule: str) -> bool:
    return "<int:" in rule


def with_missing_ids(ids: dict[str, Any], missing: int) -> dict[str, Any]:
    """The world's ids with every integer path id replaced by one that names nothing."""
    return {**ids, **dict.fromkeys(INT_IDS, missing)}


def send(
    world: World,
    caller: str,
    method: str,
    rule: str,
    body: dict[str, Any] | None,
    ids: dict[str, Any] | None = None,
) -> Any:
    """One request: bearer token on the API (none for anon), the signed-in browser for pages."""
    path = fill_path(rule, world.ids if ids is None else ids)
    if is_api(rule):
        client = world.clients["anon"]
        headers = {} if caller == "anon" else {"Authorization": f"Bearer {world.tokens[caller]}"}
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            if body.get("__multipart__"):
                form = {k: v for k, v in body.items() if k != "__multipart__"}
                kwargs.update(data=form, content_type="multipart/form-data")
            elif body.get("__query__"):
                kwargs["query_string"] = {k: v for k, v in body.items() if k != "__query__"}
            else:
                kwargs["json"] = body
        elif method in {"POST", "PUT", "PATCH"}:
            kwargs["json"] = {}
        return client.open(path, method=method, **kwargs)
    client = world.clients[caller]
    if method == "GET":
        query = {k: v for k, v in (body or {}).items() if k != "__query__"}
        return client.get(path, query_string=query)
    data = {"csrf_token": world.csrf[caller], **(body or {})}
    return client.open(path, method=method, data=data)


def classify(response: Any, api: bool) -> str:
    """ok / 401 / 403 / 404 / signin, or what went wrong (5xx, a CSRF failure, a stray redirect)."""
    status = response.status_code
    if status >= 500:
        return f"5xx:{status}"
    if status in (301, 302, 303, 307, 308):
        location = urlsplit(response.headers.get("Location", ""))
        if location.path in ("/sign-in", "/sign-in/two-factor"):
            return SIGNIN
        return OK
    if status == 400 and not api and b"CSRF" in response.get_data():
        return "csrf-400"  # the test's own CSRF token was refused: the cell proves nothing
    if status == 403 and api:
        code = (response.get_json(silent=True) or {}).get("code")
        if code not in (None, "forbidden"):
            return OK  # a domain rule (e.g. booking_suspended), past access control
    if status in (401, 403, 404):
        return str(status)
    return OK


class Sandbox:
    """Run a cell and undo it: a SAVEPOINT on the test's connection, and the caller's cookies."""

    def __init__(self, db_session: Any) -> None:
        self.db_session = db_session
        self.connection = db_session.get_bind()

    def run(self, world: World, caller: str, fn: Callable[[], Any]) -> Any:
        from flask import g

        client = world.clients[caller]
        cookies = dict(client._cookies)
        self.db_session.remove()
        savepoint = self.connection.begin_nested()
        try:
            return fn()
        finally:
            self.db_session.remove()
            if savepoint.is_active:
                savepoint.rollback()
            client._cookies.clear()
            client._cookies.update(cookies)
            for name in list(g):
                g.pop(name)
