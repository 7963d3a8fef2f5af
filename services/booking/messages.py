"""The booking wing's notifications: its kinds (each with its email template), the handler of
each event that says who is told what, and the wording. The kinds register when
``services.init_app`` imports this module; the order they register in is the order the preferences
page, GET /api/v1/notifications/preferences and the OpenAPI document's enum of kinds list them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services import localtime
from services.booking import calendar, intake
from services.booking.calendar import session_event, session_url
from services.booking.operations import change_cutoff, hours_text, suspension_message
from services.booking.requests import thread_path
from services.booking.waitlist import offer_deadline_text
from services.db import db
from services.models import (
    Booking,
    BookingStatus,
    CalendarFeed,
    LearnerSuspension,
    ProposalStatus,
    Role,
    StaffRequest,
    TimeProposal,
    User,
    WaitlistEntry,
    WaitlistStatus,
)
from services.notifications import Message, base_url, handles, register_kind, staff_recipients

# --- the kinds, in the order the preferences list them ------------------------------------------

BOTH = (Role.LEARNER, Role.COACH)
register_kind(
    "booking_confirmed",
    "Booking confirmed",
    email_template="booking_confirmed",
    roles=BOTH,
    description="A mock interview was booked, with a calendar invitation.",
)
register_kind(
    "booking_cancelled",
    "Booking cancelled",
    email_template="booking_cancelled",
    roles=BOTH,
    description="A session was cancelled.",
)
register_kind(
    "booking_rescheduled",
    "Booking rescheduled",
    email_template="booking_rescheduled",
    roles=BOTH,
    description="A session moved to a new time.",
)
register_kind(
    "booking_reminder",
    "Session reminder",
    email_template="booking_reminder",
    roles=BOTH,
    description="A reminder shortly before a session.",
)
register_kind(
    "booking_request",
    "A learner asks staff about a session",
    email_template="booking_request",
    roles=(Role.STAFF, Role.COACH),
    description="A learner wrote to staff about a booked session they can no longer change.",
)
register_kind(
    "booking_request_answered",
    "Staff answered you",
    email_template="booking_request_answered",
    roles=(Role.LEARNER,),
    description="Staff replied to what you wrote about one of your sessions.",
)
register_kind(
    "booking_suspended",
    "Booking paused",
    email_template="booking_suspended",
    roles=(Role.LEARNER,),
    description="Booking is paused after missed sessions.",
    configurable=False,
)
register_kind(
    "session_feedback",
    "Session feedback",
    email_template="booking_feedback",
    roles=(Role.LEARNER,),
    description="Your coach wrote feedback on a session.",
)
register_kind(
    "waitlist_offer",
    "Waitlist offer",
    email_template="booking_waitlist_offer",
    roles=(Role.LEARNER,),
    description="A slot you waited for is held for you for a short while.",
)
register_kind(
    "booking_time_proposed",
    "New time proposed",
    email_template="booking_time_proposed",
    roles=(Role.LEARNER,),
    description="Your coach proposes moving a session to another time, for you to accept or "
    "decline.",
)
register_kind(
    "booking_calendar_clash",
    "Your own calendar clashes with a session",
    email_template="booking_calendar_clash",
    roles=(Role.COACH, Role.STAFF),
    description="A busy time in a coach's own calendar overlaps a booked session; nothing is "
    "cancelled.",
)
register_kind(
    "booking_coach_away",
    "Your coach is away for a session",
    email_template="booking_coach_away",
    roles=(Role.LEARNER, Role.STAFF),
    description="A coach's time off covers a booked session; staff will move it to another "
    "coach or time.",
)
register_kind(
    "booking_proposal_declined",
    "Proposed time declined",
    email_template="booking_proposal_declined",
    roles=(Role.COACH,),
    description="A learner declined the new time you proposed for a session.",
)


# --- sessions: booked, cancelled, moved, reminded; fair use and feedback ------------------------


def _answers(booking: Booking) -> list[dict[str, str]]:
    """The intake answers as the emails list them: the question as asked, the answer shown."""
    return [
        {"question": a["question"], "shown": intake.shown_value(a)} for a in booking.answers or []
    ]


def _booking_messages(
    payload: dict[str, Any], kind: str, title: str, *, cancelled: bool = False
) -> list[Message]:
    booking = db.session.get(Booking, payload["booking_id"])
    if booking is None:
        return []
    start = dt.datetime.fromisoformat(payload["start"])
    end = dt.datetime.fromisoformat(payload["end"])
    coach = db.session.get(User, payload.get("coach_id") or booking.coach_id) or booking.coach
    # Whether the learner can still move or cancel it: not when it was placed inside the cutoff.
    cutoff = change_cutoff(booking.interview_type, start)
    placed = dt.datetime.fromisoformat(payload["at"]) if payload.get("at") else booking.created_at
    messages = []
    for user in (booking.learner, coach):
        # Each person's invitation links to their own page of the session.
        event = session_event(
            booking,
            viewer=user,
            start=start,
            end=end,
            sequence=payload["sequence"],
            coach=coach,
            cancelled=cancelled,
        )
        ics = calendar.invitation(event)
        other = coach if user.id == booking.learner_id else booking.learner
        when = localtime.span_for(start, end, user)
        context = {
            "booking": booking,
            "type_name": booking.interview_type.name,
            "when": when,
            "other_name": other.name,
            "learner_name": booking.learner.name,
            "coach_name": coach.name,
            "meeting_url": booking.meeting_url,
            "reason": payload.get("reason") or "",
            "old_when": localtime.for_user(dt.datetime.fromisoformat(payload["old_start"]), user)
            if payload.get("old_start")
            else "",
            "is_learner": user.id == booking.learner_id,
            "cutoff_text": hours_text(booking.interview_type.cancel_cutoff_hours),
            "change_until": localtime.for_user(cutoff, user),
            "locked": placed >= cutoff,
            "answers": _answers(booking),
        }
        messages.append(
            Message(
                user=user,
                kind=kind,
                title=title.format(type=booking.interview_type.name, other=other.name),
                body=f"{booking.interview_type.name} with {other.name}, {when}.",
                link=session_url(booking, user),
                context=context,
                ics=ics,
            )
        )
    return messages


@handles("booking.confirmed")
def _confirmed(payload: dict[str, Any]) -> list[Message]:
    return _booking_messages(payload, "booking_confirmed", "Booked: {type} with {other}")


@handles("booking.cancelled")
def _cancelled(payload: dict[str, Any]) -> list[Message]:
    return _booking_messages(
        payload,
        "booking_cancelled",
        "Cancelled: {type} with {other}",
        cancelled=True,
    )


@handles("booking.rescheduled")
def _rescheduled(payload: dict[str, Any]) -> list[Message]:
    messages = _booking_messages(payload, "booking_rescheduled", "Moved: {type} with {other}")
    old_coach_id = payload.get("old_coach_id")
    booking = db.session.get(Booking, payload["booking_id"])
    if booking is None or not old_coach_id or old_coach_id == payload.get("coach_id"):
        return messages
    # The session moved to another coach: the first coach's calendar event is cancelled.
    old_coach = db.session.get(User, old_coach_id)
    if old_coach is None:
        return messages
    old_start = dt.datetime.fromisoformat(payload["old_start"])
    old_end = old_start + (booking.end_at - booking.start_at)
    event = session_event(
        booking,
        viewer=old_coach,
        start=old_start,
        end=old_end,
        sequence=payload["sequence"],
        coach=old_coach,
        cancelled=True,
    )
    when = localtime.span_for(old_start, old_end, old_coach)
    messages.append(
        Message(
            user=old_coach,
            kind="booking_cancelled",
            title=f"Moved to another coach: {booking.interview_type.name} with "
            f"{booking.learner.name}",
            body=f"The session on {when} moved to another coach; it is off your calendar.",
            link=f"{base_url()}/coach/sessions",
            context={
                "booking": booking,
                "type_name": booking.interview_type.name,
                "when": when,
                "other_name": booking.learner.name,
                "learner_name": booking.learner.name,
                "coach_name": old_coach.name,
                "meeting_url": booking.meeting_url,
                "reason": "The session moved to another coach.",
                "old_when": "",
                "is_learner": False,
            },
            ics=calendar.invitation(event),
        )
    )
    return messages


@handles("booking.reminder")
def _reminder(payload: dict[str, Any]) -> list[Message]:
    booking = db.session.get(Booking, payload["booking_id"])
    # Stale: cancelled, or moved since (the reschedule re-armed a reminder for the new time).
    if (
        booking is None
        or booking.status != BookingStatus.CONFIRMED
        or booking.start_at != dt.datetime.fromisoformat(payload["start"])
    ):
        return []
    lead = "in 24 hours" if payload.get("lead") == "24h" else "in 1 hour"
    messages = []
    for user in (booking.learner, booking.coach):
        other = booking.coach if user.id == booking.learner_id else booking.learner
        when = localtime.span_for(booking.start_at, booking.end_at, user)
        messages.append(
            Message(
                user=user,
                kind="booking_reminder",
                title=f"Reminder: {booking.interview_type.name} with {other.name} {lead}",
                body=f"{when}. Join at {booking.meeting_url}",
                link=session_url(booking, user),
                context={
                    "booking": booking,
                    "type_name": booking.interview_type.name,
                    "when": when,
                    "lead": lead,
                    "other_name": other.name,
                    "meeting_url": booking.meeting_url,
                    "is_learner": user.id == booking.learner_id,
                },
            )
        )
    return messages


@handles("booking.learner_suspended")
def _suspended(payload: dict[str, Any]) -> list[Message]:
    suspension = db.session.get(LearnerSuspension, payload["suspension_id"])
    if suspension is None:
        return []
    learner = suspension.learner
    message = suspension_message(suspension, learner)
    return [
        Message(
            user=learner,
            kind="booking_suspended",
            title="Booking is paused for your account",
            body=message,
            link=f"{base_url()}/learn/bookings",
            context={"message": message, "lifted": False},
        )
    ]


@handles("booking.feedback")
def _feedback(payload: dict[str, Any]) -> list[Message]:
    booking = db.session.get(Booking, payload["booking_id"])
    if booking is None or booking.feedback is None:
        return []
    return [
        Message(
            user=booking.learner,
            kind="session_feedback",
            title=f"Feedback on your {booking.interview_type.name} session",
            body=f"{booking.coach.name} wrote feedback on your session.",
            link=f"{base_url()}/learn/bookings/{booking.id}",
            context={
                "type_name": booking.interview_type.name,
                "coach_name": booking.coach.name,
                "when": localtime.for_user(booking.start_at, booking.learner),
            },
        )
    ]


# --- the waitlist --------------------------------------------------------------------------------


@handles("waitlist.offered")
def _offered(payload: dict[str, Any]) -> list[Message]:
    entry = db.session.get(WaitlistEntry, payload["entry_id"])
    hold = db.session.get(Booking, payload["booking_id"])
    if (
        entry is None
        or hold is None
        or entry.hold_id != hold.id
        or entry.status != WaitlistStatus.OFFERED
    ):
        return []  # passed on or taken back before this was sent
    learner = entry.learner
    when = localtime.span_for(hold.start_at, hold.end_at, learner)
    deadline = offer_deadline_text(entry)
    return [
        Message(
            user=learner,
            kind="waitlist_offer",
            title=f"A {hold.interview_type.name} slot is held for you until {deadline}",
            body=f"{when} with {hold.coach.name}. Accept it before {deadline}, or it passes on.",
            link=f"{base_url()}/learn/bookings/waitlist",
            context={
                "type_name": hold.interview_type.name,
                "when": when,
                "coach_name": hold.coach.name,
                "deadline": deadline,
                "answers": _answers(hold),
            },
        )
    ]


@handles("booking.suspension_lifted")
def _suspension_lifted(payload: dict[str, Any]) -> list[Message]:
    suspension = db.session.get(LearnerSuspension, payload["suspension_id"])
    if suspension is None or suspension.lifted_at is None:
        return []
    body = "Career Services staff lifted the pause on your booking early."
    return [
        Message(
            user=suspension.learner,
            kind="booking_suspended",
            title="You can book mock interviews again",
            body=body,
            link=f"{base_url()}/learn/bookings",
            context={"message": body, "lifted": True},
        )
    ]


# --- a new time proposed -------------------------------------------------------------------------


def _spans(proposal: TimeProposal, user: User) -> dict[str, Any]:
    session = proposal.booking
    length = session.end_at - session.start_at
    return {
        "booking": session,
        "type_name": session.interview_type.name,
        "learner_name": session.learner.name,
        "coach_name": session.coach.name,
        "old_when": localtime.span_for(
            proposal.original_start_at, proposal.original_start_at + length, user
        ),
        "proposed_when": localtime.span_for(proposal.start_at, proposal.end_at, user),
    }


@handles("booking.time_proposed")
def _proposed(payload: dict[str, Any]) -> list[Message]:
    proposal = db.session.get(TimeProposal, payload["proposal_id"])
    # Withdrawn, replaced or answered before this went out: nothing to ask any more.
    if proposal is None or proposal.status != ProposalStatus.OPEN:
        return []
    session = proposal.booking
    learner = session.learner
    context = {
        **_spans(proposal, learner),
        "proposal_message": proposal.message,
        "respond_by": localtime.for_user(proposal.expires_at, learner),
    }
    return [
        Message(
            user=learner,
            kind="booking_time_proposed",
            title=f"New time proposed: {session.interview_type.name} with {session.coach.name}",
            body=f"{session.coach.name} proposes {context['proposed_when']} instead of "
            f"{context['old_when']}. Accept or decline it by {context['respond_by']}.",
            link=session_url(session, learner),
            context=context,
        )
    ]


@handles("booking.proposal_declined")
def _declined(payload: dict[str, Any]) -> list[Message]:
    proposal = db.session.get(TimeProposal, payload["proposal_id"])
    if proposal is None or proposal.status != ProposalStatus.DECLINED:
        return []
    session = proposal.booking
    coach = session.coach
    context = {
        **_spans(proposal, coach),
        "when": localtime.span_for(session.start_at, session.end_at, coach),
        "learner_reply": proposal.reply,
    }
    return [
        Message(
            user=coach,
            kind="booking_proposal_declined",
            title=f"Declined: {session.learner.name} keeps the {session.interview_type.name} "
            "session's time",
            body=f"{session.learner.name} declined {context['proposed_when']}; the session stays "
            f"at {context['when']}.",
            link=session_url(session, coach),
            context=context,
        )
    ]


# --- a coach's own calendar and time off ---------------------------------------------------------


@handles("booking.calendar_clash")
def _clash(payload: dict[str, Any]) -> list[Message]:
    """The coach and staff: a busy time of the coach's own calendar (named by the feed's name,
    never the event's) overlaps a session. Stale (cancelled since, the feed gone): nobody."""
    booking = db.session.get(Booking, payload["booking_id"])
    feed = db.session.get(CalendarFeed, payload["feed_id"])
    if booking is None or feed is None or booking.status != BookingStatus.CONFIRMED:
        return []
    coach = booking.coach
    messages = []
    for user in (coach, *staff_recipients()):
        when = localtime.span_for(booking.start_at, booking.end_at, user)
        to_coach = user.id == coach.id
        whose = "Your" if to_coach else f"{coach.name}'s"
        messages.append(
            Message(
                user=user,
                kind="booking_calendar_clash",
                title=f"{whose} calendar {feed.name} clashes with a "
                f"{booking.interview_type.name} session",
                body=f"{booking.interview_type.name} with {booking.learner.name}, {when}: "
                f"{feed.name} shows a busy time then. Nothing was cancelled.",
                link=session_url(booking, user),
                context={
                    "type_name": booking.interview_type.name,
                    "when": when,
                    "learner_name": booking.learner.name,
                    "coach_name": coach.name,
                    "feed_name": feed.name,
                    "to_coach": to_coach,
                },
            )
        )
    return messages


