"""Learners' requests to staff about one booking ("Contact staff" once the learner can no longer
change a session themselves): the learner writes, staff and the session's coach are told, staff
answer in the app and the learner is told. One open request per booking at a time; each is
answered once (an answered one stays with its reply; the learner may write again)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from services import audit, outbox, validation
from services.access import require_staff
from services.booking import operations
from services.booking.errors import AlreadyAnswered, AlreadyAsked
from services.db import db, utcnow
from services.errors import Forbidden, NotFound
from services.models import Booking, Role, StaffRequest, User
from services.validation import is_id

MAX_MESSAGE = 2000
ANSWERED_SHOWN = 20


def ask(learner: User, booking_id: int, message: str) -> StaffRequest:
    """The learner writes to staff about their booking. Raises Forbidden, NotFound,
    ValidationFailed, AlreadyAsked."""
    if learner.role != Role.LEARNER:
        raise Forbidden("Only the learner of a session writes to staff about it.")
    found = operations.get_booking(booking_id, learner, for_update=True)
    if found.learner_id != learner.id:
        raise NotFound("There is no such booking, or it is not yours to see.")
    text = validation.text(
        message, "message", limit=MAX_MESSAGE, required="Write what you need from staff."
    )
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
    text = validation.text(
        reply, "reply", limit=MAX_MESSAGE, required="Write your answer to the learner."
    )
    request = db.session.get(StaffRequest, request_id) if is_id(request_id) else None
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
    if not is_id(booking_id):
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


# --- where the learner reads them --------------------------------------------------------------


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
