"""A coach proposes a new time for a session; the learner accepts (the session moves as a
reschedule does) or declines (it stays, the coach is told); the coach may withdraw it. The
proposed time follows the booking rules, one proposal is open per booking, and a proposal counts
only until its cutoff and while its time is free. SQLite and PostgreSQL, each test rolled back."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services import booking as booking_service
from services.booking import availability, proposals
from services.db import db, utcnow
from services.errors import Forbidden, NotFound, ValidationFailed
from services.models import (
    Booking,
    BookingEvent,
    Delivery,
    Notification,
    TimeProposal,
)
from tests.support_booking import at, events, future_weekday, make_coach, process_all, seed_types

BERLIN = "Europe/Berlin"


@pytest.fixture
def world(db_session, make_user):
    seed_types()
    coach = make_coach(make_user, BERLIN, name="Casey Coach")
    learner = make_user("learner", timezone="America/New_York", name="Lee Learner", clock="12h")
    day = future_weekday(4, BERLIN)
    session, _ = booking_service.book(
        learner.id,
        booking_service.BookingRequest(type="coding", start=berlin(day, 10), coach_id=coach.id),
    )
    db_session.commit()
    return {"coach": coach, "learner": learner, "day": day, "booking": session}


def berlin(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return at(day, hour, minute, BERLIN)


def propose(world, start, message="", **kwargs):
    proposal = proposals.propose(
        world["booking"].id,
        world["coach"].id,
        proposals.ProposalRequest(start=start, message=message),
        **kwargs,
    )
    db.session.commit()
    return proposal


def fresh(booking: Booking) -> Booking:
    db.session.expire_all()
    row = db.session.get(Booking, booking.id)
    assert row is not None
    return row


def history(booking: Booking) -> list[str]:
    return list(
        db.session.scalars(
            select(BookingEvent.event)
            .where(BookingEvent.booking_id == booking.id)
            .order_by(BookingEvent.id)
        )
    )


def proposal_count() -> int:
    return db.session.scalar(select(func.count(TimeProposal.id))) or 0


def notes(user, kind):
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        )
    )


def mail(user, kind):
    return list(
        db.session.scalars(
            select(Delivery).where(Delivery.user_id == user.id, Delivery.kind == kind)
        )
    )


# --- proposing -----------------------------------------------------------------------------------


def test_the_coach_proposes_and_the_learner_is_told_in_their_zone_and_clock(world):
    day = world["day"]
    proposal = propose(world, berlin(day, 14), "  A workshop moved onto my morning.  ")

    assert proposal.status == "open"
    assert proposal.original_start_at == berlin(day, 10)
    assert proposal.start_at == berlin(day, 14) and proposal.end_at == berlin(day, 14, 45)
    assert proposal.message == "A workshop moved onto my morning."
    # The cutoff of the current time comes before the minimum notice of the new one.
    assert proposal.expires_at == berlin(day, 10) - dt.timedelta(hours=24)
    session = fresh(world["booking"])
    assert session.start_at == berlin(day, 10) and session.sequence == 0  # nothing moved yet
    assert history(session) == ["booked", "time_proposed"]
    standing = proposals.standing(session)
    assert standing is not None and standing.pending

    process_all()
    [note] = notes(world["learner"], "booking_time_proposed")
    assert note.link == f"http://testserver/learn/bookings/{session.id}"
    # In New York, on the learner's 12-hour clock.
    assert new_york(berlin(day, 14)) in note.body and new_york(berlin(day, 10)) in note.body
    [email] = mail(world["learner"], "booking_time_proposed")
    assert email.subject.startswith("New time proposed: Coding mock interview with Casey Coach")
    assert "A workshop moved onto my morning." in email.text_body
    assert "Now:      " in email.text_body and "(America/New York)" in email.text_body
    assert f"http://testserver/learn/bookings/{session.id}" in email.text_body
    assert not mail(world["coach"], "booking_time_proposed")


@pytest.mark.parametrize(
    ("hour", "minute", "days", "field_error"),
    [
        (14, 10, 0, "Sessions start on the 30-minute grid"),  # off the grid
        (7, 0, 0, "This coach is available for Coding"),  # before the coach's hours
        (10, 0, 0, "The session is already at this time."),
        (10, 0, 40, "Book at most 30 days ahead"),  # beyond the horizon
    ],
)
def test_a_time_off_the_booking_rules_is_refused_and_changes_nothing(
    world, hour, minute, days, field_error
):
    start = berlin(world["day"] + dt.timedelta(days=days), hour, minute)
    with pytest.raises(ValidationFailed) as refused:
        propose(world, start)
    db.session.rollback()
    assert field_error in " ".join(refused.value.errors["start"])
    assert proposal_count() == 0
    assert not events("booking.time_proposed")


def test_inside_the_minimum_notice_is_refused(world):
    soon = availability.grid_ceil(utcnow() + dt.timedelta(hours=2), 30)
    with pytest.raises(ValidationFailed) as refused:
        propose(world, soon)
    assert "at least 12 hours ahead" in refused.value.detail


def test_a_time_the_coach_or_the_learner_has_another_session_is_refused(world, make_user):
    day = world["day"]
    other = make_user("learner", name="Olu Other")
    booking_service.book(
        other.id,
        booking_service.BookingRequest(
            type="coding", start=berlin(day, 13), coach_id=world["coach"].id
        ),
    )
    db.session.commit()
    with pytest.raises(booking_service.SlotUnavailable):
        propose(world, berlin(day, 13))  # the coach's own other session
    db.session.rollback()
    second = make_coach(make_user, BERLIN, name="Sam Second")
    booking_service.book(
        world["learner"].id,
        booking_service.BookingRequest(type="coding", start=berlin(day, 15), coach_id=second.id),
    )
    db.session.commit()
    with pytest.raises(booking_service.SlotUnavailable) as busy:
        propose(world, berlin(day, 15))
    assert busy.value.detail == "Lee Learner has another session then. Pick another time."
    db.session.rollback()
    assert proposal_count() == 0


def test_only_the_sessions_coach_proposes(world, make_user):
    request = proposals.ProposalRequest(start=berlin(world["day"], 14))
    other_coach = make_coach(make_user, BERLIN)
    with pytest.raises(NotFound):
        proposals.propose(world["booking"].id, other_coach.id, request)
    for who in (world["learner"], make_user("staff")):
        with pytest.raises(Forbidden):
            proposals.propose(world["booking"].id, who.id, request)
    db.session.rollback()
    assert proposal_count() == 0


def test_a_long_message_is_refused(world):
    with pytest.raises(ValidationFailed) as refused:
        propose(world, berlin(world["day"], 14), "x" * 1001)
    assert refused.value.errors == {"message": ["Use at most 1000 characters."]}


def test_no_proposal_once_the_session_is_inside_its_cutoff(world, make_user):
    owl = make_coach(make_user, "UTC", start=dt.time(0), end=dt.time(23, 59), weekdays=range(7))
    start = availability.grid_ceil(utcnow() + dt.timedelta(hours=13), 30)
    soon, _ = booking_service.book(
        world["learner"].id,
        booking_service.BookingRequest(type="coding", start=start, coach_id=owl.id),
    )
    db.session.commit()
    with pytest.raises(booking_service.TooLateToReschedule):
        proposals.propose(
            soon.id, owl.id, proposals.ProposalRequest(start=start + dt.timedelta(days=2))
        )


# --- one open proposal ---------------------------------------------------------------------------


def test_a_new_proposal_replaces_the_open_one(world):
    day = world["day"]
    first = propose(world, berlin(day, 14))
    second = propose(world, berlin(day, 15), "Or later still?")
    db.session.refresh(first)
    assert first.status == "replaced" and second.status == "open"
    with pytest.raises(proposals.ProposalClosed) as closed:
        proposals.accept(world["booking"].id, world["learner"].id, first.id)
    assert closed.value.detail == "Casey Coach proposed another time since: see the session."
    db.session.rollback()
    assert proposals.standing(fresh(world["booking"])).proposal.id == second.id


def test_the_database_keeps_one_open_proposal_per_booking(world):
    day = world["day"]
    first = propose(world, berlin(day, 14))
    twin = TimeProposal(
        booking_id=first.booking_id,
        original_start_at=first.original_start_at,
        start_at=berlin(day, 15),
        end_at=berlin(day, 15, 45),
        status="open",
        expires_at=first.expires_at,
    )
    savepoint = db.session.begin_nested()
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.flush()
    savepoint.rollback()
    assert proposal_count() == 1


# --- accepting -----------------------------------------------------------------------------------


def test_accepting_moves_the_session_the_reschedule_way_and_frees_the_old_time(world):
    day = world["day"]
    proposal = propose(world, berlin(day, 14), "Afternoon instead?")
    process_all()

    moved = proposals.accept(world["booking"].id, world["learner"].id, proposal.id)
    db.session.commit()

    session = fresh(moved)
    assert (session.start_at, session.end_at) == (berlin(day, 14), berlin(day, 14, 45))
    assert session.coach_id == world["coach"].id
    assert session.sequence == 1  # the calendar event updates
    assert session.reschedule_count == 0  # not one of the learner's own moves
    assert db.session.get(TimeProposal, proposal.id).status == "accepted"
    assert history(session) == ["booked", "time_proposed", "rescheduled"]
    [moved_event] = events("booking.rescheduled")
    assert dt.datetime.fromisoformat(moved_event.payload["old_start"]) == berlin(day, 10)
    process_all()
    # Both are told the reschedule's way, each with the updated invitation.
    for user in (world["learner"], world["coach"]):
        [email] = mail(user, "booking_rescheduled")
        assert email.ics and "SEQUENCE:1" in email.ics
    slots = availability.find_slots(
        availability.SlotQuery("coding", day, day, BERLIN, world["coach"].id)
    )
    starts = [s.start for s in slots]
    assert berlin(day, 10) in starts and berlin(day, 14) not in starts
    assert proposals.standing(session) is None

    # Accepting again changes nothing.
    proposals.accept(world["booking"].id, world["learner"].id, proposal.id)
    db.session.commit()
    assert len(events("booking.rescheduled")) == 1


def test_a_learner_who_used_their_moves_may_still_accept(world):
    day = world["day"]
    for hour in (11, 12):
        booking_service.reschedule(
            world["booking"].id,
            world["learner"].id,
            booking_service.RescheduleRequest(start=berlin(day, hour)),
        )
    db.session.commit()
    proposal = propose(world, berlin(day, 15))
    proposals.accept(world["booking"].id, world["learner"].id, proposal.id)
    db.session.commit()
    session = fresh(world["booking"])
    assert session.start_at == berlin(day, 15) and session.reschedule_count == 2


def test_a_time_taken_meanwhile_expires_the_proposal_and_keeps_the_session(world, make_user):
    day = world["day"]
    proposal = propose(world, berlin(day, 14))
    other = make_user("learner")
    booking_service.book(
        other.id,
        booking_service.BookingRequest(
            type="coding", start=berlin(day, 14), coach_id=world["coach"].id
        ),
    )
    db.session.commit()
    assert proposals.standing(fresh(world["booking"])).state == "taken"

    with pytest.raises(proposals.ProposalExpired) as expired:
        proposals.accept(world["booking"].id, world["learner"].id, proposal.id)
    db.session.rollback()
    # In the learner's zone and on their 12-hour clock.
    assert expired.value.detail == (
        f"This proposal has expired: the proposed time, {new_york(berlin(day, 14))}, is no "
        f"longer free. Your session stays at {new_york(berlin(day, 10))}."
    )
    session = fresh(world["booking"])
    assert session.start_at == berlin(day, 10) and session.sequence == 0
    assert db.session.get(TimeProposal, proposal.id).status == "open"  # the refusal wrote nothing
    assert not events("booking.rescheduled")


def new_york(moment: dt.datetime) -> str:
    return f"{moment.astimezone(zoneinfo.ZoneInfo('America/New_York')):%a %-d %b %Y, %-I:%M %p %Z}"


def test_a_proposal_expires_at_the_cutoff_of_the_current_time(world):
    day = world["day"]
    proposal = propose(world, berlin(day + dt.timedelta(days=7), 14))
    later = proposal.expires_at
    assert later == booking_service.change_cutoff(world["booking"].interview_type, berlin(day, 10))
    standing = proposals.standing(fresh(world["booking"]), now=later)
    assert standing is not None and standing.state == "expired"
    for answer in (
        lambda: proposals.accept(world["booking"].id, world["learner"].id, proposal.id, now=later),
        lambda: proposals.decline(world["booking"].id, world["learner"].id, proposal.id, now=later),
    ):
        with pytest.raises(proposals.ProposalExpired) as expired:
            answer()
        assert expired.value.detail.startswith("This proposal expired at ")
        db.session.rollback()
    assert proposals.open_for([world["booking"].id], now=later) == set()
    assert proposals.open_for([world["booking"].id]) == {world["booking"].id}


def test_a_proposal_expires_when_its_start_is_no_longer_bookable(world, make_user):
    """A session far ahead, a new time soon: the new time's minimum notice comes first."""
    owl = make_coach(make_user, "UTC", start=dt.time(0), end=dt.time(23, 59), weekdays=range(7))
    # Both times keep clear of the owl's last hour, where a session would run past 23:59.
    far = dt.datetime.combine((utcnow() + dt.timedelta(days=10)).date(), dt.time(12), tzinfo=dt.UTC)
    session, _ = booking_service.book(
        world["learner"].id,
        booking_service.BookingRequest(type="coding", start=far, coach_id=owl.id),
    )
    db.session.commit()
    near = availability.grid_ceil(utcnow() + dt.timedelta(hours=16), 30)
    while near.time() >= dt.time(22):
        near += dt.timedelta(minutes=30)
    proposal = proposals.propose(session.id, owl.id, proposals.ProposalRequest(start=near))
    db.session.commit()
    assert proposal.expires_at == near - dt.timedelta(hours=12)
    assert proposals.standing(session, now=proposal.expires_at).state == "expired"


