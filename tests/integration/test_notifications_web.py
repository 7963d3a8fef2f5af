"""The notification centre and the staff email page, over the API and in the browser's pages."""

import datetime as dt
import re

from services.db import utcnow
from services.models import Delivery, Notification
from tests.support_auth import post_form, sign_in


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def notify(db_session, user, n, *, read=False, minutes_ago=0):
    rows = []
    for i in range(n):
        row = Notification(
            user_id=user.id,
            kind="booking_confirmed",
            title=f"Note {i} for {user.name}",
            body=f"Body {i}",
            link="http://testserver/dashboard",
            dedupe_key=f"test:{user.id}:{i}:{minutes_ago}",
            created_at=utcnow() - dt.timedelta(minutes=minutes_ago + n - i),
            read_at=utcnow() if read else None,
        )
        db_session.add(row)
        rows.append(row)
    db_session.commit()
    return rows


def failed_delivery(db_session, user, subject="Your session is booked"):
    delivery = Delivery(
        dedupe_key=f"test:failed:{user.id}:{subject}",
        user_id=user.id,
        kind="booking_confirmed",
        to_address=user.email,
        subject=subject,
        text_body="Body",
        status="failed",
        attempts=8,
        last_error="SMTPDataError(451, b'Try again later')",
        failed_at=utcnow(),
    )
    db_session.add(delivery)
    db_session.commit()
    return delivery


# --- API ---------------------------------------------------------------------------------------


def test_the_api_lists_only_the_callers_notifications_newest_first(
    client, make_user, token_for, db_session
):
    me, other = make_user(name="Me Learner"), make_user(name="Someone Else")
    mine = notify(db_session, me, 3)
    notify(db_session, other, 2)

    response = client.get("/api/v1/notifications", headers=bearer(token_for(me)))

    assert response.status_code == 200
    body = response.json
    assert [item["id"] for item in body["items"]] == [n.id for n in reversed(mine)]
    assert body["next_cursor"] is None
    item = body["items"][0]
    assert set(item) >= {"id", "kind", "title", "body", "created_at", "read_at"}
    assert item["kind"] == "booking_confirmed"
    assert dt.datetime.fromisoformat(item["created_at"]).tzinfo is not None
    assert item["read_at"] is None


def test_the_api_pages_and_filters_unread(client, make_user, token_for, db_session):
    me = make_user()
    notify(db_session, me, 2, read=True, minutes_ago=100)
    unread = notify(db_session, me, 3)
    headers = bearer(token_for(me))

    first = client.get("/api/v1/notifications?limit=2", headers=headers).json
    second = client.get(
        f"/api/v1/notifications?limit=2&cursor={first['next_cursor']}", headers=headers
    ).json
    third = client.get(
        f"/api/v1/notifications?limit=2&cursor={second['next_cursor']}", headers=headers
    ).json
    only_unread = client.get("/api/v1/notifications?unread=true", headers=headers).json

    ids = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert third["next_cursor"] is None
    assert [i["id"] for i in only_unread["items"]] == [n.id for n in reversed(unread)]
    bad = client.get("/api/v1/notifications?cursor=nonsense", headers=headers)
    assert bad.status_code == 422
    assert bad.json["code"] == "validation_error"


def test_marking_read_is_for_the_owner_and_idempotent(client, make_user, token_for, db_session):
    me, other = make_user(), make_user()
    [mine] = notify(db_session, me, 1)
    [theirs] = notify(db_session, other, 1)
    headers = bearer(token_for(me))

    first = client.post(f"/api/v1/notifications/{mine.id}/read", headers=headers)
    again = client.post(f"/api/v1/notifications/{mine.id}/read", headers=headers)
    not_mine = client.post(f"/api/v1/notifications/{theirs.id}/read", headers=headers)
    missing = client.post("/api/v1/notifications/999999999/read", headers=headers)
    huge = client.post(f"/api/v1/notifications/{10**30}/read", headers=headers)

    assert first.status_code == again.status_code == 200
    assert first.json["read_at"] is not None
    assert again.json["read_at"] == first.json["read_at"]
    assert not_mine.status_code == missing.status_code == huge.status_code == 404
    assert not_mine.json == missing.json | {"detail": not_mine.json["detail"]}
    assert not_mine.mimetype == "application/problem+json"
    db_session.refresh(theirs)
    assert theirs.read_at is None


