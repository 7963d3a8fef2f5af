"""The account page and PATCH /api/v1/me: a person changes their name, time zone and clock;
old zone names are refused unless they are the one the person has; every change is audited;
times follow the clock; sign-in warns before it pauses; a friendly 403 (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from services import notifications
from services.accounts import coaches
from services.db import db
from services.models import Notification, OutboxEvent, StaffAction, User
from tests.support_auth import csrf_token, post_form, sign_in

PASSWORD = "correct horse battery"


def save_profile(client, **fields):
    data = {"name": "Lin Learner", "timezone": "Europe/Berlin", "clock": "24h", **fields}
    return post_form(client, "/account", data)


def audit_entries() -> list[StaffAction]:
    return list(
        db.session.scalars(
            select(StaffAction)
            .where(StaffAction.action == "account.update")
            .order_by(StaffAction.id)
        )
    )


def text(response) -> str:
    return str(response.get_data(as_text=True))


def zone_options(page: str) -> dict[str, dict[str, str]]:
    """The time zone select's options: value -> its attributes and its text (as "label")."""
    found = {}
    for attrs, label in re.findall(r"<option ([^>]*)>([^<]*)<", page):
        fields = dict(re.findall(r'([\w-]+)(?:="([^"]*)")?', attrs))
        found[fields["value"]] = {**fields, "label": html.unescape(label)}
    return found


def errors_of(response) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'class="error"[^>]*>([^<]+)<', text(response))]


@pytest.fixture
def learner(make_user, client):
    user = make_user(name="Lin Learner", timezone="America/New_York")
    sign_in(client, user.email)
    return user


def test_the_account_page_offers_the_zones_of_places_with_their_offsets(client, learner):
    page = text(client.get("/account"))

    assert "<h1>Your profile</h1>" in page
    options = zone_options(page)
    assert {"Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"} <= options.keys()
    assert not {"US/Eastern", "Etc/GMT+1", "Asia/Calcutta", "GB", "EST5EDT"} & options.keys()
    assert len(options) > 400
    new_york = options["America/New_York"]
    assert "selected" in new_york
    assert re.fullmatch(r"\(UTC−0[45]:00\) America/New York", new_york["label"])
    assert re.fullmatch(r"\(UTC\+0[12]:00\) Europe/Berlin", options["Europe/Berlin"]["label"])
    # The words the searchable list finds a zone by: its country, its old names.
    kolkata = options["Asia/Kolkata"]
    assert kolkata["data-place"] == "India" and "asia/calcutta" in kolkata["data-search"].split()
    assert "data-zone-picker" in page
    # The navigation's Account link leads here.
    assert re.search(r'href="/account" aria-current="page">Account<', page)


def test_a_person_changes_name_zone_and_clock_and_it_is_audited(client, learner, db_session):
    response = save_profile(client, name="  Lin   Lovelace ", timezone="Europe/Berlin", clock="12h")

    assert response.status_code == 302 and response.headers["Location"] == "/account"
    db_session.expire_all()
    user = db_session.get(User, learner.id)
    assert (user.name, user.timezone, user.clock) == ("Lin Lovelace", "Europe/Berlin", "12h")
    page = text(client.get("/account"))
    assert "Saved. Times are now shown in Europe/Berlin, on the 12-hour clock." in page
    [entry] = audit_entries()
    assert (entry.actor_id, entry.actor_name, entry.subject_type, entry.subject_id) == (
        learner.id,
        "Lin Learner",  # who they were when they made the change
        "account",
        learner.id,
    )
    assert entry.detail == {
        "changes": {
            "name": ["Lin Learner", "Lin Lovelace"],
            "timezone": ["America/New_York", "Europe/Berlin"],
            "clock": ["24h", "12h"],
        }
    }

    again = save_profile(client, name="Lin Lovelace", timezone="Europe/Berlin", clock="12h")
    assert again.status_code == 302
    assert "Nothing changed." in text(client.get("/account"))
    assert len(audit_entries()) == 1  # no change, no entry