# --- declining and withdrawing -------------------------------------------------------------------


def test_declining_keeps_the_session_and_tells_the_coach(world):
    day = world["day"]
    proposal = propose(world, berlin(day, 14))
    proposals.decline(
        world["booking"].id, world["learner"].id, proposal.id, "  Mornings suit me better.  "
    )
    db.session.commit()

    session = fresh(world["booking"])
    assert session.start_at == berlin(day, 10) and session.sequence == 0
    row = db.session.get(TimeProposal, proposal.id)
    assert row.status == "declined" and row.reply == "Mornings suit me better."
    assert history(session) == ["booked", "time_proposed", "proposal_declined"]
    assert proposals.standing(session).state == "declined"
    process_all()
    [note] = notes(world["coach"], "booking_proposal_declined")
    assert note.link == f"http://testserver/coach/sessions/{session.id}"
    [email] = mail(world["coach"], "booking_proposal_declined")
    assert email.subject.startswith("Declined: Lee Learner keeps the Coding mock interview at ")
    assert "Mornings suit me better." in email.text_body
    assert "(Europe/Berlin)" in email.text_body  # in the coach's zone
    # Declining twice changes nothing; accepting after declining is refused.
    proposals.decline(world["booking"].id, world["learner"].id, proposal.id)
    with pytest.raises(proposals.ProposalClosed) as closed:
        proposals.accept(world["booking"].id, world["learner"].id, proposal.id)
    assert closed.value.detail == "You declined this time: the session stays as it is."
    db.session.rollback()
    assert len(events("booking.proposal_declined")) == 1


