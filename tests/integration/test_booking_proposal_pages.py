"""The pages of a proposed new time: the coach picks one of their free times and sends it with a
message, sees it waiting and may withdraw it; the learner sees it (old and new time in their zone
and on their clock) and accepts or declines it. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from services import booking as booking_service
from services.booking import proposals
from services.db import db
from services.models import Booking, TimeProposal
from tests.support_auth import csrf_token, post_form, sign_in
from tests.support_booking import at, future_weekday, make_coach, seed_types

BERLIN = "Europe/Berlin"
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


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
    return {"coach": coach, "learner": learner, "day": day, "id": session.id}


def berlin(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return at(day, hour, minute, BERLIN)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def links(page: str, pattern: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]*' + pattern + r'[^"]*)"', page)]


def start_of(link: str) -> dt.datetime:
    return dt.datetime.fromisoformat(parse_qs(urlsplit(link).query)["start"][0])


def ny(moment: dt.datetime) -> str:
    """How the learner (New York, 12-hour clock) reads a time."""
    return f"{moment.astimezone(NEW_YORK):%a %-d %b %Y, %-I:%M %p %Z}"


def row(booking_id: int) -> Booking:
    db.session.expire_all()
    found = db.session.get(Booking, booking_id)
    assert found is not None
    return found


def open_proposal(booking_id: int) -> TimeProposal | None:
    db.session.expire_all()
    return db.session.scalar(
        select(TimeProposal).where(
            TimeProposal.booking_id == booking_id, TimeProposal.status == "open"
        )
    )


def propose_through_the_pages(client, world, hour: int, message: str = "") -> str:
    """The coach picks ``hour`` (Berlin) on the session's day and sends it; returns the session
    page after the redirect."""
    session_page = f"/coach/sessions/{world['id']}"
    picker = links(text(client.get(session_page)), f"/coach/sessions/{world['id']}/propose")
    assert picker, "the session page offers no way to propose a time"
    week = world["day"].isoformat()
    page = text(client.get(f"/coach/sessions/{world['id']}/propose?week={week}"))
    wanted = berlin(world["day"], hour)
    [target] = [link for link in links(page, "/propose/confirm") if start_of(link) == wanted]
    confirm = client.get(target)
    assert confirm.status_code == 200
    response = client.post(
        target, data={"csrf_token": csrf_token(client, target), "message": message}
    )
    assert response.status_code == 302, text(response)
    assert response.headers["Location"].endswith(session_page)
    return text(client.get(session_page))


# --- the coach -----------------------------------------------------------------------------------


def test_the_coach_picks_a_free_time_and_sees_it_waiting(client, world):
    sign_in(client, world["coach"].email)
    week = world["day"].isoformat()
    picker = text(client.get(f"/coach/sessions/{world['id']}/propose?week={week}"))
    # The coach's own hours in their own zone (Berlin 09:00-17:00); the session's time is marked.
    assert ">09:00<" in picker and ">16:00<" in picker
    assert "10:00 (now)" in picker
    assert "shown in Europe/Berlin" in picker

    page = propose_through_the_pages(client, world, 14, "A workshop moved onto my morning.")
    assert "New time proposed. Lee Learner is asked to accept or decline it" in page
    proposal = open_proposal(world["id"])
    assert proposal is not None and proposal.start_at == berlin(world["day"], 14)
    assert proposal.message == "A workshop moved onto my morning."
    assert "You proposed" in page and "A workshop moved onto my morning." in page
    assert "can accept or decline it until" in page
    assert "Withdraw the proposal" in page and "Propose another time" in page
    assert row(world["id"]).start_at == berlin(world["day"], 10)
    listing = text(client.get("/coach/sessions"))
    assert "new time proposed" in listing

    # Another proposal replaces it; the picker says so and marks the proposed time.
    again = text(client.get(f"/coach/sessions/{world['id']}/propose?week={world['day']}"))
    assert "a new proposal replaces it" in again and "14:00 (proposed)" in again

    withdrawn = post_form(
        client,
        f"/coach/sessions/{world['id']}/proposal/withdraw",
        {"proposal": str(proposal.id)},
        form_page=f"/coach/sessions/{world['id']}",
    )
    assert withdrawn.status_code == 302
    db.session.refresh(proposal)
    assert proposal.status == "withdrawn"
    page = text(client.get(f"/coach/sessions/{world['id']}"))
    assert "Proposal withdrawn. The session keeps its time." in page
    assert "Withdraw the proposal" not in page and "Propose a new time" in page


def test_a_message_too_long_comes_back_on_its_field_and_nothing_is_sent(client, world):
    sign_in(client, world["coach"].email)
    start = berlin(world["day"], 14).isoformat()
    target = f"/coach/sessions/{world['id']}/propose/confirm?start={start.replace('+', '%2B')}"
    response = client.post(
        target,
        data={"csrf_token": csrf_token(client, target), "start": start, "message": "x" * 1001},
    )
    assert response.status_code == 422
    page = text(response)
    assert 'id="message-error"' in page and "1000 characters" in page
    assert open_proposal(world["id"]) is None


def test_a_time_off_the_rules_goes_back_to_the_list_with_why(client, world):
    sign_in(client, world["coach"].email)
    off_grid = berlin(world["day"], 14, 10).isoformat().replace("+", "%2B")
    response = client.get(f"/coach/sessions/{world['id']}/propose/confirm?start={off_grid}")
    assert response.status_code == 302
    assert f"/coach/sessions/{world['id']}/propose" in response.headers["Location"]
    page = text(client.get(response.headers["Location"]))
    assert "Sessions start on the 30-minute grid" in page
    forged = client.post(
        f"/coach/sessions/{world['id']}/propose/confirm?start={off_grid}",
        data={"csrf_token": csrf_token(client, "/coach/sessions"), "start": off_grid},
    )
    assert forged.status_code == 302
    assert open_proposal(world["id"]) is None


def test_another_coach_cannot_propose_or_withdraw(client, world, make_user):
    proposal = proposals.propose(
        world["id"], world["coach"].id, proposals.ProposalRequest(berlin(world["day"], 14))
    )
    db.session.commit()
    other = make_coach(make_user, BERLIN)
    sign_in(client, other.email)
    assert client.get(f"/coach/sessions/{world['id']}/propose").status_code == 404
    response = post_form(
        client,
        f"/coach/sessions/{world['id']}/proposal/withdraw",
        {"proposal": str(proposal.id)},
        form_page="/coach/sessions",
    )
    assert response.status_code == 404
    assert open_proposal(world["id"]) is not None


def test_a_session_inside_its_cutoff_offers_no_proposal(client, world, make_user):
    owl = make_coach(make_user, "UTC", start=dt.time(0), end=dt.time(23, 59), weekdays=range(7))
    now = dt.datetime.now(dt.UTC)
    start = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=14)
    soon, _ = booking_service.book(
        world["learner"].id,
        booking_service.BookingRequest(type="coding", start=start, coach_id=owl.id),
    )
    db.session.commit()
    sign_in(client, owl.email)
    page = text(client.get(f"/coach/sessions/{soon.id}"))
    assert "Propose a new time" not in page and "Cancel session" not in page
    response = client.get(f"/coach/sessions/{soon.id}/propose")
    assert response.status_code == 302
    assert "Sessions can be moved until 24 hours before they start" in text(
        client.get(response.headers["Location"])
    )


# --- the learner ---------------------------------------------------------------------------------


def test_the_learner_sees_the_proposal_in_their_zone_and_clock_and_accepts(client, world):
    sign_in(client, world["coach"].email)
    propose_through_the_pages(client, world, 14, "Afternoon instead?")
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})

    sign_in(client, world["learner"].email)
    # The list of their sessions says a new time waits for an answer, and leads to it.
    listed = text(client.get("/learn/bookings"))
    assert 'data-testid="proposal-flag"' in listed
    assert f'href="/learn/bookings/{world["id"]}#proposal">accept or decline it' in listed
    page = text(client.get(f"/learn/bookings/{world['id']}"))
    assert "Casey Coach proposes a new time" in page
    assert f"<del>{ny(berlin(world['day'], 10))}</del>" in page
    assert f'data-testid="proposed-when">{ny(berlin(world["day"], 14))}</time>' in page
    assert "Afternoon instead?" in page
    assert "Accept the new time" in page and "Decline, keep the current time" in page

    accepted = post_form(
        client,
        f"/learn/bookings/{world['id']}/proposal/accept",
        {"proposal": str(open_proposal(world["id"]).id)},
        form_page=f"/learn/bookings/{world['id']}",
    )
    assert accepted.status_code == 302
    page = text(client.get(f"/learn/bookings/{world['id']}"))
    assert "Moved to the new time. Your calendar invitation is updated." in page
    assert f'data-testid="booking-when">{ny(berlin(world["day"], 14))}' in page
    assert "proposes a new time" not in page
    assert "rescheduled to the time the coach proposed by Lee Learner" in page
    assert 'data-testid="proposal-flag"' not in text(client.get("/learn/bookings"))
    session = row(world["id"])
    assert session.start_at == berlin(world["day"], 14) and session.reschedule_count == 0
    # Still both of the learner's own moves left.
    assert "You can move it 2 more times." in page


def test_the_learner_declines_with_a_note_and_the_coach_reads_it(client, world):
    proposal = proposals.propose(
        world["id"], world["coach"].id, proposals.ProposalRequest(berlin(world["day"], 14))
    )
    db.session.commit()
    sign_in(client, world["learner"].email)
    declined = post_form(
        client,
        f"/learn/bookings/{world['id']}/proposal/decline",
        {"proposal": str(proposal.id), "reply": "Mornings suit me better."},
        form_page=f"/learn/bookings/{world['id']}",
    )
    assert declined.status_code == 302
    page = text(client.get(f"/learn/bookings/{world['id']}"))
    assert "Declined. Your session keeps its time, and your coach is told." in page
    assert "You declined the proposed time" in page
    assert "Accept the new time" not in page
    assert row(world["id"]).start_at == berlin(world["day"], 10)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})

    sign_in(client, world["coach"].email)
    page = text(client.get(f"/coach/sessions/{world['id']}"))
    assert "Lee Learner declined the time you proposed" in page
    assert "Mornings suit me better." in page


def test_a_time_taken_since_is_shown_and_accepting_it_keeps_the_session(client, world, make_user):
    proposal = proposals.propose(
        world["id"], world["coach"].id, proposals.ProposalRequest(berlin(world["day"], 14))
    )
    db.session.commit()
    booking_service.book(
        make_user("learner").id,
        booking_service.BookingRequest(
            type="coding", start=berlin(world["day"], 14), coach_id=world["coach"].id
        ),
    )
    db.session.commit()
    sign_in(client, world["learner"].email)
    page = text(client.get(f"/learn/bookings/{world['id']}"))
    assert "The time Casey Coach proposed is no longer free" in page
    assert "Accept the new time" not in page
    # An Accept sent from a page opened earlier: refused with why, nothing moves.
    response = post_form(
        client,
        f"/learn/bookings/{world['id']}/proposal/accept",
        {"proposal": str(proposal.id)},
        form_page=f"/learn/bookings/{world['id']}",
    )
    assert response.status_code == 302
    page = text(client.get(f"/learn/bookings/{world['id']}"))
    assert (
        f"This proposal has expired: the proposed time, {ny(berlin(world['day'], 14))}, is no "
        "longer free." in page
    )
    assert row(world["id"]).start_at == berlin(world["day"], 10)


def test_answers_need_the_form_token_and_the_booking_of_the_learner(client, world, make_user):
    proposal = proposals.propose(
        world["id"], world["coach"].id, proposals.ProposalRequest(berlin(world["day"], 14))
    )
    db.session.commit()
    sign_in(client, world["learner"].email)
    url = f"/learn/bookings/{world['id']}/proposal/accept"
    assert client.post(url, data={"proposal": str(proposal.id)}).status_code == 400
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    sign_in(client, make_user("learner").email)
    response = post_form(client, url, {"proposal": str(proposal.id)}, form_page="/learn/bookings")
    assert response.status_code == 404
    assert open_proposal(world["id"]) is not None
    assert row(world["id"]).start_at == berlin(world["day"], 10)


def test_the_preferences_offer_each_side_its_kind(client, world):
    sign_in(client, world["learner"].email)
    learner_page = text(client.get("/notifications/preferences"))
    assert 'name="booking_time_proposed"' in learner_page and "New time proposed" in learner_page
    assert "booking_proposal_declined" not in learner_page
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    sign_in(client, world["coach"].email)
    coach_page = text(client.get("/notifications/preferences"))
    assert 'name="booking_proposal_declined"' in coach_page
    assert "booking_time_proposed" not in coach_page
