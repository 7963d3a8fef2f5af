"""Staff actions people can trust (per-test rollback, SQLite and PostgreSQL): a reassignment tells
the coach who lost the résumé, and their old link explains; a rebalance never offers a coach a
résumé twice, never moves a pinned résumé, never leaves the load less even; a learner's request
reaches staff and the coach and is answered in the app."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter

import pytest
from sqlalchemy import select

from services.booking import requests as staff_requests
from services.db import db, utcnow
from services.errors import NotFound
from services.models import (
    Delivery,
    Notification,
    RebalancePlan,
    Resume,
    StaffAction,
    StaffRequest,
    User,
)
from services.resumes import queue, rebalance, routing
from tests.support_auth import csrf_token, post_form, sign_in
from tests.support_booking import insert_booking, process_all, seed_types
from tests.support_staff import console_people, make_resume


@pytest.fixture
def people(make_user):
    return console_people(make_user)


def browser(app, user):
    client = app.test_client()
    sign_in(client, user.email)
    return client


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S)


def notes(user: User, kind: str) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.kind == kind)
            .order_by(Notification.id)
        )
    )


def offered_to(resume_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Resume, resume_id).reviewer_id


# --- reassigning ------------------------------------------------------------------------------


def test_a_reassignment_tells_the_coach_who_lost_it_and_their_old_link_explains(
    app, client, people
):
    resume = make_resume(people["learner"], target_role="ML engineer")
    sign_in(client, people["staff"].email)
    post_form(
        client,
        f"/staff/queue/{resume.id}/assign",
        {"coach_id": str(people["ada"].id), "reason": "Ada knows the field"},
        form_page="/staff/queue",
    )
    process_all()
    [offer] = notes(people["ada"], "resume_assigned")
    assert offer.link.endswith(f"/coach/reviews/{resume.id}")

    post_form(
        client,
        f"/staff/queue/{resume.id}/assign",
        {"coach_id": str(people["bo"].id), "reason": "Ada is away"},
        form_page="/staff/queue",
    )
    process_all()
    [moved] = notes(people["ada"], "resume_moved")
    assert moved.title == "Résumé moved to another coach: ML engineer"
    assert "Lena Learner" in moved.body
    assert len(notes(people["bo"], "resume_assigned")) == 1
    assert notes(people["bo"], "resume_moved") == []  # new to Bo: a plain offer
    email = db.session.scalar(
        select(Delivery).where(
            Delivery.user_id == people["ada"].id, Delivery.kind == "resume_moved"
        )
    )
    assert email.subject == "Résumé moved to another coach: ML engineer"
    assert "Staff moved Lena Learner's résumé" in email.text_body

    # Ada follows her first notification: a page that says what happened, not a 404.
    ada = browser(app, people["ada"])
    page = ada.get(f"/coach/reviews/{resume.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "This résumé moved to another coach" in html and "Lena Learner" in html
    assert "Accept" not in html and "Download the original" not in html  # nothing of the file
    # The same for a form she still had open; and someone never offered it meets a 404.
    accept = ada.post(
        f"/coach/reviews/{resume.id}/accept",
        data={"csrf_token": csrf_token(ada, "/coach/reviews")},
    )
    assert accept.status_code == 200 and "moved to another coach" in accept.get_data(as_text=True)
    assert offered_to(resume.id) == people["bo"].id
    assert browser(app, people["cy"]).get(f"/coach/reviews/{resume.id}").status_code == 404

    # The hand assignment is pinned with the reason staff gave: the queue and the résumé say so.
    queue = client.get("/staff/queue").get_data(as_text=True)
    row = re.search(rf'<tr id="resume-{resume.id}".*?</tr>', queue, re.S).group(0)
    assert "Pinned" in row and "Ada is away" in row
    detail = client.get(f"/staff/resumes/{resume.id}").get_data(as_text=True)
    assert "Pinned to Bo Coach" in detail and "Ada is away" in detail


def test_a_coach_who_declined_or_whose_resume_was_withdrawn_reads_why(app, people):
    from services import resumes

    declined = make_resume(people["learner"], target_role="Data scientist")
    routing.assign_manually(people["staff"], declined.id, people["cy"].id, "setup")
    withdrawn = make_resume(people["learner"], target_role="MLOps engineer")
    routing.assign_manually(people["staff"], withdrawn.id, people["cy"].id, "setup")
    db.session.commit()
    resumes.decline(people["cy"], declined.id, "Not my field")
    resumes.withdraw(people["learner"], withdrawn.id, "Found a job")
    db.session.commit()
    cy = browser(app, people["cy"])
    assert "You declined this résumé" in cy.get(f"/coach/reviews/{declined.id}").get_data(
        as_text=True
    )
    assert "This résumé was withdrawn" in cy.get(f"/coach/reviews/{withdrawn.id}").get_data(
        as_text=True
    )


# --- rebalance: no second "Résumé to review" ------------------------------------------------------


def _offers_per_coach_and_resume() -> Counter[tuple[int, str]]:
    return Counter(
        (n.user_id, n.link)
        for n in db.session.scalars(
            select(Notification).where(Notification.kind == "resume_assigned")
        )
    )


def test_rebalance_apply_and_undo_never_send_resume_to_review_twice(app, client, people):
    resumes = [make_resume(people["learner"], skills=["python", "pytorch"]) for _ in range(4)]
    for r in resumes:
        routing.assign_manually(people["staff"], r.id, people["cy"].id, "setup")
    db.session.commit()
    process_all()
    assert len(notes(people["cy"], "resume_assigned")) == 4

    sign_in(client, people["staff"].email)
    for round_ in range(2):  # apply and undo, twice: the second time every coach had them before
        post_form(client, "/staff/rebalance", {}, form_page="/staff/rebalance")
        plan = db.session.scalars(select(RebalancePlan).order_by(RebalancePlan.id.desc())).first()
        assert plan.moves, plan.summary
        post_form(client, f"/staff/rebalance/{plan.id}/apply", {}, form_page="/staff/rebalance")
        process_all()
        post_form(client, f"/staff/rebalance/{plan.id}/undo", {}, form_page="/staff/rebalance")
        process_all()
        assert {offered_to(r.id) for r in resumes} == {people["cy"].id}
        sent = _offers_per_coach_and_resume()
        assert max(sent.values()) == 1, sent  # nobody was offered one résumé twice
        moved_to = {m["to_id"] for m in plan.moves}
        if round_ == 0:
            first_targets = moved_to
    # Cy lost them and got them back: told both times, by a move, never a second offer.
    assert len(notes(people["cy"], "resume_assigned")) == 4
    titles = [n.title for n in notes(people["cy"], "resume_moved")]
    assert any(t.startswith("Résumé back with you") for t in titles)
    assert any(t.startswith("Résumé moved to another coach") for t in titles)
    # The coaches the plan sent them to: one offer each the first time, "back" the second.
    for coach in (people["ada"], people["bo"]):
        if coach.id in first_targets:
            offers = notes(coach, "resume_assigned")
            assert offers and len(offers) == len({n.link for n in offers})
    back_emails = db.session.scalars(
        select(Delivery.subject).where(
            Delivery.user_id == people["cy"].id, Delivery.kind == "resume_moved"
        )
    ).all()
    assert any(s.startswith("Résumé back with you") for s in back_emails)


# --- rebalance: pinned résumés stay -----------------------------------------------------------


def test_rebalance_never_moves_a_resume_staff_pinned(app, client, people):
    resumes = [make_resume(people["learner"], skills=["python", "ml"]) for _ in range(4)]
    for r in resumes[:2]:
        queue.assign(people["staff"], r.id, people["cy"].id, "Learner asked for Cy")
    for r in resumes[2:]:
        routing.assign_manually(people["staff"], r.id, people["cy"].id, "setup")
    db.session.commit()
    pinned = {r.id for r in resumes[:2]}

    plan = rebalance.propose(people["staff"])
    db.session.commit()
    assert plan.summary["pinned"] == 2
    assert plan.moves and not pinned & {m["resume_id"] for m in plan.moves}

    # Pinned after the plan was made: applying leaves it where it is, and says so.
    late = plan.moves[0]["resume_id"]
    queue.assign(people["staff"], late, people["cy"].id, "Cy already started")
    db.session.commit()
    sign_in(client, people["staff"].email)
    page = post_form(client, f"/staff/rebalance/{plan.id}/apply", {}, form_page="/staff/rebalance")
    message = flashes(client.get(page.headers["Location"]).get_data(as_text=True))[0]
    n = len(plan.moves) - 1
    assert message.startswith(f"Plan {plan.id} applied: {n} résumé{'s' if n != 1 else ''} moved.")
    assert "1 résumé was left where it is" in message
    for resume_id in pinned | {late}:
        assert offered_to(resume_id) == people["cy"].id
    [pin] = db.session.scalars(select(StaffAction).where(StaffAction.action == "resume.pin"))
    assert pin.subject_id == late and pin.reason == "Cy already started"

    # Unpinned, a résumé may move again.
    unpin = post_form(
        client, f"/staff/resumes/{late}/unpin", {}, form_page=f"/staff/resumes/{late}"
    )
    assert "is unpinned" in client.get(unpin.headers["Location"]).get_data(as_text=True)
    live = routing.live_assignment(late)
    assert live.pinned_at is None and live.pin_reason is None
    assert db.session.scalars(select(StaffAction).where(StaffAction.action == "resume.unpin")).all()
    assert rebalance.propose(people["staff"]).summary["pinned"] == len(pinned)


# --- rebalance: never a less even load ------------------------------------------------------------


def _evenness(plan: RebalancePlan, key: str) -> rebalance.Evenness:
    rows = plan.summary["load"]
    return rebalance.evenness(
        {r["coach_id"]: r[key] for r in rows}, {r["coach_id"]: r["capacity"] for r in rows}
    )


def test_rebalance_does_not_trade_evenness_for_skill_fit(client, make_user):
    """Two coaches of equal capacity hold five ML résumés each; only one of them knows ML. Moving
    every résumé to the expert would improve skill fit and leave one coach full and one idle:
    the plan moves nothing, and says the load is already as even as it can be."""
    learner = make_user("learner", name="Lou")
    expert = make_user("coach", name="Eve Expert", expertise=["ml", "python", "pytorch"])
    other = make_user("coach", name="Olly Other", expertise=[])
    db.session.execute(
        User.__table__.update().where(User.id.in_([expert.id, other.id])).values(review_capacity=10)
    )
    chief = make_user("staff", name="Sam Staff")
    for coach in (expert, other):
        for _ in range(5):
            r = make_resume(learner, skills=["ml", "python", "pytorch"])
            routing.assign_manually(chief, r.id, coach.id, "setup")
    db.session.commit()
    plan = rebalance.propose(chief)
    db.session.commit()
    assert plan.moves == []
    assert plan.summary["spread_after_pct"] == plan.summary["spread_before_pct"] == 0.0
    sign_in(client, chief.email)
    page = post_form(client, "/staff/rebalance", {}, form_page="/staff/rebalance")
    html = client.get(page.headers["Location"]).get_data(as_text=True)
    assert flashes(html) == ["The load is already as even as it can be."]
    assert "Apply plan" not in html


@pytest.mark.parametrize("seed", range(12))
def test_no_proposed_plan_leaves_the_load_less_even(make_user, seed):
    """Random worlds (capacities, expertise, offers, accepted reviews, pins): whatever the plan
    moves, the gap between the busiest and the least busy coach and the variance of the load
    never grow, and nothing pinned or accepted moves."""
    rng = random.Random(seed)
    tags = ["ml", "python", "pytorch", "sql", "nlp"]
    chief = make_user("staff")
    learner = make_user("learner")
    coaches = [
        make_user(
            "coach",
            expertise=rng.sample(tags, rng.randint(0, 3)),
            review_capacity=rng.randint(1, 6),
        )
        for _ in range(rng.randint(2, 5))
    ]
    fixed: set[int] = set()
    for _ in range(rng.randint(3, 14)):
        r = make_resume(learner, skills=rng.sample(tags, rng.randint(0, 3)))
        coach = rng.choice(coaches)
        if rng.random() < 0.25:
            queue.assign(chief, r.id, coach.id, "by hand")
            fixed.add(r.id)
        else:
            routing.assign_manually(chief, r.id, coach.id, "setup")
        if rng.random() < 0.2:
            live = routing.live_assignment(r.id)
            live.status = "accepted"
            fixed.add(r.id)
    db.session.commit()
    plan = rebalance.propose(chief)
    before, after = _evenness(plan, "before"), _evenness(plan, "after")
    assert after.no_worse_than(before), plan.summary
    assert not fixed & {m["resume_id"] for m in plan.moves}
    if plan.moves:
        assert after.better_than(before) or plan.summary["fit_after"] > plan.summary["fit_before"]
        assert rebalance.apply(chief, plan.id)


def test_the_apply_confirmation_names_every_move_with_and_without_javascript(client, people):
    resumes = [
        make_resume(people["learner"], target_role=f"Role {i}", skills=["python", "pytorch"])
        for i in range(4)
    ]
    for r in resumes:
        routing.assign_manually(people["staff"], r.id, people["cy"].id, "setup")
    db.session.commit()
    plan = rebalance.propose(people["staff"])
    db.session.commit()
    n = len(plan.moves)
    assert n > 1
    sign_in(client, people["staff"].email)
    names = {people[k].id: people[k].name for k in ("ada", "bo", "cy")}
    roles = {r.id: r.target_role for r in resumes}
    page = client.get("/staff/rebalance").get_data(as_text=True)
    dialog = re.search(rf'<dialog id="confirm-{plan.id}".*?</dialog>', page, re.S).group(0)
    confirm = client.get(f"/staff/rebalance/{plan.id}/apply").get_data(as_text=True)
    for html in (dialog, confirm):
        assert f"{n} résumés will move to another coach" in html
        assert f"Move {n} résumés</button>" in html
        for m in plan.moves:
            line = (
                f"<strong>Lena Learner</strong>, {roles[m['resume_id']]} "
                f'<span class="move-path">from <span class="move-from">{names[m["from_id"]]}'
                f'</span> to <span class="move-to">{names[m["to_id"]]}</span></span>'
            )
            assert line in html
    assert f'href="/staff/rebalance/{plan.id}/apply" data-dialog="confirm-{plan.id}"' in page
    done = client.post(
        f"/staff/rebalance/{plan.id}/apply",
        data={"csrf_token": csrf_token(client, f"/staff/rebalance/{plan.id}/apply")},
    )
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert flashes(html) == [f"Plan {plan.id} applied: {n} résumés moved."]
    # An applied plan: nothing to apply (a stale link flashes and goes back); undo asks the same.
    again = client.get(f"/staff/rebalance/{plan.id}/apply")
    assert again.status_code == 302
    undo = client.get(f"/staff/rebalance/{plan.id}/undo").get_data(as_text=True)
    assert f"{n} résumés will move back to the coach who had them" in undo
    assert client.get("/staff/rebalance/987654321/apply").status_code == 404


def test_one_move_is_one_resume(client, people):
    r = make_resume(people["learner"], skills=["python", "ml"])
    for _ in range(4):  # Cy full, with one of them movable to Ada (the best fit)
        other = make_resume(people["learner"], skills=[])
        routing.assign_manually(people["staff"], other.id, people["cy"].id, "setup")
        live = routing.live_assignment(other.id)
        live.status = "accepted"
    routing.assign_manually(people["staff"], r.id, people["cy"].id, "setup")
    db.session.commit()
    plan = rebalance.propose(people["staff"])
    db.session.commit()
    assert [m["resume_id"] for m in plan.moves] == [r.id]
    sign_in(client, people["staff"].email)
    page = client.get(f"/staff/rebalance/{plan.id}/apply").get_data(as_text=True)
    assert "1 résumé will move to another coach" in page and "Move 1 résumé</button>" in page
    done = post_form(client, f"/staff/rebalance/{plan.id}/apply", {}, form_page="/staff/rebalance")
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert flashes(html) == [f"Plan {plan.id} applied: 1 résumé moved."]


# --- a learner's request to staff ---------------------------------------------------------------


@pytest.fixture
def session_soon(people):
    """A confirmed coding session with Ada in five hours: inside its 24-hour cutoff."""
    seed_types()
    start = (utcnow() + dt.timedelta(hours=5)).replace(second=0, microsecond=0)
    return insert_booking(people["learner"].id, people["ada"].id, start)


def test_a_request_reaches_staff_and_the_coach_and_is_answered_in_the_app(
    app, client, people, make_user, session_soon
):
    booking_id = session_soon.id
    learner = browser(app, people["learner"])
    detail = learner.get(f"/learn/bookings/{booking_id}").get_data(as_text=True)
    # Booked just now, five hours ahead: locked since it was made, and the page says so.
    assert "booked less than 24 hours before it starts" in detail
    assert f'<a href="/learn/bookings/{booking_id}/contact">contact Career Services staff</a>' in (
        detail
    )
    form = f"/learn/bookings/{booking_id}/contact"
    empty = learner.post(form, data={"message": "  ", "csrf_token": csrf_token(learner, form)})
    assert empty.status_code == 422 and "Write what you need from staff." in empty.get_data(
        as_text=True
    )
    sent = learner.post(
        form,
        data={
            "message": "I have a fever and cannot attend. Can we move it?",
            "csrf_token": csrf_token(learner, form),
        },
    )
    assert sent.status_code == 302
    assert sent.headers["Location"] == f"/learn/bookings/{booking_id}#staff-requests"
    [request] = db.session.scalars(select(StaffRequest)).all()
    assert request.status == "open" and request.booking_id == booking_id
    waiting = learner.get(f"/learn/bookings/{booking_id}").get_data(as_text=True)
    assert "I have a fever" in waiting and "Waiting for staff to answer" in waiting
    assert "contact Career Services staff</a>" not in waiting  # one open request at a time
    assert learner.get(form).get_data(as_text=True).count("<textarea") == 0

    # Staff and the session's coach are told.
    process_all()
    [to_staff] = notes(people["staff"], "booking_request")
    assert to_staff.link.endswith(f"/staff/requests#request-{request.id}")
    assert to_staff.title == "Lena Learner asks about a Coding session"
    [to_coach] = notes(people["ada"], "booking_request")
    assert to_coach.link.endswith(f"/coach/sessions/{booking_id}")
    assert "I have a fever" in to_coach.body
    coach_email = db.session.scalar(
        select(Delivery).where(
            Delivery.user_id == people["ada"].id, Delivery.kind == "booking_request"
        )
    )
    assert "I have a fever" in coach_email.text_body and "with you" in coach_email.text_body

    # Staff read it on their page and answer it.
    sign_in(client, people["staff"].email)
    inbox = client.get("/staff/requests").get_data(as_text=True)
    assert f'id="request-{request.id}"' in inbox and "I have a fever" in inbox
    assert 'Waiting for an answer <span class="count">(1)</span>' in inbox
    blank = client.post(
        f"/staff/requests/{request.id}/answer",
        data={"reply": " ", "csrf_token": csrf_token(client, "/staff/requests")},
    )
    assert blank.status_code == 422
    assert "Write your answer to the learner." in blank.get_data(as_text=True)
    answered = post_form(
        client,
        f"/staff/requests/{request.id}/answer",
        {"reply": "Get well soon: I moved nothing yet, call us at 555-0100."},
        form_page="/staff/requests",
    )
    assert answered.status_code == 302
    after = client.get("/staff/requests").get_data(as_text=True)
    assert "Nothing is waiting" in after and "Get well soon" in after
    [entry] = db.session.scalars(select(StaffAction).where(StaffAction.action == "request.answer"))
    assert entry.subject_type == "request" and entry.subject_id == request.id
    # A second answer (another staff member, the same moment) is refused, the first kept.
    other = browser(app, make_user("staff", name="Tia Staff"))
    late = post_form(
        other,
        f"/staff/requests/{request.id}/answer",
        {"reply": "Me too"},
        form_page="/staff/requests",
    )
    assert "Sam Staff answered this request already." in other.get(
        late.headers["Location"]
    ).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(StaffRequest, request.id).reply.startswith("Get well soon")

    # The learner is told, and reads the answer with the session.
    process_all()
    [told] = notes(people["learner"], "booking_request_answered")
    assert told.link.endswith(f"/learn/bookings/{booking_id}#staff-requests")
    email = db.session.scalar(
        select(Delivery).where(
            Delivery.user_id == people["learner"].id, Delivery.kind == "booking_request_answered"
        )
    )
    assert "Get well soon" in email.text_body and "Sam Staff" in email.text_body
    page = learner.get(f"/learn/bookings/{booking_id}").get_data(as_text=True)
    assert "Sam Staff answered" in page and "Get well soon" in page
    assert "contact Career Services staff</a>" in page  # answered: they may write again


def test_only_the_learner_of_a_booking_writes_about_it(app, people, make_user, session_soon):
    other = make_user("learner")
    path = f"/learn/bookings/{session_soon.id}/contact"
    assert browser(app, other).get(path).status_code == 404
    assert browser(app, people["ada"]).get(path).status_code == 403
    with pytest.raises(NotFound):
        staff_requests.ask(other, session_soon.id, "Let me in")
    assert db.session.scalars(select(StaffRequest)).all() == []


def test_the_answer_is_on_the_contact_page_once_the_session_is_over(app, people, session_soon):
    request = staff_requests.ask(people["learner"], session_soon.id, "Running late")
    with pytest.raises(staff_requests.AlreadyAsked):
        staff_requests.ask(people["learner"], session_soon.id, "Really late")
    staff_requests.answer(people["staff"], request.id, "No problem")
    session_soon.status = "completed"
    db.session.commit()
    path = f"/learn/bookings/{session_soon.id}/contact"
    assert staff_requests.thread_path(session_soon) == f"{path}#staff-requests"
    page = browser(app, people["learner"]).get(path).get_data(as_text=True)
    assert "Running late" in page and "No problem" in page