def test_only_the_sessions_learner_answers(world, make_user):
    proposal = propose(world, berlin(world["day"], 14))
    stranger = make_user("learner")
    for answer in (proposals.accept, proposals.decline):
        with pytest.raises(NotFound):
            answer(world["booking"].id, stranger.id, proposal.id)
        with pytest.raises(Forbidden):
            answer(world["booking"].id, world["coach"].id, proposal.id)
        with pytest.raises(NotFound):  # a proposal of another booking, or none
            answer(world["booking"].id, world["learner"].id, proposal.id + 1000)
    db.session.rollback()
    assert db.session.get(TimeProposal, proposal.id).status == "open"


def test_the_coach_withdraws_and_nothing_is_sent_for_it(world):
    proposal = propose(world, berlin(world["day"], 14))
    proposals.withdraw(world["booking"].id, world["coach"].id, proposal.id)
    proposals.withdraw(world["booking"].id, world["coach"].id, proposal.id)  # twice: no change
    db.session.commit()
    assert db.session.get(TimeProposal, proposal.id).status == "withdrawn"
    assert history(fresh(world["booking"])).count("proposal_withdrawn") == 1
    with pytest.raises(proposals.ProposalClosed) as closed:
        proposals.accept(world["booking"].id, world["learner"].id, proposal.id)
    assert closed.value.detail == "Casey Coach withdrew this proposal: the session stays as it is."
    db.session.rollback()
    # Withdrawn before the worker got to it: the learner is not asked any more.
    process_all()
    assert notes(world["learner"], "booking_time_proposed") == []
    assert proposals.standing(fresh(world["booking"])).state == "withdrawn"


def test_an_answered_proposal_cannot_be_withdrawn(world):
    proposal = propose(world, berlin(world["day"], 14))
    proposals.decline(world["booking"].id, world["learner"].id, proposal.id)
    db.session.commit()
    with pytest.raises(proposals.ProposalClosed) as closed:
        proposals.withdraw(world["booking"].id, world["coach"].id, proposal.id)
    assert closed.value.detail == "Lee Learner declined this time: the session stays as it is."


@pytest.mark.parametrize("change", ["cancel", "reschedule"])
def test_cancelling_or_moving_the_session_closes_its_open_proposal(world, change):
    day = world["day"]
    proposal = propose(world, berlin(day, 14))
    if change == "cancel":
        booking_service.cancel(world["booking"].id, world["learner"].id)
    else:
        booking_service.reschedule(
            world["booking"].id,
            world["learner"].id,
            booking_service.RescheduleRequest(start=berlin(day, 12)),
        )
    db.session.commit()
    assert db.session.get(TimeProposal, proposal.id).status == "closed"
    assert proposals.standing(fresh(world["booking"])) is None
    with pytest.raises(proposals.ProposalClosed):
        proposals.accept(world["booking"].id, world["learner"].id, proposal.id)
    db.session.rollback()
