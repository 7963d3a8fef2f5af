"""Due-time warnings and escalation (beat scans, safe twice), offer expiry in-process, the staff
queue and stats (per-test rollback, SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from services import notifications, resumes
from services.db import db, utcnow
from services.models import Assignment, OutboxEvent, Resume
from services.resumes import routing
from tests.support_resumes import make_pdf, upload


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(make_user):
    return {
        "learner": make_user("learner", name="Lena Learner"),
        "coach": make_user("coach", name="Cora Coach", expertise=["ml"], review_capacity=4),
        "staff": make_user("staff", name="Sam Staff"),
    }


def routed_resume(client, token_for, learner) -> int:
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume_id)
    db.session.commit()
    return resume_id


def events(kind: str) -> list[OutboxEvent]:
    return list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)))


def shift(resume_id: int, **columns: dt.datetime) -> None:
    db.session.execute(
        update(Assignment).where(Assignment.resume_id == resume_id).values(**columns)
    )
    if "due_at" in columns:  # the résumé carries its live assignment's due time
        db.session.execute(
            update(Resume).where(Resume.id == resume_id).values(due_at=columns["due_at"])
        )
    db.session.commit()


def test_the_coach_is_warned_at_75_percent_and_staff_on_breach_each_once(client, people, token_for):
    resume_id = routed_resume(client, token_for, people["learner"])
    assignment = db.session.scalar(select(Assignment).where(Assignment.resume_id == resume_id))
    window = assignment.due_at - assignment.offered_at
    assert assignment.warn_at == assignment.offered_at + window * 0.75
    assert routing.scan_due() == (0, 0)

    shift(resume_id, warn_at=utcnow() - dt.timedelta(minutes=1))
    assert routing.scan_due() == (1, 0)
    assert routing.scan_due() == (0, 0)  # run twice: warned once
    [warning] = events("resume.due_soon")
    assert notifications.fan_out(warning.id).made
    shift(resume_id, due_at=utcnow() - dt.timedelta(minutes=1))
    assert routing.scan_due() == (0, 1)
    assert routing.scan_due() == (0, 0)
    db.session.commit()
    [late] = events("resume.overdue")
    made = notifications.fan_out(late.id).made
    assert made == 2  # the one staff member, and the coach in-app

    queue = client.get("/api/v1/queue?overdue=true", headers=auth(token_for(people["staff"])))
    assert [item["id"] for item in queue.json["items"]] == [resume_id]
    assert queue.json["items"][0]["overdue"] is True
    history = db.session.get(Resume, resume_id).events
    assert history[-1].event == "escalated"


def test_expiry_in_process_reroutes_and_is_safe_twice(client, people, make_user, token_for):
    other = make_user("coach", name="Otto Other", expertise=[], review_capacity=2)
    resume_id = routed_resume(client, token_for, people["learner"])
    shift(resume_id, expires_at=utcnow() - dt.timedelta(seconds=1))

    assert routing.expire_offers() == 1
    assert routing.expire_offers() == 0
    db.session.commit()

    resume = db.session.get(Resume, resume_id)
    assert resume.reviewer_id == other.id and resume.status == "assigned"
    coach_token = token_for(people["coach"])
    response = client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(coach_token))
    assert response.status_code == 404  # no longer theirs


def test_accepting_after_the_window_but_before_the_scan_is_409(client, people, token_for):
    resume_id = routed_resume(client, token_for, people["learner"])
    shift(resume_id, expires_at=utcnow() - dt.timedelta(seconds=1))
    response = client.post(
        f"/api/v1/resumes/{resume_id}/accept", headers=auth(token_for(people["coach"]))
    )
    assert response.status_code == 409
    assert response.json["code"] == "offer_expired"


def test_the_queue_is_oldest_first_with_filters_and_staff_only(
    client, people, make_user, token_for
):
    first = routed_resume(client, token_for, people["learner"])
    second = routed_resume(client, token_for, people["learner"])
    staff_token = token_for(people["staff"])

    body = client.get("/api/v1/queue", headers=auth(staff_token)).json
    ids = [item["id"] for item in body["items"]]
    assert ids.index(first) < ids.index(second)
    item = next(i for i in body["items"] if i["id"] == first)
    assert item["reviewer"] == {"id": people["coach"].id, "name": "Cora Coach"}
    assert item["routing_reason"].startswith("matched ml")
    assert item["due_at"].endswith("+00:00") and item["age_hours"] >= 0
    mine = client.get(
        f"/api/v1/queue?coach_id={people['coach'].id}&status=assigned", headers=auth(staff_token)
    ).json
    assert {i["id"] for i in mine["items"]} == {first, second}
    page = client.get("/api/v1/queue?limit=1", headers=auth(staff_token)).json
    assert len(page["items"]) == 1 and page["next_cursor"]
    for role in ("learner", "coach"):
        token = token_for(people[role])
        assert client.get("/api/v1/queue", headers=auth(token)).status_code == 403
        assert client.get("/api/v1/stats", headers=auth(token)).status_code == 403


def test_stats_give_turnaround_backlog_and_load(client, people, token_for):
    resume_id = routed_resume(client, token_for, people["learner"])
    routed_resume(client, token_for, people["learner"])
    coach_token = token_for(people["coach"])
    client.post(
        f"/api/v1/resumes/{resume_id}/review",
        headers=auth(coach_token),
        json={"summary": "Fine", "scores": {"impact": 4}},
    )

    stats = client.get("/api/v1/stats", headers=auth(token_for(people["staff"]))).json

    assert stats["turnaround"]["reviews"] >= 1
    assert stats["turnaround"]["median_hours"] is not None
    assert stats["turnaround"]["p90_hours"] >= stats["turnaround"]["median_hours"]
    assert stats["backlog"]["by_status"]["reviewed"] >= 1
    assert stats["backlog"]["by_status"]["assigned"] >= 1
    assert sum(b["count"] for b in stats["backlog"]["by_age"]) == stats["backlog"]["open"]
    load = next(row for row in stats["load"] if row["coach"]["id"] == people["coach"].id)
    assert load == {
        "coach": {"id": people["coach"].id, "name": "Cora Coach"},
        "open": 1,
        "capacity": 4,
        "load_pct": 25.0,
    }
    assert len(stats["bookings_per_week"]) == 12
    assert "no_show_rate" in stats