def test_mark_all_read_and_the_unread_count(client, make_user, token_for, db_session):
    me, other = make_user(), make_user()
    notify(db_session, me, 3)
    notify(db_session, other, 2)
    headers = bearer(token_for(me))

    assert client.get("/api/v1/notifications/unread-count", headers=headers).json == {"unread": 3}
    response = client.post("/api/v1/notifications/read-all", headers=headers)

    assert response.status_code == 200
    assert response.json == {"marked": 3, "unread": 0}
    assert client.get("/api/v1/notifications?unread=true", headers=headers).json["items"] == []
    other_token = token_for(other)
    assert client.get("/api/v1/notifications/unread-count", headers=bearer(other_token)).json == {
        "unread": 2
    }


def test_notifications_need_a_token(client):
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.post("/api/v1/notifications/1/read").status_code == 401


def test_email_preferences_over_the_api(client, make_user, token_for):
    coach = make_user("coach")
    headers = bearer(token_for(coach))

    before = client.get("/api/v1/notifications/preferences", headers=headers).json
    changed = client.put(
        "/api/v1/notifications/preferences",
        json={"email": {"resume_assigned": False}},
        headers=headers,
    )
    unknown = client.put(
        "/api/v1/notifications/preferences",
        json={"email": {"booking_reminder": False, "resume_reviewed": False, "bogus": True}},
        headers=headers,
    )
    not_bool = client.put(
        "/api/v1/notifications/preferences",
        json={"email": {"resume_assigned": "maybe"}},
        headers=headers,
    )

    assert before["email"]["resume_assigned"] is True
    assert {k["kind"] for k in before["kinds"]} == set(before["email"])
    assert changed.status_code == 200
    assert changed.json["email"]["resume_assigned"] is False
    assert changed.json["email"]["booking_confirmed"] is True
    assert unknown.status_code == 422
    assert set(unknown.json["errors"]) == {"email.resume_reviewed", "email.bogus"}
    assert not_bool.status_code == 422
    after = client.get("/api/v1/notifications/preferences", headers=headers).json
    assert after["email"]["resume_assigned"] is False
    assert after["email"]["booking_reminder"] is True  # the refused change changed nothing


def test_the_openapi_document_describes_the_notification_routes(client):
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]

    assert "/api/v1/notifications" in paths
    assert "/api/v1/notifications/{notification_id}/read" in paths
    assert "404" in paths["/api/v1/notifications/{notification_id}/read"]["post"]["responses"]
    assert "/api/v1/deliveries" in paths
    assert "409" in paths["/api/v1/deliveries/{delivery_id}/retry"]["post"]["responses"]
    params = {p["name"] for p in paths["/api/v1/notifications"]["get"]["parameters"]}
    assert {"unread", "limit", "cursor"} <= params


def test_staff_list_failed_deliveries_and_retry_one_once(client, make_user, token_for, db_session):
    staff, learner = make_user("staff", name="Sam Staff"), make_user("learner")
    delivery = failed_delivery(db_session, learner)
    headers = bearer(token_for(staff))

    listed = client.get("/api/v1/deliveries?status=failed", headers=headers)
    retried = client.post(f"/api/v1/deliveries/{delivery.id}/retry", headers=headers)
    twice = client.post(f"/api/v1/deliveries/{delivery.id}/retry", headers=headers)

    assert listed.status_code == 200
    [item] = [i for i in listed.json["items"] if i["id"] == delivery.id]
    assert item["status"] == "failed"
    assert item["to"] == learner.email
    assert item["attempts"] == 8
    assert "451" in item["last_error"]
    assert retried.status_code == 200
    assert retried.json["status"] == "pending"
    assert retried.json["retried_by"] == {"id": staff.id, "name": "Sam Staff"}
    assert twice.status_code == 409
    assert twice.json["code"] == "delivery_not_failed"
    assert client.get(f"/api/v1/deliveries/{delivery.id}", headers=headers).json["attempts"] == 0
    assert client.post("/api/v1/deliveries/999999999/retry", headers=headers).status_code == 404
    assert client.post(f"/api/v1/deliveries/{10**30}/retry", headers=headers).status_code == 404
    assert client.get(f"/api/v1/deliveries/{2**63}", headers=headers).status_code == 404
    assert client.get("/api/v1/deliveries?status=lost", headers=headers).status_code == 422


