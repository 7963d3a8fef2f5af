"""The dashboards (services/dashboard.py and /dashboard), résumé states in words, opening a
notification, the offer's deadline in its notification, and the demo's history; SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from sqlalchemy import func, select

from services import dashboard, demo, resumes
from services.db import db, utcnow
from services.errors import Forbidden
from services.models import (
    Assignment,
    Booking,
    Delivery,
    Notification,
    Resume,
    ResumeVersion,
    Review,
    SessionFeedback,
)
from services.models.resumes import CRITERIA
from services.resumes import routing, stats
from tests.support_auth import sign_in
from tests.support_booking import at, future_weekday, insert_booking, make_coach, process_all
from tests.support_staff import QueryCounter, make_resume

FORMAT = "%a %-d %b %Y, %H:%M %Z"


def local(moment: dt.datetime, tz: str) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(tz)).strftime(FORMAT)


@pytest.fixture
def world(make_user, db_session):
    from tests.support_booking import seed_types

    seed_types()
    return {
        "learner": make_user("learner", name="Lin Learner", timezone="America/New_York"),
        "other": make_user("learner", name="Omar Other"),
        "coach": make_coach(make_user, tz="Europe/Berlin", name="Cora Coach"),
        "staff": make_user("staff", name="Sam Staff", timezone="America/Los_Angeles"),
    }


def offered(world, role="ML engineer", learner=None):
    resume = make_resume(learner or world["learner"], target_role=role)
    routing.assign_manually(world["staff"], resume.id, world["coach"].id, "test")
    db.session.commit()
    return resume


def reviewed(world, outcome, role="Data scientist"):
    resume = offered(world, role)
    resumes.submit_review(
        world["coach"],
        resume.id,
        resumes.ReviewInput(
            summary="Show what you built.", scores=dict.fromkeys(CRITERIA, 3), outcome=outcome
        ),
    )
    db.session.commit()
    return resume


def live(resume):
    return db.session.scalar(
        select(Assignment).where(
            Assignment.resume_id == resume.id, Assignment.status.in_(("offered", "accepted"))
        )
    )


# --- the learner's dashboard ---------------------------------------------------------------------


def test_a_learner_sees_the_next_session_their_resumes_states_and_feedback(world):
    learner, coach = world["learner"], world["coach"]
    day = future_weekday(4)
    first = insert_booking(learner.id, coach.id, at(day, 10), "coding")
    later = insert_booking(learner.id, coach.id, at(day + dt.timedelta(days=2), 11), "behavioral")
    insert_booking(learner.id, coach.id, at(day, 14), "technical-ml", status="cancelled")
    past = insert_booking(learner.id, coach.id, utcnow() - dt.timedelta(days=3), "coding")
    past.status = "completed"
    db.session.add(
        SessionFeedback(
            booking_id=past.id,
            coach_id=coach.id,
            communication=4,
            technical_depth=3,
            problem_solving=4,
            ml_knowledge=3,
        )
    )
    db.session.commit()
    waiting = offered(world, "ML engineer")
    changes = reviewed(world, "changes_required", "Data scientist")
    insert_booking(world["other"].id, coach.id, at(day, 12), "coding")  # someone else's

    board = dashboard.for_learner(learner)

    assert board.next_session is not None
    assert board.next_session.booking.id == first.id
    assert board.next_session.changeable and board.next_session.reschedules_left == 2
    assert board.next_session.cutoff == first.start_at - dt.timedelta(hours=24)
    assert [b.id for b in board.later_sessions] == [later.id]
    assert [b.id for b in board.feedback] == [past.id]
    labels = {v.resume.id: v.status for v in board.resumes}
    expires = live(waiting).expires_at
    assert labels[waiting.id].text == (
        f"Offered to Cora Coach, accept by {local(expires, 'America/New_York')}"
    )
    assert labels[changes.id].text == "Reviewed — changes requested: upload a new version"
    assert labels[changes.id].next_step == "Upload a new version"
    assert labels[changes.id].tone == "attention"
    assert board.suspension is None


def test_a_session_inside_its_cutoff_can_no_longer_be_changed_from_the_dashboard(world):
    soon = insert_booking(
        world["learner"].id, world["coach"].id, utcnow() + dt.timedelta(hours=3), "coding"
    )
    board = dashboard.for_learner(world["learner"])
    assert board.next_session.booking.id == soon.id
    assert not board.next_session.changeable and not board.next_session.started


def test_the_learner_dashboard_takes_the_same_queries_for_many_sessions_and_resumes(world):
    learner, coach = world["learner"], world["coach"]
    insert_booking(learner.id, coach.id, at(future_weekday(3), 9), "coding")
    offered(world, "First role")
    with QueryCounter() as few:
        dashboard.for_learner(learner)
    day = future_weekday(6)
    for hour in (9, 11, 13, 15):
        insert_booking(learner.id, coach.id, at(day, hour), "technical-ml")
    for n in range(6):
        offered(world, f"Role {n}")
    reviewed(world, "approved", "Reviewed role")
    with QueryCounter() as many:
        board = dashboard.for_learner(learner)
    assert len(board.later_sessions) == 4 and len(board.resumes) == dashboard.LEARNER_RESUMES
    assert board.more_resumes
    assert many.count == few.count, (few.statements, many.statements)
    assert many.count <= 12


def test_each_dashboard_is_its_own_roles(world):
    with pytest.raises(Forbidden):
        dashboard.for_learner(world["coach"])
    with pytest.raises(Forbidden):
        dashboard.for_coach(world["learner"])
    with pytest.raises(Forbidden):
        dashboard.for_staff(world["coach"])


# --- the coach's dashboard -----------------------------------------------------------------------


def test_a_coach_sees_offers_with_their_deadline_reviews_and_the_day_in_their_zone(world):
    learner, other, coach = world["learner"], world["other"], world["coach"]
    berlin = "Europe/Berlin"
    day = future_weekday(7, berlin)
    now = at(day, 12, tz=berlin)
    offer = offered(world, "ML engineer")
    review = offered(world, "MLOps engineer", learner=other)
    resumes.accept(coach, review.id)
    live(review).due_at = utcnow() - dt.timedelta(hours=1)  # late
    db.session.commit()
    # 00:15 in Berlin is still the day before in UTC: "today" is the coach's own.
    midnight = insert_booking(learner.id, coach.id, at(day, 0, 15, tz=berlin), "coding")
    morning = insert_booking(other.id, coach.id, at(day, 9, tz=berlin), "coding")
    afternoon = insert_booking(learner.id, coach.id, at(day, 15, tz=berlin), "behavioral")
    yesterday = insert_booking(
        other.id, coach.id, at(day - dt.timedelta(days=1), 10, tz=berlin), "coding", "completed"
    )
    insert_booking(
        learner.id, coach.id, at(day - dt.timedelta(days=1), 23, tz=berlin), "coding", "cancelled"
    )
    tomorrow = insert_booking(
        other.id, coach.id, at(day + dt.timedelta(days=1), 10, tz=berlin), "coding"
    )

    board = dashboard.for_coach(coach, now=now)

    assert [i.resume.id for i in board.offers] == [offer.id]
    assert board.offers[0].status.text == (
        f"Offered to you, accept by {local(live(offer).expires_at, berlin)}"
    )
    assert [i.resume.id for i in board.reviews] == [review.id] and board.reviews[0].overdue
    assert board.day == day
    assert [b.id for b in board.today] == [midnight.id, morning.id, afternoon.id]
    assert [b.id for b in board.to_record] == [midnight.id, morning.id]
    assert [b.id for b in board.to_write] == [yesterday.id]
    assert board.next_session.id == tomorrow.id
    assert board.joinable(afternoon) and not board.joinable(morning)


def test_the_coach_dashboard_takes_the_same_queries_for_many_offers_and_sessions(world):
    coach, learner = world["coach"], world["learner"]
    offered(world, "One")
    insert_booking(learner.id, coach.id, utcnow() - dt.timedelta(days=2), "coding")
    with QueryCounter() as few:
        dashboard.for_coach(coach)
    for n in range(4):
        offered(world, f"Role {n}", learner=world["other"])
    for days in (3, 4, 5):
        insert_booking(learner.id, coach.id, utcnow() - dt.timedelta(days=days), "coding")
    with QueryCounter() as many:
        board = dashboard.for_coach(coach)
    assert len(board.offers) == 5 and len(board.to_record) == 4
    assert many.count == few.count, (few.statements, many.statements)


# --- the staff dashboard -------------------------------------------------------------------------


def test_staff_see_queue_health_and_what_needs_them(world, db_session):
    staff = world["staff"]
    before = dashboard.for_staff(staff)
    offered(world, "Waiting for Cora")
    late = offered(world, "Late one")
    resumes.accept(world["coach"], late.id)
    live(late).due_at = utcnow() - dt.timedelta(hours=2)
    db.session.get(Resume, late.id).due_at = utcnow() - dt.timedelta(hours=2)
    stuck = make_resume(world["other"], target_role="Nobody free")
    stuck.status = "unassigned"
    db.session.add(
        Delivery(
            dedupe_key="test:dashboard:failed",
            user_id=staff.id,
            kind="booking_confirmed",
            to_address=staff.email,
            subject="Failed",
            text_body="Body",
            status="failed",
            failed_at=utcnow(),
        )
    )
    db.session.commit()

    after = dashboard.for_staff(staff)

    assert after.unassigned - before.unassigned == 1
    assert after.overdue - before.overdue == 1
    assert after.offers_pending - before.offers_pending == 1
    assert after.open - before.open == 3
    assert after.failed_emails - before.failed_emails == 1
    assert after.needs_attention


# --- the pages -----------------------------------------------------------------------------------


def test_the_learner_dashboard_links_to_the_work(client, world):
    learner = world["learner"]
    booking = insert_booking(learner.id, world["coach"].id, at(future_weekday(4), 10), "coding")
    changes = reviewed(world, "changes_required")
    sign_in(client, learner.email)
    html = client.get("/dashboard").get_data(as_text=True)
    assert re.search(r"<title>Dashboard · Career Services</title>", html)
    assert '<h1 id="dashboard-title">Dashboard</h1>' in html
    assert re.search(r'href="/dashboard" aria-current="page">Dashboard</a>', html)
    assert f'href="/learn/bookings/{booking.id}"' in html
    assert f'href="{booking.meeting_url}"' in html and ">Join<" in html
    assert f'href="/learn/bookings/{booking.id}/reschedule">Reschedule</a>' in html
    assert f'href="/learn/bookings/{booking.id}#change-heading">Cancel</a>' in html
    assert f'href="/learn/resumes/{changes.id}#new-version">Upload a new version' in html
    assert "Reviewed — changes requested: upload a new version" in html


def test_the_coach_dashboard_links_each_offer_with_its_deadline(client, world):
    coach = world["coach"]
    offer = offered(world, "ML engineer")
    past = insert_booking(world["learner"].id, coach.id, utcnow() - dt.timedelta(days=1))
    sign_in(client, coach.email)
    html = client.get("/dashboard").get_data(as_text=True)
    deadline = local(live(offer).expires_at, "Europe/Berlin")
    assert f'href="/coach/reviews/{offer.id}">Lin Learner: ML engineer</a>' in html
    assert "Accept by <time datetime=" in html and deadline in html
    assert f'href="/coach/sessions/{past.id}#outcome-heading">Mark completed or no-show' in html


def test_the_staff_dashboard_links_its_numbers_to_the_filtered_queue_and_has_one_name(
    client, world
):
    sign_in(client, world["staff"].email)
    html = client.get("/dashboard").get_data(as_text=True)
    for query in ("status=unassigned", "overdue=1", "status=assigned"):
        assert f'href="/staff/queue?{query}"' in html
    # The console's first page has one name, Statistics, in the nav, its tab, <title> and <h1>.
    assert re.search(r'href="/staff/"\s*>Statistics</a>', html)
    console = client.get("/staff/").get_data(as_text=True)
    assert "<title>Statistics · Career Services</title>" in console
    assert '<h1 id="dash-title">Statistics</h1>' in console
    assert re.search(r'href="/staff/" aria-current="page">Statistics</a>', console)
    assert "Staff dashboard" not in console and ">Console<" not in console


# --- résumé states in words ----------------------------------------------------------------------


def test_an_offered_resume_says_to_whom_and_until_when_on_every_page(client, world, make_user):
    resume = offered(world)
    expires = live(resume).expires_at
    sign_in(client, world["learner"].email)
    page = client.get(f"/learn/resumes/{resume.id}").get_data(as_text=True)
    assert f"Offered to Cora Coach, accept by {local(expires, 'America/New_York')}" in page
    badge = re.search(r'<span class="resume-status [^"]+"[^>]*>([^<]+)</span>', page)
    assert badge.group(1).startswith("Offered to Cora Coach, accept by")
    listing = client.get("/learn/resumes").get_data(as_text=True)
    assert "Offered to Cora Coach, accept by" in listing

    coach_client = client.application.test_client()
    sign_in(coach_client, world["coach"].email)
    queue = coach_client.get("/coach/reviews").get_data(as_text=True)
    assert f"Offered to you, accept by {local(expires, 'Europe/Berlin')}" in queue

    staff_client = client.application.test_client()
    sign_in(staff_client, world["staff"].email)
    staff_queue = staff_client.get("/staff/queue").get_data(as_text=True)
    assert f"Offered to Cora Coach, accept by {local(expires, 'America/Los_Angeles')}" in (
        staff_queue
    )


def test_changes_requested_is_not_a_green_reviewed(client, world):
    changes = reviewed(world, "changes_required")
    approved = reviewed(world, "approved", "Approved role")
    sign_in(client, world["learner"].email)
    page = client.get(f"/learn/resumes/{changes.id}").get_data(as_text=True)
    badge = re.search(r'<span class="resume-status ([^"]+)"[^>]*>([^<]+)</span>', page)
    assert badge.group(2) == "Reviewed — changes requested: upload a new version"
    assert "tone-attention" in badge.group(1) and "tone-good" not in badge.group(1)
    assert 'href="#new-version"' in page and 'id="new-version"' in page
    good = client.get(f"/learn/resumes/{approved.id}").get_data(as_text=True)
    assert "Reviewed — approved" in good and "tone-good" in good


# --- notifications -------------------------------------------------------------------------------


def notification(user, link, title="Your résumé was reviewed"):
    row = Notification(
        user_id=user.id,
        kind="resume_reviewed",
        title=title,
        body="Body",
        link=link,
        dedupe_key=f"test:open:{user.id}:{title}",
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_opening_a_notification_marks_it_read_and_goes_where_it_points(client, world):
    learner = world["learner"]
    row = notification(learner, "http://testserver/learn/resumes/5#review-heading")
    sign_in(client, learner.email)
    listing = client.get("/notifications").get_data(as_text=True)
    assert f'href="/notifications/{row.id}">Your résumé was reviewed</a>' in listing
    assert re.search(r"Notifications <span class=\"badge\">1", listing)

    response = client.get(f"/notifications/{row.id}")

    assert response.status_code == 302
    assert response.headers["Location"] == "/learn/resumes/5#review-heading"
    db.session.expire_all()
    read_at = db.session.get(Notification, row.id).read_at
    assert read_at is not None
    again = client.get(f"/notifications/{row.id}")  # opening it again changes nothing
    assert again.status_code == 302
    db.session.expire_all()
    assert db.session.get(Notification, row.id).read_at == read_at
    assert 'class="badge"' not in client.get("/notifications").get_data(as_text=True)


def test_someone_elses_notification_is_not_found_and_stays_unread(client, world):
    row = notification(world["other"], "http://testserver/dashboard")
    sign_in(client, world["learner"].email)
    assert client.get(f"/notifications/{row.id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, row.id).read_at is None


def test_a_notification_never_leads_off_the_site_and_one_without_a_link_goes_to_the_list(
    client, world
):
    learner = world["learner"]
    elsewhere = notification(learner, "https://evil.example//phish?x=1", "Elsewhere")
    nowhere = notification(learner, None, "Nowhere")
    sign_in(client, learner.email)
    assert client.get(f"/notifications/{elsewhere.id}").headers["Location"] == "/phish?x=1"
    assert client.get(f"/notifications/{nowhere.id}").headers["Location"] == "/notifications"
    db.session.expire_all()
    assert db.session.get(Notification, nowhere.id).read_at is not None


def test_an_offer_notification_gives_the_accept_by_time_in_app_and_by_email(world):
    resume = offered(world)
    process_all()
    deadline = local(live(resume).expires_at, "Europe/Berlin")
    note = db.session.scalar(
        select(Notification).where(
            Notification.user_id == world["coach"].id, Notification.kind == "resume_assigned"
        )
    )
    assert f"Accept it by {deadline}" in note.body
    email = db.session.scalar(
        select(Delivery).where(
            Delivery.user_id == world["coach"].id, Delivery.kind == "resume_assigned"
        )
    )
    assert deadline in email.subject and f"Accept it by {deadline}" in email.text_body


# --- the demo's history --------------------------------------------------------------------------


def test_the_demo_has_a_history_for_every_dashboard_and_chart(app, db_session):
    from services import accounts, storage

    demo.seed_demo()
    db.session.commit()
    lin = accounts.find_by_email("learner.lin@example.com")
    ada = accounts.find_by_email("coach.ada@example.com")
    grace = accounts.find_by_email("coach.grace@example.com")
    staff = accounts.find_by_email("staff@example.com")

    learner_board = dashboard.for_learner(lin)
    assert learner_board.next_session.changeable and learner_board.next_session.reschedules_left
    assert learner_board.feedback
    assert "changes_requested" in {v.status.code for v in learner_board.resumes}
    ada_board = dashboard.for_coach(ada)
    assert ada_board.offers and ada_board.to_record and ada_board.to_write
    grace_board = dashboard.for_coach(grace)
    assert grace_board.reviews and (grace_board.today or grace_board.next_session)
    staff_board = dashboard.for_staff(staff)
    assert staff_board.unassigned >= 1 and staff_board.offers_pending >= 1

    outcomes = dict(
        db.session.execute(select(Booking.status, func.count()).group_by(Booking.status)).all()
    )
    assert outcomes.get("completed", 0) >= 1 and outcomes.get("no_show", 0) >= 1
    weeks = [w for w in stats.turnaround_per_week(staff) if w["reviews"]]
    assert len(weeks) >= 2
    assert db.session.scalar(select(func.count(Review.id))) >= 4
    # The files are there to be read, as uploaded ones are.
    store = storage.current()
    for version in db.session.scalars(select(ResumeVersion)):
        assert store.exists(version.sha256)
    # Ada's calendar this week holds nothing of the demo's (its sessions were last week or before).
    zone = zoneinfo.ZoneInfo(ada.timezone)
    today = dt.datetime.now(zone).date()
    monday = dt.datetime.combine(today - dt.timedelta(days=today.weekday()), dt.time(), zone)
    assert not db.session.scalar(
        select(func.count(Booking.id)).where(Booking.coach_id == ada.id, Booking.start_at >= monday)
    )
    assert demo.seed_history() is False  # once
