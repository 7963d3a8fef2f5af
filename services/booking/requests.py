"""Learners' requests to staff about one booking ("Contact staff" once the learner can no longer
change a session themselves): the learner writes, staff and the session's coach are told, staff
answer in the app and the learner is told. One open request per booking at a time; each is
answered once (an answered one stays with its reply; the learner may write again)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from services import audit, booking, localtime, outbox
from services.access import require_staff
from services.db import MAX_ID, db, utcnow
from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.models import Booking, Role, StaffRequest, User
from services.notifications import Message, base_url, handles, staff_recipients

MAX_MESSAGE = 2000
ANSWERED_SHOWN = 20


class AlreadyAsked(Conflict):
    code = "request_open"


class AlreadyAnswered(Conflict):
    code = "request_answered"


def _text(value: str | None, name: str, empty: str) -> str:
    text = (value or "").strip()
    if "\x00" in text:
        raise ValidationFailed.field(name, "Remove the NUL character from this text.")
    if not text:
        raise ValidationFailed.field(name, empty)
    if len(text) > MAX_MESSAGE:
        raise ValidationFailed.field(name, f"Use at most {MAX_MESSAGE} characters.")
    return text


def ask(learner: User, booking_id: int, message: str) -> StaffRequest:
    """The learner writes to staff about their booking. Raises Forbidden, NotFound,
    ValidationFailed, AlreadyAsked."""
    if learner.role != Role.LEARNER:
        raise Forbidden("Only the learner of a session writes to staff about it.")
    found = booking.get_booking(booking_id, learner, for_update=True)
    if found.learner_id != learner.id:
        raise NotFound("There is no such booking, or it is not yours to see.")
    text = _text(message, "message", "Write what you need from staff.")
    waiting = db.session.scalar(
        select(StaffRequest.id).where(
            StaffRequest.booking_id == found.id, StaffRequest.status == "open"
        )
    )
    if waiting is not None:
        raise AlreadyAsked("You have asked about this session already: staff will answer here.")
    request = StaffRequest(
        booking_id=found.id, learner_id=learner.id, message=text, status="open", created_at=utcnow()
    )
    db.session.add(request)
    db.session.flush()
    outbox.record("booking.request_sent", request_id=request.id)
    return request


def answer(staff: User, request_id: int, reply: str) -> StaffRequest:
    """Staff answer an open request, once (two staff answering at once: the second is refused).
    Raises Forbidden, NotFound, ValidationFailed, AlreadyAnswered."""
    require_staff(staff, "Only staff answer learners' requests.")
    text = _text(reply, "reply", "Write your answer to the learner.")
    request = db.session.get(StaffRequest, request_id) if 0 < request_id <= MAX_ID else None
    if request is None:
        raise NotFound("There is no such request.")
    now = utcnow()
    result = db.session.execute(
        update(StaffRequest)
        .where(StaffRequest.id == request.id, StaffRequest.status == "open")
        .values(status="answered", reply=text, replied_at=now, replied_by_id=staff.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(request)
    if getattr(result, "rowcount", 0) != 1:
        who = request.replied_by.name if request.replied_by else "Someone"
        raise AlreadyAnswered(f"{who} answered this request already.")
    audit.record(staff, "request.answer", "request", request.id, "", booking_id=request.booking_id)
    outbox.record("booking.request_answered", request_id=request.id)
    return request


def for_booking(viewer: User, booking_id: int) -> list[StaffRequest]:
    """The requests about a booking the viewer may see, oldest first (one query)."""
    if not 0 < booking_id <= MAX_ID:
        return []
    query = select(StaffRequest).where(StaffRequest.booking_id == booking_id)
    if viewer.role == Role.LEARNER:
        query = query.where(StaffRequest.learner_id == viewer.id)
    elif viewer.role != Role.STAFF:
        return []
    return list(
        db.session.scalars(
            query.options(selectinload(StaffRequest.replied_by)).order_by(StaffRequest.id)
        )
    )


@dataclass(frozen=True)
class Inbox:
    open: list[StaffRequest]  # oldest first: the longest waiting on top
    answered: list[StaffRequest]  # the latest answered, newest first


def inbox(viewer: User) -> Inbox:
    """What staff have to answer, and what was answered lately. Raises Forbidden."""
    require_staff(viewer, "Only staff see learners' requests.")
    loads = (
        selectinload(StaffRequest.learner),
        selectinload(StaffRequest.replied_by),
        selectinload(StaffRequest.booking).selectinload(Booking.coach),
        selectinload(StaffRequest.booking).selectinload(Booking.interview_type),
    )
    waiting = db.session.scalars(
        select(StaffRequest)
        .where(StaffRequest.status == "open")
        .options(*loads)
        .order_by(StaffRequest.created_at, StaffRequest.id)
        .limit(200)
    )
    answered = db.session.scalars(
        select(StaffRequest)
        .where(StaffRequest.status == "answered")
        .options(*loads)
        .order_by(StaffRequest.replied_at.desc(), StaffRequest.id.desc())
        .limit(ANSWERED_SHOWN)
    )
    return Inbox(open=list(waiting), answered=list(answered))


# --- notifications --------------------------------------------------------------------------------


def _when(found: Booking, user: User) -> str:
    return localtime.for_user(found.start_at, user)


def _context(request: StaffRequest, user: User) -> dict[str, Any]:
    found = request.booking
    return {
        "learner_name": request.learner.name,
        "coach_name": found.coach.name,
        "type_name": found.interview_type.name,
        "when": _when(found, user),
        "message": request.message,
    }


@handles("booking.request_sent")
def _sent(payload: dict[str, Any]) -> list[Message]:
    request = db.session.get(StaffRequest, payload["request_id"])
    if request is None:
        return []
    found = request.booking
    excerpt = request.message if len(request.message) <= 300 else request.message[:297] + "…"
    title = f"{request.learner.name} asks about a {found.interview_type.name} session"
    messages = [
        Message(
            user=staff,
            kind="booking_request",
            title=title,
            body=excerpt,
            link=f"{base_url()}/staff/requests#request-{request.id}",
            context={**_context(request, staff), "to_coach": False},
        )
        for staff in staff_recipients()
    ]
    messages.append(
        Message(
            user=found.coach,
            kind="booking_request",
            title=f"{request.learner.name} wrote to staff about your session",
            body=f"{excerpt} (Staff answer; this is so you know.)",
            link=f"{base_url()}/coach/sessions/{found.id}",
            context={**_context(request, found.coach), "to_coach": True},
        )
    )
    return messages


def on_booking_page(found: Booking, now: dt.datetime | None = None) -> bool:
    """Whether the booking's own page shows its requests: while it is a confirmed session the
    learner can no longer change (where the page sends them to staff); else its contact page."""
    cutoff = found.start_at - dt.timedelta(hours=found.interview_type.cancel_cutoff_hours)
    return found.status == "confirmed" and (now or utcnow()) >= cutoff


def thread_path(found: Booking) -> str:
    """The path of the page where the learner reads the requests about ``found``."""
    if on_booking_page(found):
        return f"/learn/bookings/{found.id}#staff-requests"
    return f"/learn/bookings/{found.id}/contact#staff-requests"


@handles("booking.request_answered")
def _answered(payload: dict[str, Any]) -> list[Message]:
    request = db.session.get(StaffRequest, payload["request_id"])
    if request is None or request.reply is None:
        return []
    staff_name = request.replied_by.name if request.replied_by else "Career Services staff"
    return [
        Message(
            user=request.learner,
            kind="booking_request_answered",
            title=f"Staff answered you about your {request.booking.interview_type.name} session",
            body=request.reply if len(request.reply) <= 300 else request.reply[:297] + "…",
            link=f"{base_url()}{thread_path(request.booking)}",
            context={
                **_context(request, request.learner),
                "reply": request.reply,
                "staff_name": staff_name,
            },
        )
    ]
