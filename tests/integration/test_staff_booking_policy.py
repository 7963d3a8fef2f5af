"""The staff console's booking policy pages: interview types and their settings, suspensions
(lift with a reason), the waitlist (positions, offers, remove with a reason). Each action writes
its audit entry; each bad input gives a message and changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services import booking as booking_service
from services.booking import interview_types, waitlist
from services.db import db, utcnow
from services.errors import Forbidden, NotFound, ValidationFailed
from services.models import (
    InterviewType,
    LearnerSuspension,
    Notification,
    OutboxEvent,
    StaffAction,
    WaitlistEntry,
)
from tests.support_auth import csrf_token, sign_in
from tests.support_booking import at, extra_hours, future_weekday, process_all, seed_types

PAGES = ("/staff/interview-types", "/staff/interview-types/coding/edit", "/staff/suspensions")
PAGES += ("/staff/waitlist",)


@pytest.fixture
def people(make_user):
    return {
        "learner": make_user("learner", name="Lena Learner"),
        "coach": make_user("coach", name="Ada Coach", expertise=["python"]),
        "staff": make_user("staff", name="Sam Staff"),
    }


@pytest.fixture
def signed_in(client, people):
    seed_types()
    sign_in(client, people["staff"].email)
    return client


def actions(name: str) -> list[StaffAction]:
    return list(
        db.session.scalars(
            select(StaffAction).where(StaffAction.action == name).order_by(StaffAction.id)
        )
    )


def post(client, path: str, data: dict[str, str], page: str = "/account/security", **kwargs):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)}, **kwargs)


def coding() -> InterviewType:
    db.session.expire_all()
    return interview_types.get("coding")


def settings(itype: InterviewType) -> dict[str, object]:
    return {name: getattr(itype, name) for name in interview_types.EDITABLE}


# --- access ---------------------------------------------------------------------------------------


def test_the_policy_pages_are_for_staff_only(client, people):
    seed_types()
    posts = ("/staff/suspensions/1/lift", "/staff/waitlist/1/remove")
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"], path
    for who in ("learner", "coach"):
        sign_in(client, people[who].email)
        token = csrf_token(client, "/account/security")
        for path in PAGES:
            assert client.get(path).status_code == 403, (who, path)
        for path in (*posts, "/staff/interview-types/coding/edit"):
            response = client.post(path, data={"csrf_token": token, "reason": "x"})
            assert response.status_code == 403, (who, path)
        client.post("/sign-out", data={"csrf_token": token})
    sign_in(client, people["staff"].email)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        if not path.endswith("/edit"):  # the console's sub-navigation leads to each page
            nav = response.get_data(as_text=True).split('aria-label="Staff console"')[1]
            nav = nav.split("</nav>")[0]
            for page in ("/staff/interview-types", "/staff/suspensions", "/staff/waitlist"):
                assert f'href="{page}"' in nav
            assert f'href="{path}" aria-current="page"' in nav
    assert client.get("/staff/interview-types/no-such-type/edit").status_code == 404


# --- interview types ------------------------------------------------------------------------------

GOOD = {
    "name": "Coding interview",
    "description": "Live coding in Python.",
    "duration_minutes": "50",
    "buffer_before_minutes": "5",
    "buffer_after_minutes": "10",
    "min_notice_hours": "24",
    "horizon_days": "21",
    "cancel_cutoff_hours": "48",
    "reason": "Longer exercises this term",
}


def test_the_types_page_lists_every_type_with_its_settings(signed_in):
    interview_types.configure("behavioral", {"active": False})
    db.session.commit()
    html = signed_in.get("/staff/interview-types").get_data(as_text=True)
    for slug in ("behavioral", "technical-ml", "ml-system-design", "coding"):
        assert f'id="type-{slug}"' in html
        assert f"/staff/interview-types/{slug}/edit" in html
    row = html.split('id="type-coding"')[1].split("</tr>")[0]
    assert "45 min" in row and "0 / 15 min" in row and "12 h" in row
    assert "30 days" in row and "24 h" in row and "bookable" in row
    behavioral = html.split('id="type-behavioral"')[1].split("</tr>")[0]
    assert "not bookable" in behavioral  # inactive types are listed too


def test_editing_a_type_changes_its_settings_and_is_audited(signed_in, people):
    form = signed_in.get("/staff/interview-types/coding/edit").get_data(as_text=True)
    assert 'value="45"' in form and 'value="Coding"' in form  # filled in from the type
    response = post(
        signed_in, "/staff/interview-types/coding/edit", GOOD, "/staff/interview-types/coding/edit"
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    itype = coding()
    assert settings(itype) == {
        "name": "Coding interview",
        "description": "Live coding in Python.",
        "duration_minutes": 50,
        "buffer_before_minutes": 5,
        "buffer_after_minutes": 10,
        "min_notice_hours": 24,
        "horizon_days": 21,
        "cancel_cutoff_hours": 48,
        "active": False,  # the box was not ticked
    }
    assert "coding" not in {t.slug for t in interview_types.list_active()}
    [entry] = actions("interview_type.update")
    assert entry.actor_id == people["staff"].id and entry.subject_id == itype.id
    assert entry.subject_type == "interview_type" and entry.reason == GOOD["reason"]
    assert entry.detail["before"]["duration_minutes"] == 45
    assert entry.detail["after"]["duration_minutes"] == 50
    assert entry.detail["before"]["active"] is True and entry.detail["after"]["active"] is False
    assert set(entry.detail["after"]) == set(interview_types.EDITABLE)  # every one changed
    # The API reads the same settings.
    assert (
        interview_types.get("coding").cancel_cutoff_hours == 48
        and signed_in.get("/staff/interview-types").status_code == 200
    )

    # Saving again without a change writes no second entry; a single change records only itself.
    again = {**GOOD, "reason": ""}
    post(signed_in, "/staff/interview-types/coding/edit", again, "/staff/interview-types")
    assert len(actions("interview_type.update")) == 1
    post(
        signed_in,
        "/staff/interview-types/coding/edit",
        {**again, "horizon_days": "30", "active": "y"},
        "/staff/interview-types",
    )
    second = actions("interview_type.update")[-1]
    assert second.detail["before"] == {"active": False, "horizon_days": 21}
    assert second.detail["after"] == {"active": True, "horizon_days": 30}
    assert coding().active is True


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration_minutes", "0", "from 15 to 240"),
        ("duration_minutes", "-30", "from 15 to 240"),
        ("duration_minutes", "241", "from 15 to 240"),
        ("duration_minutes", "forty", "Not a valid integer value"),
        ("duration_minutes", "", "Enter the duration"),
        ("buffer_before_minutes", "-1", "from 0 to 120"),
        ("buffer_after_minutes", "121", "from 0 to 120"),
        ("min_notice_hours", "337", "from 0 to 336"),
        ("horizon_days", "0", "from 1 to 365"),
        ("cancel_cutoff_hours", "-5", "from 0 to 336"),
        ("name", "   ", "Enter a name"),
        ("name", "N" * 121, "at most 120 characters"),
        ("description", "d" * 2001, "at most 2000 characters"),
    ],
)
def test_a_bad_setting_gives_a_form_message_and_changes_nothing(signed_in, field, value, message):
    before = settings(coding())
    response = post(
        signed_in,
        "/staff/interview-types/coding/edit",
        {**GOOD, field: value},
        "/staff/interview-types/coding/edit",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "field-error" in html and message in html
    assert f'id="{field}-error"' in html  # the message sits by the field it is about
    assert settings(coding()) == before
    assert actions("interview_type.update") == []


def test_a_notice_as_long_as_the_horizon_is_refused_by_the_service(signed_in):
    """Each value is in range; together nothing could ever be booked."""
    before = settings(coding())
    response = post(
        signed_in,
        "/staff/interview-types/coding/edit",
        {**GOOD, "min_notice_hours": "48", "horizon_days": "2"},
        "/staff/interview-types/coding/edit",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="min_notice_hours-error"' in html and "shorter than the booking horizon" in html
    assert settings(coding()) == before
    assert actions("interview_type.update") == []


def test_the_update_service_is_for_staff_and_shares_configures_checks(people):
    seed_types()
    with pytest.raises(Forbidden):
        interview_types.update(people["coach"], "coding", {"duration_minutes": 50})
    with pytest.raises(ValidationFailed) as caught:
        interview_types.update(people["staff"], "coding", {"duration_minutes": 10_000})
    assert "duration_minutes" in caught.value.errors
    with pytest.raises(NotFound):
        interview_types.update(people["staff"], "nope", {"duration_minutes": 50})
    assert coding().duration_minutes == 45
    assert actions("interview_type.update") == []


# --- suspensions ----------------------------------------------------------------------------------


def suspend(learner, *, starts: dt.datetime, days: int = 14, **kwargs) -> LearnerSuspension:
    """What three no-shows leave behind (the no-show path itself is tested in fair use)."""
    row = LearnerSuspension(
        learner_id=learner.id,
        starts_at=starts,
        ends_at=starts + dt.timedelta(days=days),
        reason=kwargs.pop("reason", "you missed 3 sessions in 60 days"),
        created_at=kwargs.pop("created_at", starts),
        **kwargs,
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_suspensions_page_shows_current_and_past_and_lift_is_audited_and_told(
    signed_in, people, make_user
):
    now = utcnow()
    learner = people["learner"]
    earlier = make_user("staff", name="Earlier Staff")
    running = suspend(learner, starts=now - dt.timedelta(days=1))
    lifted = suspend(
        learner,
        starts=now - dt.timedelta(days=40),
        lifted_at=now - dt.timedelta(days=35),
        lifted_by_id=earlier.id,
        lift_reason="illness, with a note",
    )
    over = suspend(make_user("learner", name="Otto Over"), starts=now - dt.timedelta(days=20))
    html = signed_in.get("/staff/suspensions").get_data(as_text=True)
    row = html.split(f'id="suspension-{running.id}"')[1].split("</tr>")[0]
    assert "Lena Learner" in row and "running" in row and "you missed 3 sessions" in row
    assert f"/staff/suspensions/{running.id}/lift" in row
    row = html.split(f'id="suspension-{lifted.id}"')[1].split("</tr>")[0]
    assert "lifted" in row and "Earlier Staff" in row and "illness, with a note" in row
    assert "/lift" not in row
    row = html.split(f'id="suspension-{over.id}"')[1].split("</tr>")[0]
    assert "over" in row and "/lift" not in row
    current = signed_in.get("/staff/suspensions?active=1").get_data(as_text=True)
    assert f'id="suspension-{running.id}"' in current
    assert f'id="suspension-{lifted.id}"' not in current
    assert f'id="suspension-{over.id}"' not in current
    assert booking_service.active_suspension(learner.id) is not None

    response = post(
        signed_in,
        f"/staff/suspensions/{running.id}/lift",
        {"reason": "Missed sessions were our outage"},
        "/staff/suspensions",
        follow_redirects=True,
    )
    assert "Lena Learner can book again" in response.get_data(as_text=True)
    db.session.expire_all()
    row = db.session.get(LearnerSuspension, running.id)
    assert row.lifted_at is not None and row.lifted_by_id == people["staff"].id
    assert row.lift_reason == "Missed sessions were our outage"
    assert booking_service.active_suspension(learner.id) is None  # may book again
    [entry] = actions("suspension.lift")
    assert entry.subject_type == "suspension" and entry.subject_id == running.id
    assert entry.reason == "Missed sessions were our outage"
    assert entry.detail["learner_id"] == learner.id
    # The learner is told in the app.
    [event] = db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == "booking.suspension_lifted")
    )
    assert event.payload == {"suspension_id": running.id}
    process_all()
    told = db.session.scalars(select(Notification).where(Notification.user_id == learner.id)).all()
    assert [n.title for n in told] == ["You can book mock interviews again"]
    after = signed_in.get("/staff/suspensions").get_data(as_text=True)
    row = after.split(f'id="suspension-{running.id}"')[1].split("</tr>")[0]
    assert "Sam Staff" in row and "Missed sessions were our outage" in row


def test_bad_lifts_give_a_message_and_change_nothing(signed_in, people, make_user):
    now = utcnow()
    running = suspend(people["learner"], starts=now - dt.timedelta(hours=1))
    over = suspend(make_user("learner"), starts=now - dt.timedelta(days=30))
    cases = [
        (running.id, "  ", "Say why, for the audit log."),
        (over.id, "too late", "already over"),
        (987_654_321, "gone", "no such suspension"),
        (10**12, "far", "no such suspension"),
    ]
    for suspension_id, reason, message in cases:
        response = post(
            signed_in,
            f"/staff/suspensions/{suspension_id}/lift",
            {"reason": reason},
            "/staff/suspensions",
            follow_redirects=True,
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "was not lifted" in html and message in html
    db.session.expire_all()
    assert db.session.get(LearnerSuspension, running.id).lifted_at is None
    assert db.session.get(LearnerSuspension, over.id).lifted_at is None
    assert actions("suspension.lift") == []
    # Lifted once; the second press changes nothing and writes no second entry.
    for _ in range(2):
        post(signed_in, f"/staff/suspensions/{running.id}/lift", {"reason": "ok"})
    assert len(actions("suspension.lift")) == 1
    # Without a CSRF token nothing happens either.
    other = suspend(make_user("learner"), starts=now - dt.timedelta(hours=1))
    refused = signed_in.post(f"/staff/suspensions/{other.id}/lift", data={"reason": "x"})
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(LearnerSuspension, other.id).lifted_at is None


def test_suspensions_are_keyset_paged_newest_first(signed_in, make_user):
    now = utcnow()
    learner = make_user("learner", name="Paged Learner")
    rows = [
        suspend(learner, starts=now - dt.timedelta(days=100 + i), days=1, created_at=now)
        for i in range(53)
    ]  # one shared created_at: the id breaks the tie
    first = signed_in.get("/staff/suspensions").get_data(as_text=True)
    assert first.count('id="suspension-') == 50
    assert f'id="suspension-{rows[-1].id}"' in first  # newest id first
    assert f'id="suspension-{rows[0].id}"' not in first
    cursor = first.split("/staff/suspensions?cursor=")[1].split('"')[0]
    second = signed_in.get(f"/staff/suspensions?cursor={cursor}").get_data(as_text=True)
    assert second.count('id="suspension-') == 3 and "First page" in second
    assert f'id="suspension-{rows[0].id}"' in second
    bad = signed_in.get("/staff/suspensions?cursor=not-a-cursor")
    assert bad.status_code == 200 and bad.get_data(as_text=True).count('id="suspension-') == 50


# --- waitlist -------------------------------------------------------------------------------------


@pytest.fixture
def queue(signed_in, make_user):
    """One coach with one slot in the horizon, booked by learner 0 then cancelled: learners 1–3
    wait for any day (1 holds the offer), learner 4 for that day."""
    coach = make_user("coach", timezone="UTC", expertise=["python"], name="Solo Coach")
    start = at(future_weekday(4), 10)
    extra_hours(coach.id, start)
    db.session.commit()
    learners = [make_user("learner", name=f"Learner {i}") for i in range(5)]
    booked, _ = booking_service.book(
        learners[0].id, booking_service.BookingRequest(type="coding", start=start)
    )
    db.session.commit()
    entries = []
    for learner in learners[1:4]:
        entries.append(waitlist.join(learner.id, waitlist.WaitlistRequest(type="coding")))
        db.session.commit()
    entries.append(
        waitlist.join(
            learners[4].id,
            waitlist.WaitlistRequest(type="coding", day=start.date(), tz="UTC"),
        )
    )
    db.session.commit()
    booking_service.cancel(booked.id, learners[0].id, reason="cannot make it")
    db.session.commit()
    assert waitlist.match() == 1
    db.session.commit()
    return {"start": start, "learners": learners, "entries": entries}


def status(entry_id: int) -> str:
    db.session.expire_all()
    return db.session.get(WaitlistEntry, entry_id).status


def test_waitlist_page_shows_positions_per_type_and_day_and_the_open_offer(signed_in, queue):
    first, second, third, by_day = queue["entries"]
    assert status(first.id) == "offered"
    html = signed_in.get("/staff/waitlist").get_data(as_text=True)
    any_day, _, one_day = html.partition(f"Coding · {queue['start'].strftime('%a %-d %b %Y')}")
    assert "Coding · any day in the horizon" in any_day
    cells = {
        e.id: any_day.split(f'id="entry-{e.id}"')[1].split("</tr>")[0]
        for e in (first, second, third)
    }
    assert 'data-label="Position">offered<' in cells[first.id]
    assert "held until" in cells[first.id] and "Solo Coach" in cells[first.id]
    expires = db.session.get(WaitlistEntry, first.id).offer_expires_at
    assert f'datetime="{expires.isoformat()}"' in cells[first.id]
    assert 'data-label="Position">1<' in cells[second.id] and "Learner 2" in cells[second.id]
    assert 'data-label="Position">2<' in cells[third.id] and "Learner 3" in cells[third.id]
    assert f'id="entry-{by_day.id}"' in one_day
    assert 'data-label="Position">1<' in one_day.split(f'id="entry-{by_day.id}"')[1]


def test_removing_entries_is_audited_and_an_offer_passes_to_the_next(signed_in, queue):
    first, second, third, _ = queue["entries"]
    response = post(
        signed_in,
        f"/staff/waitlist/{second.id}/remove",
        {"reason": "Asked us by email"},
        "/staff/waitlist",
        follow_redirects=True,
    )
    assert "Learner 2 is off the waitlist" in response.get_data(as_text=True)
    assert status(second.id) == "cancelled"
    html = signed_in.get("/staff/waitlist").get_data(as_text=True)
    assert f'id="entry-{second.id}"' not in html
    row = html.split(f'id="entry-{third.id}"')[1].split("</tr>")[0]
    assert 'data-label="Position">1<' in row  # moved up

    # Removing the one holding the offer hands the held slot to the next in line.
    post(signed_in, f"/staff/waitlist/{first.id}/remove", {"reason": "Duplicate"})
    assert status(first.id) == "cancelled"
    third_row = db.session.get(WaitlistEntry, third.id)
    assert third_row.status == "offered" and third_row.hold.start_at == queue["start"]
    removed = actions("waitlist.remove")
    assert [(a.subject_id, a.reason, a.detail["was"]) for a in removed] == [
        (second.id, "Asked us by email", "waiting"),
        (first.id, "Duplicate", "offered"),
    ]
    assert removed[0].subject_type == "waitlist_entry"


def test_bad_removals_give_a_message_and_change_nothing(signed_in, queue):
    first, second, _, _ = queue["entries"]
    post(signed_in, f"/staff/waitlist/{second.id}/remove", {"reason": "left"})
    count = db.session.scalar(select(func.count(StaffAction.id)))
    cases = [
        (first.id, "", "Say why, for the audit log."),
        (second.id, "again", "no longer on the waitlist"),
        (987_654_321, "gone", "no such waitlist entry"),
        (10**12, "far", "no such waitlist entry"),
    ]
    for entry_id, reason, message in cases:
        response = post(
            signed_in,
            f"/staff/waitlist/{entry_id}/remove",
            {"reason": reason},
            "/staff/waitlist",
            follow_redirects=True,
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "was not removed" in html and message in html
    assert status(first.id) == "offered" and status(second.id) == "cancelled"
    assert db.session.scalar(select(func.count(StaffAction.id))) == count
