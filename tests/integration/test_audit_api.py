"""GET /api/v1/audit: staff read the append-only log (staff actions and routing decisions) with
filters and keyset pages; bad filters are 422 problems; nobody else reads it."""

from __future__ import annotations

from services import audit, resumes
from services.db import db
from services.models import Resume
from services.resumes import routing
from tests.support_resumes import make_pdf, upload


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_staff_read_actions_and_routing_decisions_newest_first(client, make_user, token_for):
    learner = make_user("learner", name="Lena Learner")
    make_user("coach", name="Cora Coach", expertise=["python"], review_capacity=3)
    other = make_user("coach", name="Otto Other", expertise=["sql"], review_capacity=3)
    staff = make_user("staff", name="Sam Staff")
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)  # what the worker does first
    routing.route(resume_id)  # a routing decision by the policy
    db.session.commit()
    staff_token = token_for(staff)
    assigned = client.post(
        f"/api/v1/resumes/{resume_id}/assign",
        headers=auth(staff_token),
        json={"coach_id": other.id, "reason": "Otto knows the team"},
    )
    assert assigned.status_code == 200
    audit.record(staff, "coach.update", "coach", other.id, "capacity for the spring cohort")
    db.session.commit()

    response = client.get(
        f"/api/v1/audit?subject_type=resume&subject_id={resume_id}", headers=auth(staff_token)
    )

    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert [(i["source"], i["action"]) for i in items] == [
        ("routing", "manual"),
        ("routing", "offered"),
    ]
    assert items[0]["actor"] == {"id": staff.id, "name": "Sam Staff"}
    assert "Otto knows the team" in items[0]["reason"]
    assert items[1]["actor"]["id"] is None  # the policy itself
    assert all(i["at"].endswith("+00:00") for i in items)
    assert response.json["next_cursor"] is None

    staff_only = client.get(
        "/api/v1/audit?source=staff&action=coach.update", headers=auth(staff_token)
    ).json["items"]
    assert [(i["subject_type"], i["subject_id"], i["reason"]) for i in staff_only] == [
        ("coach", other.id, "capacity for the spring cohort")
    ]
    found = client.get("/api/v1/audit?q=spring", headers=auth(staff_token)).json["items"]
    assert [i["action"] for i in found] == ["coach.update"]


def test_pages_follow_the_cursor_without_gaps_or_repeats(client, make_user, token_for):
    staff = make_user("staff", name="Sam Staff")
    coach = make_user("coach")
    for step in range(5):
        audit.record(staff, "coach.update", "coach", coach.id, f"step {step}")
    db.session.commit()
    seen: list[str] = []
    url = f"/api/v1/audit?source=staff&subject_id={coach.id}&limit=2"
    while url:
        page = client.get(url, headers=auth(token_for(staff))).json
        assert len(page["items"]) <= 2
        seen += [i["reason"] for i in page["items"]]
        cursor = page["next_cursor"]
        url = (
            f"/api/v1/audit?source=staff&subject_id={coach.id}&limit=2&cursor={cursor}"
            if cursor
            else ""
        )
    assert seen == [f"step {step}" for step in reversed(range(5))]


def test_bad_filters_are_422_problems_and_others_may_not_read_it(client, make_user, token_for):
    staff_token = token_for(make_user("staff"))
    for query in [
        "cursor=not-a-cursor",
        "source=email",
        "limit=0",
        "limit=201",
        "since=2026-12-01T00:00:00%2B00:00&until=2026-11-01T00:00:00%2B00:00",
        "since=yesterday",
        "subject_id=0",
    ]:
        response = client.get(f"/api/v1/audit?{query}", headers=auth(staff_token))
        assert response.status_code == 422, query
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json["code"] == "validation_error"
    assert client.get("/api/v1/audit").status_code == 401
    for role in ("learner", "coach"):
        response = client.get("/api/v1/audit", headers=auth(token_for(make_user(role))))
        assert response.status_code == 403 and response.json["code"] == "forbidden"
