"""The annotations contract of the API, in-process (per-test rollback, SQLite and PostgreSQL):
the assigned coach annotates (drafts until the review is sent), the owner replies and resolves,
staff read, everyone else gets 404; a new version re-anchors the open comments; the review
counts what became of them."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from services import resumes
from services.db import db
from services.models import Annotation, OutboxEvent, Resume, StaffAction
from services.resumes import annotations as marks
from services.resumes import routing
from tests.support_resumes import GOOD_TEXT, make_docx, make_pdf, upload

PHRASE = "Reduced inference latency by 40%"
REVIEW = {
    "summary": "Strong; lead with numbers.",
    "scores": {"impact": 3, "clarity": 4, "ml_relevance": 4, "formatting": 4, "ats_readiness": 4},
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def learner(make_user):
    return make_user("learner", name="Lena Learner")


@pytest.fixture
def coach(make_user):
    return make_user("coach", name="Cora Coach", expertise=["ml", "python"], review_capacity=3)


def analyse_and_route(resume_id: int) -> None:
    resume = db.session.get(Resume, resume_id)
    resumes.analyse(resumes.current_version(resume).id)
    routing.route(resume_id)
    db.session.commit()


def in_review(client, learner, coach, token_for, data: bytes | None = None) -> int:
    resume_id = upload(client, token_for(learner), data or make_pdf()).json["id"]
    analyse_and_route(resume_id)
    accepted = client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(token_for(coach)))
    assert accepted.status_code == 200, accepted.json
    return resume_id


def url(resume_id: int, number: int = 1, tail: str = "") -> str:
    return f"/api/v1/resumes/{resume_id}/versions/{number}/annotations{tail}"


def comment(phrase: str = PHRASE, **extra):
    return {"body": "Say what the latency was for.", "quote": {"exact": phrase}, **extra}


def test_the_coach_comments_on_a_quote_and_it_is_a_draft_only_they_see(
    client, learner, coach, make_user, token_for
):
    staff = make_user("staff")
    resume_id = in_review(client, learner, coach, token_for)
    coach_token = token_for(coach)

    response = client.post(
        url(resume_id),
        headers=auth(coach_token),
        json=comment(
            suggestion="Cut p95 inference latency from 120 ms to 72 ms (40%).",
            criterion="impact",
            page=1,
            rects=[[0.1, 0.4, 0.5, 0.02]],
        ),
    )

    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "draft" and body["kind"] == "text"
    assert body["criterion"] == "impact"
    assert body["coach"] == {"id": coach.id, "name": "Cora Coach"}
    target = body["target"]
    assert target["quote"]["exact"] == PHRASE
    text = "\n".join(GOOD_TEXT)
    start = target["position"]["start"]
    assert target["position"]["end"] - start == len(PHRASE)
    row = db.session.get(Annotation, body["id"])
    assert row.version.text[start : start + len(PHRASE)] == PHRASE
    assert target["quote"]["prefix"] and text.index(PHRASE) > 0
    assert target["page"] == 1 and target["rects"] == [[0.1, 0.4, 0.5, 0.02]]

    mine = client.get(url(resume_id), headers=auth(coach_token)).json["items"]
    assert [a["id"] for a in mine] == [body["id"]]
    for other in (learner, staff):
        assert client.get(url(resume_id), headers=auth(token_for(other))).json["items"] == []


def test_sending_the_review_publishes_the_drafts_for_the_learner_and_staff(
    client, learner, coach, make_user, token_for
):
    staff = make_user("staff")
    resume_id = in_review(client, learner, coach, token_for)
    coach_token = token_for(coach)
    first = client.post(url(resume_id), headers=auth(coach_token), json=comment()).json
    pin = client.post(
        url(resume_id),
        headers=auth(coach_token),
        json={
            "kind": "pin",
            "body": "Too much white space here.",
            "page": 1,
            "point": {"x": 0.5, "y": 0.9},
            "criterion": "formatting",
        },
    )
    assert pin.status_code == 201, pin.json
    assert pin.json["target"]["point"] == {"x": 0.5, "y": 0.9}

    sent = client.post(
        f"/api/v1/resumes/{resume_id}/review", headers=auth(coach_token), json=REVIEW
    )
    assert sent.status_code == 200, sent.json
    assert sent.json["review"]["earlier_comments"] is None

    for user in (learner, staff, coach):
        items = client.get(url(resume_id), headers=auth(token_for(user))).json["items"]
        assert [a["id"] for a in items] == [first["id"], pin.json["id"]]
        assert all(a["status"] == "open" and a["published_at"] for a in items)
    audit = db.session.scalars(
        select(StaffAction).where(StaffAction.action == "annotation.write")
    ).all()
    assert sorted(a.subject_id for a in audit) == sorted([first["id"], pin.json["id"]])
    assert {a.actor_id for a in audit} == {coach.id}


def test_only_the_assigned_coach_annotates_and_others_get_404_or_403(
    client, learner, coach, make_user, token_for
):
    other_coach = make_user("coach", expertise=["frontend"], review_capacity=0)
    other_learner = make_user("learner")
    staff = make_user("staff")
    resume_id = in_review(client, learner, coach, token_for)

    assert (
        client.post(
            url(resume_id), headers=auth(token_for(other_coach)), json=comment()
        ).status_code
        == 404
    )
    for user in (learner, staff):
        assert (
            client.post(url(resume_id), headers=auth(token_for(user)), json=comment()).status_code
            == 403
        )
    for user in (other_coach, other_learner):
        response = client.get(url(resume_id), headers=auth(token_for(user)))
        assert response.status_code == 404 and response.json["code"] == "not_found"
    assert client.get(url(resume_id, 2), headers=auth(token_for(learner))).status_code == 404
    assert client.get(url(resume_id)).status_code == 401
    assert db.session.scalars(select(Annotation)).all() == []


def test_bad_comments_are_refused_with_a_clear_error_and_store_nothing(
    client, learner, coach, token_for
):
    resume_id = in_review(client, learner, coach, token_for)
    token = token_for(coach)
    cases = [
        (comment("This phrase is nowhere in the résumé"), 422, "quote.exact"),
        ({"body": "No quote."}, 422, "quote.exact"),
        ({"body": "   ", "quote": {"exact": PHRASE}}, 422, "body"),
        (comment(criterion="charm"), 422, "criterion"),
        (comment(page=9), 422, "page"),
        (comment(rects=[[0.1, 0.2, 3, 0.1]]), 422, "rects.0.2"),
        ({"kind": "pin", "body": "Here.", "page": 1}, 422, "point.x"),
        ({"kind": "pin", "body": "Here.", "point": {"x": 0.1, "y": 0.1}}, 422, "page"),
        (comment(body="x\u0000"), 422, "body"),
    ]
    for payload, status, field in cases:
        response = client.post(url(resume_id), headers=auth(token), json=payload)
        assert response.status_code == status, (payload, response.json)
        assert response.json["code"] == "validation_error"
        assert field in response.json["errors"], (payload, response.json)
    assert db.session.scalars(select(Annotation)).all() == []


def test_a_pin_needs_a_pdf(client, learner, coach, token_for):
    resume_id = in_review(client, learner, coach, token_for, make_docx())
    token = token_for(coach)
    pin = {"kind": "pin", "body": "Here.", "page": 1, "point": {"x": 0.1, "y": 0.1}}
    response = client.post(url(resume_id), headers=auth(token), json=pin)
    assert response.status_code == 422 and "kind" in response.json["errors"]
    on_text = client.post(url(resume_id), headers=auth(token), json=comment())
    assert on_text.status_code == 201, on_text.json
    assert on_text.json["target"]["page"] is None


def test_repeated_phrases_are_anchored_where_the_prefix_says(client, learner, coach, token_for):
    lines = [*GOOD_TEXT[:5], "Python in production.", "Experience in Python.", *GOOD_TEXT[5:]]
    resume_id = in_review(client, learner, coach, token_for, make_pdf(lines))
    response = client.post(
        url(resume_id),
        headers=auth(token_for(coach)),
        json={"body": "Which Python?", "quote": {"exact": "Python", "prefix": "Experience in "}},
    )
    assert response.status_code == 201, response.json
    row = db.session.get(Annotation, response.json["id"])
    text = row.version.text
    assert text[: row.start].endswith("Experience in ")


def test_the_learner_replies_and_resolves_the_coach_is_told_staff_read(
    client, learner, coach, make_user, token_for
):
    staff = make_user("staff")
    resume_id = in_review(client, learner, coach, token_for)
    coach_token, learner_token = token_for(coach), token_for(learner)
    aid = client.post(url(resume_id), headers=auth(coach_token), json=comment()).json["id"]
    # A draft is not there for the learner yet.
    early = client.post(
        url(resume_id, 1, f"/{aid}/replies"), headers=auth(learner_token), json={"body": "?"}
    )
    assert early.status_code == 404
    client.post(f"/api/v1/resumes/{resume_id}/review", headers=auth(coach_token), json=REVIEW)

    replied = client.post(
        url(resume_id, 1, f"/{aid}/replies"),
        headers=auth(learner_token),
        json={"body": "It was p95 latency of the ranking model."},
    )
    assert replied.status_code == 201, replied.json
    assert [(r["author"]["id"], r["body"]) for r in replied.json["replies"]] == [
        (learner.id, "It was p95 latency of the ranking model.")
    ]
    event = db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == "resume.annotation_replied")
    ).one()
    assert event.payload["to"] == "coach" and event.payload["annotation_id"] == aid

    for user in (staff, make_user("learner")):
        response = client.post(
            url(resume_id, 1, f"/{aid}/replies"), headers=auth(token_for(user)), json={"body": "x"}
        )
        assert response.status_code in (403, 404)
    empty = client.post(
        url(resume_id, 1, f"/{aid}/replies"), headers=auth(learner_token), json={"body": ""}
    )
    assert empty.status_code == 422

    resolved = client.post(url(resume_id, 1, f"/{aid}/resolve"), headers=auth(learner_token))
    assert resolved.status_code == 200, resolved.json
    assert resolved.json["status"] == "resolved" and resolved.json["resolution"] == "done"
    assert resolved.json["resolved_by"] == {"id": learner.id, "name": "Lena Learner"}
    again = client.post(url(resume_id, 1, f"/{aid}/resolve"), headers=auth(learner_token))
    assert again.status_code == 200 and again.json["resolved_at"] == resolved.json["resolved_at"]
    assert (
        client.post(
            url(resume_id, 1, f"/{aid}/resolve"), headers=auth(token_for(staff))
        ).status_code
        == 403
    )
    seen = client.get(url(resume_id), headers=auth(token_for(staff))).json["items"]
    assert seen[0]["resolution"] == "done" and len(seen[0]["replies"]) == 1
    audit = db.session.scalars(
        select(StaffAction).where(StaffAction.action == "annotation.resolve")
    ).one()
    assert audit.actor_id == learner.id and audit.subject_id == aid
    # A comment id of another version or résumé is not found.
    assert (
        client.post(url(resume_id, 2, f"/{aid}/resolve"), headers=auth(learner_token)).status_code
        == 404
    )
    assert (
        client.post(url(resume_id, 1, "/999999/resolve"), headers=auth(learner_token)).status_code
        == 404
    )


def test_a_new_version_re_anchors_the_open_comments_and_the_review_counts_them(
    client, learner, coach, token_for
):
    resume_id = in_review(client, learner, coach, token_for)
    coach_token, learner_token = token_for(coach), token_for(learner)
    kept = "Built training pipelines in Python with PyTorch and scikit-learn"
    edited = PHRASE
    removed = "Open-source recommender in Python and SQL"
    ids = {}
    for key, phrase in (("kept", kept), ("edited", edited), ("removed", removed)):
        ids[key] = client.post(
            url(resume_id), headers=auth(coach_token), json=comment(phrase)
        ).json["id"]
    client.post(f"/api/v1/resumes/{resume_id}/review", headers=auth(coach_token), json=REVIEW)

    lines = ["Skills first: Python, SQL", *GOOD_TEXT]
    lines = [line.replace(PHRASE, "Reduced model inference latency by 45%") for line in lines]
    lines = [line for line in lines if not line.startswith("Open-source recommender")]
    response = client.post(
        f"/api/v1/resumes/{resume_id}/versions",
        headers=auth(learner_token),
        data={"file": (io.BytesIO(make_pdf(lines)), "v2.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    analyse_and_route(resume_id)

    items = {
        a["id"]: a for a in client.get(url(resume_id), headers=auth(learner_token)).json["items"]
    }
    assert items[ids["kept"]]["reanchor"]["match"] == "exact"
    assert items[ids["kept"]]["reanchor"]["version"] == 2
    assert items[ids["edited"]]["reanchor"]["match"] == "approximate"
    assert "45%" in items[ids["edited"]]["reanchor"]["exact"]
    assert items[ids["removed"]]["reanchor"]["match"] == "missing"
    assert items[ids["removed"]]["reanchor"]["position"] is None

    # The coach reviewing version 2 closes one, carries one over, leaves one open.
    assert (
        client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(coach_token)).status_code
        == 200
    )
    db.session.expire_all()
    marks.close(coach, resume_id, ids["removed"])
    carried = marks.carry_over(coach, resume_id, ids["edited"])
    db.session.commit()
    assert carried.status == "draft" and carried.version.number == 2
    assert "45%" in carried.exact and carried.carried_from_id == ids["edited"]
    v2_text = carried.version.text
    assert v2_text[carried.start : carried.end] == carried.exact
    with pytest.raises(resumes.InvalidStatus):
        marks.close(coach, resume_id, ids["edited"])
    db.session.rollback()

    sent = client.post(
        f"/api/v1/resumes/{resume_id}/review", headers=auth(coach_token), json=REVIEW
    )
    assert sent.status_code == 200, sent.json
    assert sent.json["review"]["earlier_comments"] == {
        "total": 3,
        "addressed": 1,
        "carried": 1,
        "open": 1,
    }
    v2 = client.get(url(resume_id, 2), headers=auth(learner_token)).json["items"]
    assert [(a["carried_from"], a["status"]) for a in v2] == [(ids["edited"], "open")]
    v1 = {a["id"]: a for a in client.get(url(resume_id), headers=auth(learner_token)).json["items"]}
    assert v1[ids["removed"]]["resolution"] == "addressed"
    assert v1[ids["edited"]]["status"] == "carried"
    carried_reply = client.post(
        url(resume_id, 1, f"/{ids['edited']}/replies"),
        headers=auth(learner_token),
        json={"body": "ok"},
    )
    assert carried_reply.status_code == 409 and carried_reply.json["code"] == "invalid_status"


def test_annotating_needs_the_accepted_review_of_that_version(client, learner, coach, token_for):
    resume_id = upload(client, token_for(learner), make_pdf()).json["id"]
    analyse_and_route(resume_id)
    token = token_for(coach)
    offered = client.post(url(resume_id), headers=auth(token), json=comment())
    assert offered.status_code == 409 and offered.json["code"] == "invalid_status"
    client.post(f"/api/v1/resumes/{resume_id}/accept", headers=auth(token))
    client.post(f"/api/v1/resumes/{resume_id}/review", headers=auth(token), json=REVIEW)
    after = client.post(url(resume_id), headers=auth(token), json=comment())
    assert after.status_code == 409
