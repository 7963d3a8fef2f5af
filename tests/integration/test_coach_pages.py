"""A coach's own pages: availability (refusals kept on the day they concern, past time off
refused), the private calendar feed (shown again to its owner, links to the coach's own session
page), the session page's link to the learner's résumé, its cancel question, and an invited
coach's first steps.
SQLite and PostgreSQL, each test rolled back."""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo

import pytest
from sqlalchemy import select, text

from services import notifications
from services.accounts import coaches
from services.booking import availability
from services.db import db, utcnow
from services.errors import ValidationFailed
from services.models import (
    AvailabilityException,
    AvailabilityRule,
    CoachBookingSettings,
    CoachInvite,
    OutboxEvent,
)
from services.resumes import routing
from tests.support_auth import csrf_token, post_form, sign_in
from tests.support_booking import at, book, future_weekday, make_coach, seed_types
from tests.support_staff import make_resume

BERLIN = "Europe/Berlin"
PAGE = "/coach/availability"


@pytest.fixture
def world(db_session, make_user, token_for):
    seed_types()
    coach = make_coach(make_user, BERLIN, name="Casey Coach")
    learner = make_user("learner", timezone="America/New_York", name="Lee Learner")
    return {"coach": coach, "learner": learner, "token": token_for(learner)}


def text_of(response) -> str:
    return response.get_data(as_text=True)


def fieldset(page: str, day: int) -> str:
    """The HTML of one day's box in the weekly form."""
    match = re.search(rf'<fieldset class="rule-day[^"]*" id="day-{day}".*?</fieldset>', page, re.S)
    assert match, page
    return match.group(0)


def weekly(client, **hours: str):
    data = {"csrf_token": csrf_token(client, PAGE), "timezone": BERLIN, **hours}
    return client.post("/coach/availability/weekly", data=data)


def rules_of(coach_id: int) -> list[tuple[int, int, int]]:
    return sorted(
        (r.weekday, r.start_time.hour, r.end_time.hour)
        for r in db.session.scalars(
            select(AvailabilityRule).where(AvailabilityRule.coach_id == coach_id)
        )
    )


# --- weekly hours --------------------------------------------------------------------------------


def test_an_end_before_the_start_is_refused_on_its_day_and_keeps_what_was_typed(client, world):
    sign_in(client, world["coach"].email)
    before = rules_of(world["coach"].id)
    response = weekly(
        client, d0_0_start="09:00", d0_0_end="17:00", d2_0_start="12:00", d2_0_end="09:00"
    )
    assert response.status_code == 422
    page = text_of(response)
    wednesday = fieldset(page, 2)
    assert "12:00–09:00: the end must be after the start." in wednesday
    assert 'value="12:00"' in wednesday and 'value="09:00"' in wednesday  # as typed
    assert 'aria-invalid="true"' in wednesday and 'aria-describedby="day-2-error"' in wednesday
    assert "error" not in fieldset(page, 0).replace("rule-day", "")  # Monday is fine
    assert 'value="17:00"' in fieldset(page, 0)
    assert "Nothing was saved: fix the hours on Wednesday." in page
    assert rules_of(world["coach"].id) == before


def test_overlapping_windows_are_refused_on_their_day(client, world):
    sign_in(client, world["coach"].email)
    response = weekly(
        client, d1_0_start="09:00", d1_0_end="12:00", d1_1_start="11:00", d1_1_end="14:00"
    )
    assert response.status_code == 422
    tuesday = html.unescape(fieldset(text_of(response), 1))
    assert "09:00–12:00 and 11:00–14:00 overlap on Tuesdays" in tuesday
    assert 'value="11:00"' in tuesday


def test_half_a_window_is_refused_on_its_day(client, world):
    sign_in(client, world["coach"].email)
    response = weekly(client, d4_0_start="10:00")
    assert response.status_code == 422
    friday = fieldset(text_of(response), 4)
    assert "Give both a start and an end time" in friday and 'value="10:00"' in friday


def test_the_service_keys_each_rule_error_by_the_rule(world):
    rules = (
        availability.RuleInput(0, dt.time(9), dt.time(12)),
        availability.RuleInput(0, dt.time(11), dt.time(13)),
        availability.RuleInput(3, dt.time(15), dt.time(14)),
    )
    with pytest.raises(ValidationFailed) as caught:
        availability.set_weekly(world["coach"].id, BERLIN, rules, None)
    assert set(caught.value.errors) == {"rules.1.start", "rules.2.end"}