def test_the_audit_log_lists_account_changes_for_staff(client, learner, make_user, db_session):
    save_profile(client, timezone="Asia/Kolkata")
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    sign_in(client, make_user("staff").email)

    page = text(client.get("/staff/audit", query_string={"action": "account.update"}))

    assert "<code>account.update</code>" in page
    assert f"account #{learner.id}" in page


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("US/Eastern", "US/Eastern is another name for America/New York: pick that instead."),
        ("Asia/Calcutta", "Asia/Calcutta is another name for Asia/Kolkata: pick that instead."),
        ("GMT", "GMT is another name for UTC: pick that instead."),
        (
            "Etc/GMT+1",
            "Etc/GMT+1 is not the time zone of a place: pick the city or country you are in.",
        ),
        ("Mars/Base", 'Pick a time zone from the list: type a city or country, e.g. "Berlin".'),
    ],
)
def test_old_and_unknown_zones_are_refused_with_what_to_pick(
    client, learner, db_session, zone, message
):
    response = save_profile(client, name="Changed Name", timezone=zone)

    assert response.status_code == 422
    assert errors_of(response) == [message]
    assert 'aria-invalid="true"' in text(response)
    db_session.expire_all()
    user = db_session.get(User, learner.id)
    assert (user.name, user.timezone) == ("Lin Learner", "America/New_York")
    assert audit_entries() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "This field is required."),
        ({"name": "x" * 121}, "Field cannot be longer than 120 characters."),
        ({"clock": "13h"}, "Not a valid choice."),
    ],
)
def test_a_bad_name_or_clock_is_refused(client, learner, db_session, fields, message):
    response = save_profile(client, **fields)

    assert response.status_code == 422
    assert message in errors_of(response)
    db_session.expire_all()
    assert db_session.get(User, learner.id).timezone == "America/New_York"


def test_someone_with_an_old_zone_name_keeps_it_until_they_change_it(client, make_user, db_session):
    user = make_user(name="Old Timer")
    user.timezone = "US/Eastern"  # set before the zone list was limited to places
    db_session.commit()
    sign_in(client, user.email)

    old = zone_options(text(client.get("/account")))["US/Eastern"]
    assert "selected" in old
    assert re.fullmatch(
        r"\(UTC−0[45]:00\) US/Eastern \(an old name of America/New York\)", old["label"]
    )
    kept = save_profile(client, name="Old Timer", timezone="US/Eastern", clock="12h")
    assert kept.status_code == 302
    db_session.expire_all()
    assert (db_session.get(User, user.id).timezone, db_session.get(User, user.id).clock) == (
        "US/Eastern",
        "12h",
    )

    assert save_profile(client, name="Old Timer", timezone="America/New_York").status_code == 302
    refused = save_profile(client, name="Old Timer", timezone="US/Eastern")
    assert refused.status_code == 422  # once left, the old name is not offered again
    assert "US/Eastern" not in zone_options(text(refused))


def test_times_on_pages_follow_the_zone_and_the_clock(client, learner, db_session):
    at = dt.datetime(2025, 1, 15, 13, 30, tzinfo=dt.UTC)
    db_session.add(
        Notification(
            user_id=learner.id, kind="welcome", title="Hello", dedupe_key="t", created_at=at
        )
    )
    db_session.commit()

    assert "Wed 15 Jan 2025, 08:30 EST" in text(client.get("/notifications"))
    save_profile(client, timezone="Europe/Berlin", clock="12h")
    assert "Wed 15 Jan 2025, 2:30 PM CET" in text(client.get("/notifications"))
    save_profile(client, timezone="Asia/Kolkata", clock="24h")
    assert "Wed 15 Jan 2025, 19:00 IST" in text(client.get("/notifications"))