@handles("booking.coach_away")
def _away(payload: dict[str, Any]) -> list[Message]:
    """The learner (and staff, to move it): the coach's time off covers the session. Stale (no
    longer confirmed, or the time off gone): nobody."""
    from services.booking.availability import sessions_in_time_off

    booking = db.session.get(Booking, payload["booking_id"])
    if (
        booking is None
        or booking.status != BookingStatus.CONFIRMED
        or booking.id not in sessions_in_time_off(booking.coach_id)
    ):
        return []
    coach = booking.coach
    messages = []
    for user in (booking.learner, *staff_recipients()):
        when = localtime.span_for(booking.start_at, booking.end_at, user)
        to_learner = user.id == booking.learner_id
        whose = "your" if to_learner else f"{booking.learner.name}'s"
        messages.append(
            Message(
                user=user,
                kind="booking_coach_away",
                title=f"{coach.name} is away for {whose} {booking.interview_type.name} session",
                body=f"{booking.interview_type.name} with {coach.name}, {when}: "
                + (
                    "staff will move it to another coach or time and tell you."
                    if to_learner
                    else "move it to another coach or time."
                ),
                link=session_url(booking, user),
                context={
                    "type_name": booking.interview_type.name,
                    "when": when,
                    "learner_name": booking.learner.name,
                    "coach_name": coach.name,
                    "is_learner": to_learner,
                },
            )
        )
    return messages


# --- requests to staff ---------------------------------------------------------------------------


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