# --- time off ------------------------------------------------------------------------------------


def exception(client, day: dt.date, start: str, end: str, **extra: str):
    return client.post(
        "/coach/availability/exceptions",
        data={
            "csrf_token": csrf_token(client, PAGE),
            "day": day.isoformat(),
            "start": start,
            "end": end,
            **extra,
        },
    )


def test_past_time_off_is_refused_with_a_clear_message_and_the_form_kept(client, world):
    sign_in(client, world["coach"].email)
    yesterday = dt.datetime.now(zoneinfo.ZoneInfo(BERLIN)).date() - dt.timedelta(days=1)
    response = exception(client, yesterday, "09:00", "12:00", reason="dentist")
    assert response.status_code == 422
    page = html.unescape(text_of(response))
    assert availability.PAST_EXCEPTION in page
    assert re.search(r'id="day-error"[^>]*>That time has already passed', page)
    assert f'value="{yesterday.isoformat()}"' in page and 'value="dentist"' in page
    assert (
        db.session.scalar(
            select(AvailabilityException).where(AvailabilityException.coach_id == world["coach"].id)
        )
        is None
    )


def test_the_service_refuses_past_exceptions_for_every_caller(world):
    now = utcnow()
    past = availability.ExceptionInput(now - dt.timedelta(hours=3), now - dt.timedelta(hours=1))
    with pytest.raises(ValidationFailed) as caught:
        availability.add_exception(world["coach"].id, past)
    assert caught.value.errors == {"start": [availability.PAST_EXCEPTION]}
    backwards = availability.ExceptionInput(
        now + dt.timedelta(hours=3), now + dt.timedelta(hours=1)
    )
    with pytest.raises(ValidationFailed) as caught:
        availability.add_exception(world["coach"].id, backwards)
    assert set(caught.value.errors) == {"end"}
    # Under way (began an hour ago, ends later): the rest of it still counts.
    under_way = availability.ExceptionInput(
        now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    )
    assert availability.add_exception(world["coach"].id, under_way).id


def test_an_end_before_the_start_of_time_off_is_shown_on_the_end(client, world):
    sign_in(client, world["coach"].email)
    response = exception(client, future_weekday(5, BERLIN), "12:00", "09:00")
    assert response.status_code == 422
    assert re.search(r'id="end-error"[^>]*>The end must be after the start', text_of(response))


def test_time_off_is_listed_with_its_date_once(client, world):
    sign_in(client, world["coach"].email)
    day = future_weekday(10, BERLIN)
    assert exception(client, day, "09:00", "12:00", reason="conference").status_code == 302
    page = html.unescape(text_of(client.get(PAGE)))
    label = f"{day:%a} {day.day} {day:%b}"
    if day.year != dt.datetime.now(zoneinfo.ZoneInfo(BERLIN)).year:
        label += f" {day.year}"
    assert "Time off:</span> <time datetime=" in page
    assert f"{label}, 09:00–12:00</time> (conference)" in page
    assert day.isoformat() + " 09:00" not in page


# --- the calendar feed ---------------------------------------------------------------------------


def feed_link(page: str) -> str | None:
    match = re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', page)
    return html.unescape(match.group(1)) if match else None