def test_sign_up_takes_the_clock_from_the_browser_or_its_language(client, db_session):
    def sign_up(email, headers=None, **fields):
        data = {
            "name": "Sol Signup",
            "email": email,
            "password": "a long passphrase",
            "timezone": "America/Chicago",
            "csrf_token": csrf_token(client, "/sign-up"),
            **fields,
        }
        response = client.post("/sign-up", data=data, headers=headers or {})
        if response.status_code == 302:
            client.post("/sign-out", data={"csrf_token": csrf_token(client, "/dashboard")})
        return response, db_session.scalar(select(User).where(User.email == email))

    _, us = sign_up("us@example.com", {"Accept-Language": "en-US,en;q=0.9"})
    _, de = sign_up("de@example.com", {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    _, told = sign_up("told@example.com", {"Accept-Language": "en-US"}, clock="24h")
    assert (us.clock, de.clock, told.clock) == ("12h", "24h", "24h")
    assert us.timezone == "America/Chicago"

    refused, nobody = sign_up("old@example.com", timezone="US/Central")
    assert refused.status_code == 422 and nobody is None
    assert "US/Central is another name for America/Chicago: pick that instead." in errors_of(
        refused
    )


def test_the_api_reads_and_changes_the_same_settings(client, make_user, token_for, db_session):
    user = make_user(name="Api User", timezone="UTC")
    auth = {"Authorization": f"Bearer {token_for(user)}"}

    assert client.get("/api/v1/me", headers=auth).json["clock"] == "24h"
    changed = client.patch(
        "/api/v1/me", json={"timezone": "Asia/Kolkata", "clock": "12h"}, headers=auth
    )
    assert changed.status_code == 200
    assert (changed.json["name"], changed.json["timezone"], changed.json["clock"]) == (
        "Api User",
        "Asia/Kolkata",
        "12h",
    )
    assert client.get("/api/v1/me", headers=auth).json["timezone"] == "Asia/Kolkata"
    [entry] = audit_entries()
    assert entry.detail["changes"] == {"timezone": ["UTC", "Asia/Kolkata"], "clock": ["24h", "12h"]}

    old = client.patch("/api/v1/me", json={"timezone": "US/Eastern"}, headers=auth)
    assert old.status_code == 422 and old.mimetype == "application/problem+json"
    assert old.json["errors"]["timezone"] == [
        "US/Eastern is another name for America/New York: pick that instead."
    ]
    assert client.patch("/api/v1/me", json={"clock": "13h"}, headers=auth).status_code == 422
    assert client.patch("/api/v1/me", json={"name": ""}, headers=auth).status_code == 422
    assert client.patch("/api/v1/me", json={"name": "   "}, headers=auth).status_code == 422
    assert client.patch("/api/v1/me", json={}, headers=auth).json["timezone"] == "Asia/Kolkata"
    assert len(audit_entries()) == 1
    assert client.patch("/api/v1/me", json={"clock": "12h"}).status_code == 401

    document = client.get("/api/v1/openapi.json").json
    patch = document["paths"]["/api/v1/me"]["patch"]
    assert {"200", "401", "422"} <= patch["responses"].keys()
    me = document["components"]["schemas"]["Me"]
    assert me["properties"]["clock"]["enum"] == ["12h", "24h"] and "clock" in me["required"]


def test_a_coach_sets_zone_and_clock_when_accepting_the_invitation(client, make_user, db_session):
    coach, _ = coaches.invite_coach(
        make_user("staff"), coaches.Invitation("nia@example.com", "Nia New", timezone="UTC")
    )
    db_session.commit()
    event = db_session.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == "staff.coach_invited")
    ).all()[-1]
    [message] = notifications._handlers["staff.coach_invited"](event.payload)
    page = "/staff/invite/" + message.context["link"].rsplit("/", 1)[1]

    form = text(client.get(page))
    assert "data-zone-picker" in form and 'data-browser-default="true"' in form
    assert "data-browser-clock" in form
    refused = post_form(
        client, page, {"password": "a long new coach passphrase", "timezone": "Etc/GMT-2"}
    )
    assert refused.status_code == 200
    assert "Etc/GMT-2 is not the time zone of a place" in errors_of(refused)[0]
    done = post_form(
        client,
        page,
        {"password": "a long new coach passphrase", "timezone": "Europe/Berlin", "clock": "12h"},
    )
    assert done.status_code == 302
    db_session.expire_all()
    opened = db_session.get(User, coach.id)
    assert (opened.active, opened.timezone, opened.clock) == (True, "Europe/Berlin", "12h")