def test_only_staff_see_deliveries(client, make_user, token_for, db_session):
    learner, coach = make_user("learner"), make_user("coach")
    delivery = failed_delivery(db_session, learner)

    for user in (learner, coach):
        headers = bearer(token_for(user))
        assert client.get("/api/v1/deliveries", headers=headers).status_code == 403
        response = client.post(f"/api/v1/deliveries/{delivery.id}/retry", headers=headers)
        assert response.status_code == 403
    assert client.get("/api/v1/deliveries").status_code == 401
    db_session.refresh(delivery)
    assert delivery.status == "failed"


# --- pages -------------------------------------------------------------------------------------


def badge(html):
    match = re.search(r'Notifications <span class="badge">(\d+)', html)
    return int(match.group(1)) if match else 0


def test_the_notification_centre_page_badge_and_mark_read(client, make_user, db_session):
    me = make_user(name="Nia Learner")
    first, second = notify(db_session, me, 2)
    sign_in(client, me.email)

    page = client.get("/notifications")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert badge(client.get("/dashboard").get_data(as_text=True)) == 2
    assert "Note 1 for Nia Learner" in html
    assert html.index("Note 1 for") < html.index("Note 0 for")  # newest first
    assert "Unread: " in html

    response = post_form(client, f"/notifications/{first.id}/read", {}, form_page="/notifications")
    assert response.status_code == 302
    assert badge(client.get("/notifications").get_data(as_text=True)) == 1
    db_session.refresh(first)
    assert first.read_at is not None

    unread_page = client.get("/notifications?unread=true").get_data(as_text=True)
    assert "Note 1 for" in unread_page and "Note 0 for" not in unread_page

    response = post_form(client, "/notifications/read-all", {}, form_page="/notifications")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Marked 1 notification as read." in html
    assert badge(html) == 0
    db_session.refresh(second)
    assert second.read_at is not None


def test_the_pages_show_only_your_own_and_need_csrf(client, make_user, db_session):
    me, other = make_user(), make_user(name="Other Person")
    [theirs] = notify(db_session, other, 1)
    sign_in(client, me.email)

    assert "Other Person" not in client.get("/notifications").get_data(as_text=True)
    response = post_form(client, f"/notifications/{theirs.id}/read", {}, form_page="/notifications")
    assert "There is no such notification." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    client.post("/notifications/read-all", data={})  # no CSRF token
    db_session.refresh(theirs)
    assert theirs.read_at is None


def test_the_pages_need_sign_in(client):
    response = client.get("/notifications")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_email_preferences_page(client, make_user):
    learner = make_user()
    sign_in(client, learner.email)

    html = client.get("/notifications/preferences").get_data(as_text=True)
    assert 'name="booking_reminder"' in html and "checked" in html
    assert 'name="resume_assigned"' not in html  # a coach's kind
    # Unchecked boxes are not sent: everything but booking_reminder is turned off.
    response = post_form(client, "/notifications/preferences", {"booking_reminder": "y"})

    assert response.status_code == 302
    from services import notifications

    prefs = notifications.email_preferences(learner)
    assert prefs["booking_reminder"] is True
    assert prefs["booking_confirmed"] is False
    html = client.get("/notifications/preferences").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*name="booking_reminder"', html)
    assert not re.search(r'<input[^>]*checked[^>]*name="booking_confirmed"', html)


def test_the_staff_email_page_shows_failed_deliveries_and_sends_one_again(
    client, make_user, db_session
):
    staff, learner = make_user("staff"), make_user("learner")
    delivery = failed_delivery(db_session, learner, subject="Reminder: your session tomorrow")
    sign_in(client, staff.email)

    html = client.get("/staff/deliveries").get_data(as_text=True)
    assert "Reminder: your session tomorrow" in html
    assert "Send again" in html
    assert 'href="/staff/deliveries"' in client.get("/dashboard").get_data(as_text=True)

    response = post_form(
        client,
        f"/staff/deliveries/{delivery.id}/retry",
        {"status": "failed"},
        form_page="/staff/deliveries",
    )
    assert response.status_code == 302
    db_session.refresh(delivery)
    assert (delivery.status, delivery.retried_by_id) == ("pending", staff.id)
    assert "queued to be sent again" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    again = post_form(
        client, f"/staff/deliveries/{delivery.id}/retry", {}, form_page="/staff/deliveries"
    )
    assert "not failed" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_the_staff_email_page_is_for_staff_only(client, make_user):
    learner = make_user()
    sign_in(client, learner.email)

    assert client.get("/staff/deliveries").status_code == 403
    assert 'href="/staff/deliveries"' not in client.get("/dashboard").get_data(as_text=True)