def test_the_feed_is_shown_again_to_its_owner_and_links_to_the_coachs_session(app, client, world):
    start = at(future_weekday(3, BERLIN), 10, tz=BERLIN)
    booking_id = book(client, world["token"], start).json["id"]
    sign_in(client, world["coach"].email)
    assert feed_link(text_of(client.get(PAGE))) is None
    made = client.post("/coach/availability/feed", data={"csrf_token": csrf_token(client, PAGE)})
    assert made.status_code == 302 and made.headers["Location"].endswith(
        "/coach/availability#feed-heading"
    )
    page = client.get(PAGE)
    assert page.headers["Cache-Control"] == "no-store"
    url = feed_link(text_of(page))
    assert url and url.startswith("http://testserver/api/v1/calendar-feeds/")
    assert f'href="webcal://testserver/api/v1/calendar-feeds/{url.rsplit("/", 1)[1]}"' in text_of(
        page
    )
    assert "calendar.google.com/calendar/r/settings/addbyurl" in text_of(page)
    assert feed_link(text_of(client.get(PAGE))) == url  # again, the same address

    # A calendar app fetches it over HTTP with no session: the secret is its only credential.
    calendar_app = app.test_client()
    feed = calendar_app.get(url.removeprefix("http://testserver"))
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    body = text_of(feed).replace("\r\n ", "")
    assert f"URL:http://testserver/coach/sessions/{booking_id}\r\n" in body
    assert f"Details: http://testserver/coach/sessions/{booking_id}" in body.replace("\\n", "\n")
    assert "/learn/bookings/" not in body
    # ...which the coach can open (the learner's page would refuse them).
    assert client.get(f"/coach/sessions/{booking_id}").status_code == 200

    # The database keeps only a hash of the secret.
    secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    settings = db.session.get(CoachBookingSettings, world["coach"].id)
    assert settings.feed_token_hash != secret
    dump = " ".join(
        str(v)
        for row in db.session.execute(text("SELECT * FROM coach_booking_settings"))
        for v in row
    )
    assert secret not in dump

    # A new address replaces the old one; a revoked one is gone (and no longer shown).
    client.post("/coach/availability/feed", data={"csrf_token": csrf_token(client, PAGE)})
    newer = feed_link(text_of(client.get(PAGE)))
    assert newer and newer != url
    assert calendar_app.get(url.removeprefix("http://testserver")).status_code == 404
    assert calendar_app.get(newer.removeprefix("http://testserver")).status_code == 200
    client.post("/coach/availability/feed/revoke", data={"csrf_token": csrf_token(client, PAGE)})
    assert feed_link(text_of(client.get(PAGE))) is None
    assert calendar_app.get(newer.removeprefix("http://testserver")).status_code == 404


def test_the_feed_address_is_shown_to_nobody_but_its_owner(app, client, world, make_user):
    sign_in(client, world["coach"].email)
    client.post("/coach/availability/feed", data={"csrf_token": csrf_token(client, PAGE)})
    url = feed_link(text_of(client.get(PAGE)))
    assert url
    secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    other = make_coach(make_user, BERLIN, name="Other Coach")
    stranger = app.test_client()
    assert stranger.get(PAGE).status_code == 302  # signed out: to the sign-in page
    sign_in(stranger, other.email)
    assert secret not in text_of(stranger.get(PAGE))


def test_a_feed_made_before_secrets_were_derived_still_works_but_asks_for_a_new_one(
    app, client, world
):
    import hashlib
    import secrets

    old_secret = secrets.token_urlsafe(32)
    db.session.add(
        CoachBookingSettings(
            coach_id=world["coach"].id,
            feed_token_hash=hashlib.sha256(old_secret.encode()).hexdigest(),
            feed_created_at=utcnow(),
        )
    )
    db.session.commit()
    assert app.test_client().get(f"/api/v1/calendar-feeds/{old_secret}.ics").status_code == 200
    sign_in(client, world["coach"].email)
    page = text_of(client.get(PAGE))
    assert feed_link(page) is None
    assert "Make a new one to see it here" in page


def test_calendar_links_lead_each_person_to_their_own_page(client, world, token_for):
    start = at(future_weekday(3, BERLIN), 10, tz=BERLIN)
    booking_id = book(client, world["token"], start).json["id"]
    coach_token = token_for(world["coach"])
    as_coach = client.get(
        f"/api/v1/bookings/{booking_id}/ics", headers={"Authorization": f"Bearer {coach_token}"}
    )
    as_learner = client.get(
        f"/api/v1/bookings/{booking_id}/ics",
        headers={"Authorization": f"Bearer {world['token']}"},
    )
    assert f"URL:http://testserver/coach/sessions/{booking_id}" in text_of(as_coach)
    assert f"URL:http://testserver/learn/bookings/{booking_id}" in text_of(as_learner)

    # The emailed invitations: each person's .ics links to their own page.
    [event] = db.session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "booking.confirmed"))
    messages = notifications._handlers["booking.confirmed"](event.payload)
    by_user = {m.user.id: m for m in messages}
    coach_ics = by_user[world["coach"].id].ics.replace("\r\n ", "")
    learner_ics = by_user[world["learner"].id].ics.replace("\r\n ", "")
    assert f"URL:http://testserver/coach/sessions/{booking_id}" in coach_ics
    assert "/learn/bookings/" not in coach_ics
    assert f"URL:http://testserver/learn/bookings/{booking_id}" in learner_ics
    assert "/coach/sessions/" not in learner_ics