def test_staff_cannot_invite_a_coach_with_an_old_zone_name(make_user, db_session):
    from services.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        coaches.invite_coach(
            make_user("staff"), coaches.Invitation("x@example.com", "X", timezone="US/Pacific")
        )
    assert refused.value.errors == {
        "timezone": ["US/Pacific is another name for America/Los Angeles: pick that instead."]
    }


def test_a_coach_availability_zone_follows_the_same_rule(client, make_user, token_for, db_session):
    coach = make_user("coach")
    auth = {"Authorization": f"Bearer {token_for(coach)}"}
    body = {"rules": [{"weekday": 0, "start": "09:00", "end": "17:00"}], "exceptions": []}

    old = client.put(
        "/api/v1/coaches/me/availability", json={**body, "timezone": "US/Eastern"}, headers=auth
    )
    assert old.status_code == 422
    assert old.json["errors"]["timezone"] == [
        "US/Eastern is another name for America/New York: pick that instead."
    ]
    coach.timezone = "US/Eastern"  # a coach who has it already keeps it
    db_session.commit()
    kept = client.put(
        "/api/v1/coaches/me/availability", json={**body, "timezone": "US/Eastern"}, headers=auth
    )
    assert kept.status_code == 200 and kept.json["timezone"] == "US/Eastern"


def test_sign_in_warns_before_it_pauses_and_points_to_the_reset(client, make_user):
    user = make_user()

    def attempt():
        response = post_form(client, "/sign-in", {"email": user.email, "password": "wrong one"})
        found = re.search(r'data-testid="attempts-warning">\s*<p>(.*?)</p>', text(response), re.S)
        warning = " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else None
        return response.status_code, warning

    results = [attempt() for _ in range(5)]

    assert results == [
        (401, None),
        (401, None),
        (401, "2 attempts left before sign-in is paused for up to 1 minute. Forgot your password?"),
        (401, "1 attempt left before sign-in is paused for up to 1 minute. Forgot your password?"),
        (
            401,
            "Too many wrong attempts: sign-in is paused for up to 1 minute. Forgot your password?",
        ),
    ]
    paused = post_form(client, "/sign-in", {"email": user.email, "password": PASSWORD})
    assert paused.status_code == 429
    page = text(paused)
    assert "Too many wrong attempts from here: sign-in is paused for up to 1 minute." in page
    assert 'href="/forgot-password">Forgot your password?</a>' in page


def test_a_page_for_another_role_is_a_friendly_403_with_ways_back(client, learner):
    response = client.get("/staff/", headers={"Referer": "http://localhost/learn/bookings"})

    assert response.status_code == 403
    page = text(response)
    assert '<h1 id="title">This page is not for your account</h1>' in page
    assert f"You are signed in as {learner.email}, a learner account." in page
    assert "ask Career Services staff" in page
    assert '<a href="/learn/bookings">Back to the previous page</a>' in page
    assert '<a href="/dashboard">Your dashboard</a>' in page
    assert '<a href="/">Home page</a>' in page
    # A referrer elsewhere, or one that would leave the site, offers no "back".
    for referrer in ("http://evil.example/learn", "http://localhost//evil.example/x"):
        page = text(client.get("/staff/", headers={"Referer": referrer}))
        assert "Back to the previous page" not in page
