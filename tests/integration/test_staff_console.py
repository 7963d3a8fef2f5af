"""The staff console: each action and its audit entry, exports, FAQ editing, rebalance, invites
(per-test rollback, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services import audit, faq, notifications
from services.accounts import coaches
from services.db import db, utcnow
from services.models import (
    Assignment,
    Booking,
    CoachInvite,
    OutboxEvent,
    Resume,
    RoutingDecision,
    StaffAction,
    User,
)
from services.resumes import rebalance, routing
from tests.support_auth import csrf_token, post_form, sign_in
from tests.support_booking import insert_booking, seed_types
from tests.support_staff import bulk_resumes, console_people, make_resume


@pytest.fixture
def people(make_user):
    return console_people(make_user)


@pytest.fixture
def signed_in(client, people):
    sign_in(client, people["staff"].email)
    return client


def actions(name: str) -> list[StaffAction]:
    return list(db.session.scalars(select(StaffAction).where(StaffAction.action == name)))


def post(client, path: str, data: dict[str, str], page: str = "/staff/queue"):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def test_every_console_page_is_for_staff_only(client, people):
    pages = [
        "/staff/",
        "/staff/queue",
        "/staff/coaches",
        "/staff/sessions",
        "/staff/audit",
        "/staff/faq",
        "/staff/rebalance",
        "/staff/queue.csv",
        "/staff/sessions.csv",
        "/staff/coaches/invite",
    ]
    for path in pages:
        assert client.get(path).status_code == 302  # to sign in
    sign_in(client, people["ada"].email)
    for path in pages:
        assert client.get(path).status_code == 403, path


def test_assign_then_reassign_with_a_reason_are_audited(signed_in, people):
    resume = make_resume(people["learner"])
    response = post(
        signed_in,
        f"/staff/queue/{resume.id}/assign",
        {"coach_id": str(people["ada"].id), "reason": "Ada knows the field"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Resume, resume.id).reviewer_id == people["ada"].id
    post(
        signed_in,
        f"/staff/queue/{resume.id}/assign",
        {"coach_id": str(people["bo"].id), "reason": "Ada is away"},
    )
    db.session.expire_all()
    assert db.session.get(Resume, resume.id).reviewer_id == people["bo"].id
    [first] = actions("resume.assign")
    [second] = actions("resume.reassign")
    assert first.reason == "Ada knows the field" and first.actor_id == people["staff"].id
    assert second.detail == {"from_coach_id": people["ada"].id, "to_coach_id": people["bo"].id}
    decisions = db.session.scalars(
        select(RoutingDecision).where(RoutingDecision.resume_id == resume.id)
    ).all()
    assert [d.outcome for d in decisions] == ["manual", "manual"]
    # The audit page shows staff actions and routing decisions together, with reasons.
    html = signed_in.get(f"/staff/audit?subject_type=resume&subject_id={resume.id}").get_data(
        as_text=True
    )
    assert "resume.reassign" in html and "Ada is away" in html and "routing decision" in html
    assert html.count('<tr class="audit-') == 4


def test_assign_without_a_reason_changes_nothing(signed_in, people):
    resume = make_resume(people["learner"])
    response = post(
        signed_in,
        f"/staff/queue/{resume.id}/assign",
        {"coach_id": str(people["ada"].id), "reason": "  "},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Resume, resume.id).reviewer_id is None
    assert actions("resume.assign") == []
    assert "not assigned" in signed_in.get("/staff/queue").get_data(as_text=True)


def test_queue_filters_search_and_puts_overdue_first(signed_in, people):
    ids = [make_resume(people["learner"], target_role=f"Role {i}").id for i in range(3)]
    for resume_id in ids:
        routing.route(resume_id)
    db.session.commit()
    late = ids[2]
    db.session.execute(
        Resume.__table__.update()
        .where(Resume.id == late)
        .values(due_at=utcnow() - dt.timedelta(hours=1))
    )
    db.session.commit()
    html = signed_in.get("/staff/queue").get_data(as_text=True)
    order = [int(m) for m in re.findall(r'<tr id="resume-(\d+)"', html)]
    assert order[0] == late and "overdue" in html
    only = signed_in.get("/staff/queue?overdue=1").get_data(as_text=True)
    assert re.findall(r'<tr id="resume-(\d+)"', only) == [str(late)]
    found = signed_in.get("/staff/queue?q=Role+1").get_data(as_text=True)
    assert re.findall(r'<tr id="resume-(\d+)"', found) == [str(ids[1])]


def test_move_all_sends_a_coachs_reviews_elsewhere_by_the_policy(signed_in, people):
    resumes = [make_resume(people["learner"], skills=["python"]) for _ in range(3)]
    for r in resumes:
        routing.assign_manually(people["staff"], r.id, people["ada"].id, "setup")
    db.session.commit()
    response = post(
        signed_in,
        f"/staff/coaches/{people['ada'].id}/move-all",
        {"reason": "on leave"},
        page="/staff/coaches",
    )
    assert response.status_code == 302
    db.session.expire_all()
    holders = {db.session.get(Resume, r.id).reviewer_id for r in resumes}
    assert people["ada"].id not in holders and holders <= {people["bo"].id, people["cy"].id}
    # The policy chose by skill fit first: Bo matches python, Cy nothing.
    assert db.session.get(Resume, resumes[0].id).reviewer_id == people["bo"].id
    [entry] = actions("coach.move_all")
    assert entry.reason == "on leave" and len(entry.detail["moved"]) == 3
    reasons = db.session.scalars(
        select(RoutingDecision.reason)
        .where(RoutingDecision.resume_id == resumes[0].id)
        .order_by(RoutingDecision.id.desc())
    ).first()
    assert "moved from Ada Coach: on leave" in reasons


def test_deactivate_activate_and_edit_a_coach_are_audited(signed_in, people):
    cy = people["cy"]
    post(
        signed_in,
        f"/staff/coaches/{cy.id}/active",
        {"active": "0", "reason": "left"},
        page="/staff/coaches",
    )
    db.session.expire_all()
    assert db.session.get(User, cy.id).active is False
    post(
        signed_in,
        f"/staff/coaches/{cy.id}/active",
        {"active": "1", "reason": "back"},
        page="/staff/coaches",
    )
    response = post(
        signed_in,
        f"/staff/coaches/{cy.id}/edit",
        {"expertise": "MLOps, python", "review_capacity": "7", "reason": "trained"},
        page=f"/staff/coaches/{cy.id}/edit",
    )
    assert response.status_code == 302
    db.session.expire_all()
    coach = db.session.get(User, cy.id)
    assert coach.active and coach.expertise == ["mlops", "python"] and coach.review_capacity == 7
    assert [a.reason for a in actions("coach.deactivate")] == ["left"]
    assert [a.reason for a in actions("coach.activate")] == ["back"]
    [update] = actions("coach.update")
    assert update.detail["before"]["review_capacity"] == 4
    assert update.detail["after"] == {"expertise": ["mlops", "python"], "review_capacity": 7}
    bad = post(
        signed_in,
        f"/staff/coaches/{cy.id}/edit",
        {"expertise": "", "review_capacity": "999"},
        page=f"/staff/coaches/{cy.id}/edit",
    )
    assert bad.status_code == 200 and "field-error" in bad.get_data(as_text=True)


def test_invite_link_sets_a_password_once_and_expires(signed_in, client, people):
    response = post(
        signed_in,
        "/staff/coaches/invite",
        {
            "name": "Nia New",
            "email": "nia@example.com",
            "expertise": "ml",
            "review_capacity": "3",
            "timezone": "UTC",
        },
        page="/staff/coaches/invite",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    coach = db.session.scalar(select(User).where(User.email == "nia@example.com"))
    assert coach.role == "coach" and coach.active is False
    [event] = db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == "staff.coach_invited")
    )
    assert "token" not in event.payload  # the secret is derived again, never stored
    # The email the handler builds carries the single-use link; the in-app notification does not.
    [message] = notifications._handlers["staff.coach_invited"](event.payload)
    link = message.context["link"]
    token = link.rsplit("/", 1)[1]
    assert message.user.id == coach.id and message.link is None
    assert link.endswith(f"/staff/invite/{token}") and len(token) >= 40
    assert db.session.scalar(select(CoachInvite.token_hash)) != token  # only the hash is kept
    assert [a.detail["email"] for a in actions("coach.invite")] == ["nia@example.com"]

    signed_in.post("/sign-out", data={"csrf_token": csrf_token(signed_in, "/staff/")})
    page = f"/staff/invite/{token}"
    assert client.get(page).status_code == 200
    weak = post_form(client, page, {"password": "password"})
    assert weak.status_code == 200 and "field-error" in weak.get_data(as_text=True)
    done = post_form(client, page, {"password": "a long new coach passphrase"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, coach.id).active is True
    assert client.get(page).status_code == 404  # used once
    sign_in(client, "nia@example.com", "a long new coach passphrase")
    reviews = client.get("/coach/reviews")
    assert reviews.status_code == 200, reviews.headers.get("Location")  # signed in as the coach
    assert "<h1>Review queue</h1>" in reviews.get_data(as_text=True)

    other, _ = coaches.invite_coach(people["staff"], coaches.Invitation("old@example.com", "Old"))
    invite = db.session.scalar(select(CoachInvite).where(CoachInvite.user_id == other.id))
    invite.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    old_event = db.session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.kind == "staff.coach_invited")
        .order_by(OutboxEvent.id.desc())
    ).first()
    [old_message] = notifications._handlers["staff.coach_invited"](old_event.payload)
    old_token = old_message.context["link"].rsplit("/", 1)[1]
    assert old_token != token
    assert client.get(f"/staff/invite/{old_token}").status_code == 404


def test_staff_cancel_inside_the_cutoff_is_an_audited_override(signed_in, people):
    seed_types()
    booking = insert_booking(
        people["learner"].id, people["ada"].id, utcnow() + dt.timedelta(hours=2)
    )
    html = signed_in.get("/staff/sessions").get_data(as_text=True)
    assert f'id="booking-{booking.id}"' in html
    post(
        signed_in,
        f"/staff/sessions/{booking.id}/cancel",
        {"reason": "coach ill"},
        page="/staff/sessions",
    )
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "cancelled"
    [entry] = actions("booking.cancel")
    assert entry.reason == "coach ill" and entry.detail == {"override": True}


def test_exports_stream_csv_and_are_audited(signed_in, people):
    make_resume(people["learner"], target_role='=HYPERLINK("http://x")')
    make_resume(people["learner"], target_role="Data scientist")
    response = signed_in.get("/staff/queue.csv?status=all")
    assert response.is_streamed and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "status", "target_role"] and len(rows) == 3
    assert {r[2] for r in rows[1:]} == {'\'=HYPERLINK("http://x")', "Data scientist"}
    seed_types()
    insert_booking(people["learner"].id, people["ada"].id, utcnow() + dt.timedelta(days=2))
    sessions = signed_in.get("/staff/sessions.csv")
    assert sessions.is_streamed
    lines = list(csv.reader(io.StringIO(sessions.get_data(as_text=True))))
    assert len(lines) == 2 and lines[1][5] == "Ada Coach"
    assert [a.detail["filters"]["status"] for a in actions("export.queue")] == ["all"]
    assert [a.detail["rows"] for a in actions("export.queue")] == [2]
    assert [a.detail["rows"] for a in actions("export.bookings")] == [1]


def test_an_export_the_client_abandons_half_way_is_not_audited(signed_in, people):
    bulk_resumes(people["learner"].id, 1000)  # some 150 KiB: more than one chunk
    response = signed_in.get("/staff/queue.csv?status=all", buffered=False)
    body = iter(response.response)
    first = next(body)
    assert first.startswith(b"id,status,target_role") and len(first) < 100_000
    response.close()  # as the server does when the client goes away
    assert actions("export.queue") == []
    whole = signed_in.get("/staff/queue.csv?status=all")
    assert len(whole.get_data()) > len(first)
    assert [a.detail["rows"] for a in actions("export.queue")] == [1000]


def test_faq_edit_previews_sanitised_markdown_and_the_public_page_follows(signed_in, people):
    faq.load_seed()
    db.session.commit()
    entry = faq.get_page(faq.FAQ_SLUG).entries[0]
    path = f"/staff/faq/{entry.id}"
    answer = (
        "It **depends** on the team.\n\n<script>alert(1)</script>\n\n[docs](javascript:alert(1))"
    )
    preview = post(
        signed_in, path, {"question": "What now?", "answer": answer, "preview": "1"}, page=path
    )
    html = preview.get_data(as_text=True)
    assert "<strong>depends</strong>" in html
    assert "<script>alert" not in html and 'href="javascript' not in html
    db.session.expire_all()
    assert faq.get_entry(entry.id).question != "What now?"  # a preview saves nothing
    saved = post(
        signed_in, path, {"question": "What now?", "answer": answer, "save": "1"}, page=path
    )
    assert saved.status_code == 302
    public = signed_in.get("/faq").get_data(as_text=True)
    assert "What now?" in public and "<strong>depends</strong>" in public
    assert "<script>alert" not in public
    ld = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', public, re.S).group(1)
    )
    first = ld["mainEntity"][0]
    assert first["name"] == "What now?"
    assert first["acceptedAnswer"]["text"].startswith("It depends on the team.")
    [update] = actions("faq.update")
    assert update.detail["after"]["question"] == "What now?"
    added = post(
        signed_in,
        "/staff/faq/new",
        {"question": "New one?", "answer": "Yes.", "save": "1"},
        page="/staff/faq/new",
    )
    assert added.status_code == 302 and "New one?" in signed_in.get("/faq").get_data(as_text=True)
    assert len(actions("faq.add")) == 1


def test_rebalance_evens_load_improves_fit_applies_and_undoes(signed_in, people):
    resumes = [make_resume(people["learner"], skills=["python", "pytorch"]) for _ in range(4)]
    for r in resumes:
        routing.assign_manually(people["staff"], r.id, people["cy"].id, "setup")
    db.session.commit()
    signed_in.post(
        "/staff/rebalance", data={"csrf_token": csrf_token(signed_in, "/staff/rebalance")}
    )
    plan = db.session.scalars(select(rebalance.RebalancePlan)).one()
    assert plan.status == "proposed" and plan.moves
    assert plan.summary["fit_after"] > plan.summary["fit_before"]
    assert plan.summary["spread_after_pct"] < plan.summary["spread_before_pct"]
    assert {m["from_id"] for m in plan.moves} == {people["cy"].id}
    html = signed_in.get("/staff/rebalance").get_data(as_text=True)
    assert "Apply plan" in html and "Load per coach" in html
    post(signed_in, f"/staff/rebalance/{plan.id}/apply", {}, page="/staff/rebalance")
    db.session.expire_all()
    moved = {m["resume_id"]: m["to_id"] for m in plan.moves}
    for resume_id, coach_id in moved.items():
        assert db.session.get(Resume, resume_id).reviewer_id == coach_id
    post(signed_in, f"/staff/rebalance/{plan.id}/undo", {}, page="/staff/rebalance")
    db.session.expire_all()
    assert {db.session.get(Resume, r.id).reviewer_id for r in resumes} == {people["cy"].id}
    assert db.session.get(rebalance.RebalancePlan, plan.id).status == "undone"
    assert len(actions("rebalance.apply")[0].detail["moves"]) == len(moved)
    assert len(actions("rebalance.undo")[0].detail["moves"]) == len(moved)


def test_rebalance_never_moves_an_accepted_review_or_to_an_excluded_coach(people):
    r = make_resume(people["learner"], skills=["python"])
    routing.assign_manually(people["staff"], r.id, people["cy"].id, "setup")
    db.session.commit()
    live = db.session.scalar(
        select(Assignment).where(Assignment.resume_id == r.id, Assignment.status == "offered")
    )
    live.status = "accepted"
    db.session.commit()
    plan = rebalance.propose(people["staff"])
    assert plan.moves == [] and plan.summary["offered"] == 0

    # With offered work to spread, the plan moves some of it, but not the accepted review, and
    # never to Ada, who has a conflict with this learner (Ada would otherwise fit best: ml, python).
    routing.add_conflict(people["staff"], people["learner"].id, people["ada"].id, "friend")
    offered = [make_resume(people["learner"], skills=["python", "ml"]) for _ in range(4)]
    for o in offered:
        routing.assign_manually(people["staff"], o.id, people["cy"].id, "setup")
    db.session.commit()
    plan = rebalance.propose(people["staff"])
    assert plan.summary["offered"] == len(offered)
    assert plan.moves, plan.summary  # Cy holds five; Bo has room: something must move
    assert {m["resume_id"] for m in plan.moves} <= {o.id for o in offered}
    assert {m["to_id"] for m in plan.moves} == {people["bo"].id}


def test_the_audit_log_cannot_be_edited_or_deleted(people):
    entry = audit.record(people["staff"], "coach.update", "coach", people["ada"].id, "why")
    db.session.commit()
    for statement in ("UPDATE staff_action SET reason = 'changed'", "DELETE FROM staff_action"):
        nested = db.session.begin_nested()
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement))
        nested.rollback()
    db.session.expire_all()
    assert db.session.get(StaffAction, entry.id).reason == "why"


def test_audit_entries_filter_and_page_newest_first(people):
    for i in range(5):
        audit.record(people["staff"], "coach.update", "coach", people["ada"].id, f"step {i}")
    audit.record(people["staff"], "booking.cancel", "booking", 7, "ill")
    db.session.commit()
    first = audit.entries(audit.AuditFilter(source="staff", action="coach.update"), limit=3)
    rest = audit.entries(
        audit.AuditFilter(source="staff", action="coach.update"), limit=3, cursor=first.next_cursor
    )
    assert [e.reason for e in first.items + rest.items] == [f"step {i}" for i in reversed(range(5))]
    assert rest.next_cursor is None
    [found] = audit.entries(audit.AuditFilter(text="ill")).items
    assert found.subject_id == 7


def test_the_audit_page_with_a_cursor_that_is_not_valid_shows_the_first_page(signed_in, people):
    audit.record(people["staff"], "booking.cancel", "booking", 7, "ill")
    db.session.commit()
    for cursor in ("not-a-cursor", "1.nonsense.2"):
        response = signed_in.get(f"/staff/audit?cursor={cursor}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "booking.cancel" in html and ">Newest</a>" not in html


def test_dashboard_renders_charts_and_stats_api_has_weekly_turnaround(
    signed_in, people, token_for, make_user
):
    make_resume(people["learner"])
    html = signed_in.get("/staff/").get_data(as_text=True)
    assert html.count('class="chart-svg"') == 4 and "Load per coach" in html
    staff_token = token_for(make_user("staff"))  # no two-factor yet: the password is enough
    body = signed_in.get("/api/v1/stats", headers={"Authorization": f"Bearer {staff_token}"}).json
    assert len(body["turnaround_per_week"]) == 12
    assert set(body["turnaround_per_week"][0]) == {
        "week_start",
        "reviews",
        "median_hours",
        "p90_hours",
    }