# --- the session page's résumé link --------------------------------------------------------------


def test_the_session_page_links_to_the_learners_resume_the_coach_may_see(client, world, make_user):
    start = at(future_weekday(3, BERLIN), 10, tz=BERLIN)
    booking_id = book(client, world["token"], start).json["id"]
    staff_user = make_user("staff")
    resume = make_resume(world["learner"], target_role="ML engineer")
    sign_in(client, world["coach"].email)

    page = html.unescape(text_of(client.get(f"/coach/sessions/{booking_id}")))
    assert "No résumé of Lee Learner's has been sent to you for review" in page
    assert f"/coach/reviews/{resume.id}" not in page

    routing.assign_manually(staff_user, resume.id, world["coach"].id, "for the session")
    db.session.commit()
    page = html.unescape(text_of(client.get(f"/coach/sessions/{booking_id}")))
    assert f'href="/coach/reviews/{resume.id}">Lee Learner\'s résumé for ML engineer</a>' in page
    assert client.get(f"/coach/reviews/{resume.id}").status_code == 200
    # A newer résumé not sent to this coach is not offered (nor mentioned).
    newer = make_resume(world["learner"], target_role="Data scientist")
    page = html.unescape(text_of(client.get(f"/coach/sessions/{booking_id}")))
    assert f"/coach/reviews/{resume.id}" in page and "Data scientist" not in page
    assert client.get(f"/coach/reviews/{newer.id}").status_code == 404


# --- cancelling a session ------------------------------------------------------------------------


def test_the_coach_cancels_in_a_dialog_or_on_a_page_of_its_own(client, world):
    """The learner's cancel question, asked of the coach: a dialog in the session page (no
    window.confirm), and a page of its own where the link leads without JavaScript."""
    start = at(future_weekday(3, BERLIN), 10, tz=BERLIN)
    booking_id = book(client, world["token"], start).json["id"]
    sign_in(client, world["coach"].email)
    page = html.unescape(text_of(client.get(f"/coach/sessions/{booking_id}")))
    assert "data-confirm" not in page
    assert (
        '<dialog id="cancel-dialog"' in page and 'aria-labelledby="cancel-dialog-heading"' in page
    )
    assert f'href="/coach/sessions/{booking_id}/cancel" data-opens-dialog="cancel-dialog"' in page
    dialog = page[page.index('<dialog id="cancel-dialog"') : page.index("</dialog>")]
    assert "Lee Learner is told" in dialog and "Reason (shown to the learner)" in dialog
    assert 'formmethod="dialog"' in dialog and "Keep session" in dialog

    fallback = client.get(f"/coach/sessions/{booking_id}/cancel")
    assert fallback.status_code == 200
    fallback_page = html.unescape(text_of(fallback))
    assert "Cancel this session?" in fallback_page
    assert f'href="/coach/sessions/{booking_id}">Keep session</a>' in fallback_page

    cancelled = post_form(
        client,
        f"/coach/sessions/{booking_id}/cancel",
        {"reason": "Ill, sorry."},
        form_page=f"/coach/sessions/{booking_id}/cancel",
    )
    assert cancelled.status_code == 302
    page = text_of(client.get(f"/coach/sessions/{booking_id}"))
    assert "Cancelled. The learner is told." in page and "cancel-dialog" not in page
    again = client.get(f"/coach/sessions/{booking_id}/cancel")
    assert again.status_code == 302
    assert "This session is already cancelled." in text_of(client.get(again.headers["Location"]))


# --- an invited coach ----------------------------------------------------------------------------


def invite(people_staff, email: str, tz: str = "Asia/Tokyo"):
    coach, invite_row = coaches.invite_coach(
        people_staff, coaches.Invitation(email=email, name="Nia New", timezone=tz)
    )
    db.session.commit()
    return coach, invite_row, coaches.invite_secret(invite_row)


def test_an_invited_coach_signs_in_to_set_their_hours(client, db_session, make_user):
    seed_types()
    staff_user = make_user("staff")
    _, invite_row, secret = invite(staff_user, "nia@example.com")
    link = f"/staff/invite/{secret}"

    accept = text_of(client.get(link))
    expires = invite_row.expires_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"until {expires:%a %-d %b %Y, %H:%M} JST (Asia/Tokyo)." in accept

    done = post_form(client, link, {"password": "a long new coach passphrase"})
    assert done.status_code == 302
    assert done.headers["Location"] == "/sign-in?next=/coach/availability?welcome%3D1"
    sign_in_page = text_of(client.get(done.headers["Location"]))
    assert 'value="nia@example.com"' in sign_in_page
    signed = client.post(
        done.headers["Location"],
        data={
            "csrf_token": csrf_token(client, done.headers["Location"]),
            "email": "nia@example.com",
            "password": "a long new coach passphrase",
        },
    )
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/coach/availability?welcome=1"
    page = html.unescape(text_of(client.get(signed.headers["Location"])))
    assert "Welcome, Nia New." in page and "Welcome back" not in page
    assert 'data-testid="welcome">Your coach account is open.' in page
    assert '<h2 id="set-hours-heading">Set your hours</h2>' in page
    # Without the welcome (a later visit, still no hours): why learners cannot book them yet.
    later = html.unescape(text_of(client.get(PAGE)))
    assert "You have no hours yet, so learners are not offered sessions with you." in later
    assert 'data-testid="welcome"' not in later

    # Next time: a plain sign-in, welcomed back.
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
    assert 'value="nia@example.com"' not in text_of(client.get("/sign-in"))
    response = sign_in(client, "nia@example.com", "a long new coach passphrase")
    assert "Welcome back, Nia New." in text_of(client.get(response.headers["Location"]))


def test_the_invitation_email_gives_the_expiry_in_the_invitees_zone(db_session, make_user):
    coach, invite_row, _ = invite(make_user("staff"), "zone@example.com", "America/Chicago")
    [event] = [
        e
        for e in db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.kind == "staff.coach_invited")
        )
        if e.payload["invite_id"] == invite_row.id
    ]
    [message] = notifications._handlers["staff.coach_invited"](event.payload)
    expires = invite_row.expires_at.astimezone(zoneinfo.ZoneInfo("America/Chicago"))
    assert message.context["expires_at"] == (f"{expires:%a %-d %b %Y, %H:%M %Z} (America/Chicago)")
    assert db.session.get(CoachInvite, invite_row.id).user_id == coach.id


def test_a_coach_without_hours_is_not_offered_to_learners(client, world, make_user):
    newcomer = make_user("coach", name="Nobody Yet", timezone=BERLIN)
    sign_in(client, world["learner"].email)
    week = future_weekday(3, "America/New_York")
    pick = text_of(client.get(f"/learn/bookings/new?type=coding&week={week}"))
    # One bookable coach (Casey): no coach filter at all, and the newcomer named nowhere.
    assert "Nobody Yet" not in pick
    slots = availability.find_slots(
        availability.SlotQuery("coding", week, week + dt.timedelta(days=6), BERLIN, newcomer.id)
    )
    assert slots == []

    # Extra hours still to come make them bookable; so do weekly hours.
    now = utcnow()
    extra = availability.ExceptionInput(
        now + dt.timedelta(days=5), now + dt.timedelta(days=5, hours=3), available=True
    )
    availability.add_exception(newcomer.id, extra)
    db.session.commit()
    assert {c.id for c in availability.with_hours([world["coach"], newcomer])} == {
        world["coach"].id,
        newcomer.id,
    }
    pick = text_of(client.get(f"/learn/bookings/new?type=coding&week={week}"))
    assert "Nobody Yet" in pick


def test_the_api_says_which_coaches_have_hours(client, world, make_user):
    newcomer = make_user("coach", name="Nobody Yet", timezone=BERLIN)
    listed = client.get("/api/v1/coaches", headers={"Authorization": f"Bearer {world['token']}"})
    by_id = {c["id"]: c for c in listed.json["items"]}
    assert by_id[world["coach"].id]["has_hours"] is True
    assert by_id[newcomer.id]["has_hours"] is False
