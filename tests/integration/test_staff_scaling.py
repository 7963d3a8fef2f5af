"""The staff figures and queue at scale: the SQL aggregates give exactly the numbers of the Python
definition (nearest-rank quantiles of hours rounded to 0.01, weeks from Monday UTC), and the
queue's default order pages correctly and is read from an index, not sorted (per-test rollback,
SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select, text, update

from services import resumes
from services.db import db, utcnow
from services.models import Assignment, Booking, Resume, ResumeVersion, Review
from services.models.resumes import OPEN_STATUS_VALUES
from services.pagination import encode_cursor
from services.resumes import OPEN_STATUSES, queue, routing, stats
from tests.support_booking import insert_booking, seed_types
from tests.support_staff import bulk_resumes, make_resume


def test_the_partial_index_names_the_open_statuses():
    assert tuple(OPEN_STATUS_VALUES) == tuple(s.value for s in OPEN_STATUSES)


def _reviews(learner_id: int, coach_id: int, turnarounds: list[tuple[dt.datetime, dt.timedelta]]):
    """One reviewed résumé per (review time, turnaround), by core inserts."""
    first = (db.session.scalar(select(db.func.max(Resume.id))) or 0) + 1
    first_version = (db.session.scalar(select(db.func.max(ResumeVersion.id))) or 0) + 1
    first_assignment = (db.session.scalar(select(db.func.max(Assignment.id))) or 0) + 1
    resumes, versions, assignments, reviews = [], [], [], []
    for i, (reviewed, gap) in enumerate(turnarounds):
        uploaded = reviewed - gap
        rid, vid, aid = first + i, first_version + i, first_assignment + i
        resumes.append(
            {
                "id": rid,
                "learner_id": learner_id,
                "target_role": "ML engineer",
                "notes": "",
                "status": "reviewed",
                "current_version": 1,
                "queued_at": uploaded,
                "created_at": uploaded,
                "updated_at": reviewed,
            }
        )
        versions.append(
            {
                "id": vid,
                "resume_id": rid,
                "number": 1,
                "filename": "cv.pdf",
                "kind": "pdf",
                "content_type": "application/pdf",
                "size": 1000,
                "sha256": f"{rid:064d}",
                "uploaded_at": uploaded,
                "analysis_status": "done",
                "skills": [],
                "active_content": [],
            }
        )
        assignments.append(
            {
                "id": aid,
                "resume_id": rid,
                "version_id": vid,
                "coach_id": coach_id,
                "status": "completed",
                "offered_at": uploaded,
                "expires_at": uploaded + dt.timedelta(days=1),
                "due_at": uploaded + dt.timedelta(days=3),
                "warn_at": uploaded + dt.timedelta(days=2),
            }
        )
        reviews.append(
            {
                "resume_id": rid,
                "version_id": vid,
                "assignment_id": aid,
                "coach_id": coach_id,
                "summary": "ok",
                "comments": "",
                "outcome": "approved",
                "created_at": reviewed,
                "turnaround_us": Review.turnaround_of(reviewed, uploaded),
            }
        )
    for model, rows in (
        (Resume, resumes),
        (ResumeVersion, versions),
        (Assignment, assignments),
        (Review, reviews),
    ):
        db.session.execute(insert(model), rows)
    db.session.commit()


def _python_turnaround(since: dt.datetime) -> dict:
    """The definition: every review since ``since`` into Python, nearest rank over hours."""
    rows = db.session.execute(
        select(Review.created_at, ResumeVersion.uploaded_at)
        .join(ResumeVersion, Review.version_id == ResumeVersion.id)
        .where(Review.created_at >= since)
    ).all()
    hours = [queue.hours(reviewed - uploaded) for reviewed, uploaded in rows]
    per_week: dict[dt.date, list[float]] = {}
    for (reviewed, _), value in zip(rows, hours, strict=True):
        per_week.setdefault(queue.week_start(reviewed), []).append(value)
    return {
        "all": (len(hours), queue.quantile(hours, 0.5), queue.quantile(hours, 0.9)),
        "weeks": {
            week: (len(v), queue.quantile(v, 0.5), queue.quantile(v, 0.9))
            for week, v in per_week.items()
        },
    }


def test_sql_turnaround_equals_the_python_definition(make_user):
    learner = make_user("learner")
    coach = make_user("coach", review_capacity=50)
    staff_user = make_user("staff")
    now = utcnow()
    rng = random.Random(20261127)
    turnarounds = []
    for _ in range(157):
        reviewed = now - dt.timedelta(seconds=rng.randrange(0, 100 * 86400))
        gap = dt.timedelta(seconds=rng.randrange(60, 20 * 86400), microseconds=rng.randrange(10**6))
        turnarounds.append((reviewed, gap))
    # Ties and rounding edges: exactly half a hundredth of an hour (18 s), and equal turnarounds.
    for k in range(6):
        turnarounds.append((now - dt.timedelta(days=k), dt.timedelta(hours=k, seconds=18)))
        turnarounds.append((now - dt.timedelta(days=k, hours=1), dt.timedelta(hours=5)))
    _reviews(learner.id, coach.id, turnarounds)

    figures = queue.stats(staff_user)
    expected = _python_turnaround(figures["generated_at"] - dt.timedelta(days=90))
    got = figures["turnaround"]
    assert (got["reviews"], got["median_hours"], got["p90_hours"]) == expected["all"]
    assert got["reviews"] < len(turnarounds)  # the window cut some off

    weekly = stats.turnaround_per_week(staff_user, weeks=12)
    first = dt.datetime.combine(weekly[0]["week_start"], dt.time(), tzinfo=dt.UTC)
    want = _python_turnaround(first)["weeks"]
    assert len(weekly) == 12
    for week in weekly:
        assert (week["reviews"], week["median_hours"], week["p90_hours"]) == want.get(
            week["week_start"], (0, None, None)
        ), week["week_start"]
    assert sum(w["reviews"] for w in weekly) == sum(n for n, _, _ in want.values()) > 100


def _migration(name: str):
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_backfills_the_turnaround_exactly(make_user):
    """0008's backfill statement, run over reviews made before it: the stored turnaround is the
    exact microseconds from upload to review, as a newly recorded review stores it."""
    learner = make_user("learner")
    coach = make_user("coach", review_capacity=50)
    now = utcnow()
    rng = random.Random(8)
    turnarounds = [
        (
            now - dt.timedelta(seconds=rng.randrange(0, 100 * 86400)),
            dt.timedelta(seconds=rng.randrange(0, 30 * 86400), microseconds=rng.randrange(10**6)),
        )
        for _ in range(40)
    ] + [(now, dt.timedelta(0)), (now, dt.timedelta(microseconds=999_999))]
    # Fractions SQLite would round up to the next second if it were given them.
    late_in_a_second = now.replace(microsecond=999_700)
    turnarounds += [
        (late_in_a_second, dt.timedelta(hours=3)),
        (late_in_a_second + dt.timedelta(microseconds=400), dt.timedelta(days=2, microseconds=400)),
    ]
    _reviews(learner.id, coach.id, turnarounds)
    db.session.execute(update(Review).values(turnaround_us=-1))
    migration = _migration("0008_review_turnaround.py")
    dialect = db.session.get_bind().dialect.name
    backfill = (
        migration.BACKFILL_POSTGRESQL if dialect == "postgresql" else migration.BACKFILL_SQLITE
    )
    db.session.execute(text(backfill))
    rows = db.session.execute(
        select(Review.turnaround_us, Review.created_at, ResumeVersion.uploaded_at).join(
            ResumeVersion, Review.version_id == ResumeVersion.id
        )
    ).all()
    assert len(rows) == len(turnarounds)
    for stored, reviewed, uploaded in rows:
        assert stored == Review.turnaround_of(reviewed, uploaded)
    assert sorted(r[0] for r in rows) == sorted(
        gap // dt.timedelta(microseconds=1) for _, gap in turnarounds
    )


def test_a_recorded_review_stores_its_turnaround(make_user):
    """submit_review stores created_at - the version's upload, in microseconds."""
    learner = make_user("learner")
    coach = make_user("coach", review_capacity=5)
    staff_user = make_user("staff")
    resume = make_resume(learner)
    routing.assign_manually(staff_user, resume.id, coach.id, "test")
    db.session.commit()
    resumes.submit_review(
        coach, resume.id, resumes.ReviewInput(summary="Clear.", scores={"impact": 4})
    )
    db.session.commit()
    review = db.session.scalar(select(Review).where(Review.resume_id == resume.id))
    assert review is not None
    uploaded = db.session.get(ResumeVersion, review.version_id).uploaded_at
    assert review.turnaround_us == Review.turnaround_of(review.created_at, uploaded) >= 0
    assert queue.turnaround(review.created_at).reviews == 1


def test_no_reviews_give_no_quantiles(make_user):
    figures = queue.stats(make_user("staff"), days=1)
    assert figures["turnaround"]["median_hours"] is None
    assert figures["turnaround"]["p90_hours"] is None


def test_sql_bookings_backlog_and_no_shows_equal_the_python_definition(make_user):
    seed_types()
    learner = make_user("learner")
    coaches = [make_user("coach", review_capacity=5) for _ in range(3)]
    staff_user = make_user("staff")
    now = utcnow()
    statuses = ("confirmed", "completed", "no_show", "cancelled", "completed")
    for k in range(70):  # one session every 31 hours back (and a few ahead), over 13 weeks
        start = now - dt.timedelta(hours=31 * k - 100)
        insert_booking(learner.id, coaches[k % 3].id, start, status=statuses[k % 5])
    rng = random.Random(7)
    for i in range(40):
        bulk_resumes(
            learner.id,
            1,
            status=rng.choice(["submitted", "assigned", "in_review", "unassigned", "reviewed"]),
            queued_at=now - dt.timedelta(hours=rng.randrange(0, 24 * 12)),
            due_at=now + dt.timedelta(hours=rng.randrange(-48, 48)) if i % 3 else None,
        )
    db.session.commit()

    figures = queue.stats(staff_user)
    now = figures["generated_at"]
    # bookings per week, as the Python definition counts them
    weeks = [w["week_start"] for w in figures["bookings_per_week"]]
    first_at = dt.datetime.combine(weeks[0], dt.time(), tzinfo=dt.UTC)
    counted = Counter(
        queue.week_start(b.start_at)
        for b in db.session.scalars(select(Booking))
        if first_at <= b.start_at < first_at + dt.timedelta(weeks=12)
        and b.status in ("confirmed", "completed", "no_show")
    )
    assert [w["count"] for w in figures["bookings_per_week"]] == [counted[w] for w in weeks]
    assert sum(counted.values()) > 10
    held = [
        b.status
        for b in db.session.scalars(select(Booking))
        if b.status in ("completed", "no_show") and now - dt.timedelta(days=90) <= b.start_at <= now
    ]
    assert figures["no_show_rate"] == round(held.count("no_show") / len(held), 4)
    # backlog by age and overdue
    open_ones = [r for r in db.session.scalars(select(Resume)) if r.status in OPEN_STATUSES]
    by_age = Counter()
    for r in open_ones:
        age = now - r.queued_at
        for name, low, high in queue.AGE_BUCKETS:
            if age >= low and (high is None or age < high):
                by_age[name] += 1
    assert {b["bucket"]: b["count"] for b in figures["backlog"]["by_age"]} == {
        name: by_age[name] for name, _, _ in queue.AGE_BUCKETS
    }
    assert figures["backlog"]["open"] == len(open_ones)
    assert figures["backlog"]["overdue"] == sum(
        1 for r in open_ones if r.status in queue.IN_HANDS and r.due_at and r.due_at < now
    )


@pytest.mark.parametrize("status", [None, "assigned", "all"])
def test_the_due_order_pages_through_everything_once(make_user, status):
    learner = make_user("learner")
    coach = make_user("coach")
    viewer = make_user("staff")
    now = utcnow()
    rng = random.Random(3)
    for i in range(37):
        due = now + dt.timedelta(hours=rng.randrange(-30, 30)) if i % 4 else None
        bulk_resumes(
            learner.id,
            1,
            status=("assigned" if due else "submitted") if i % 9 else "reviewed",
            reviewer_id=coach.id if due else None,
            due_at=due,
        )
    # equal due times: the id breaks the tie
    bulk_resumes(learner.id, 3, status="assigned", reviewer_id=coach.id, due_at=now)
    filters = queue.QueueFilter(status=status)
    seen: list[Resume] = []
    cursor = None
    while True:
        page = queue.queue_page(viewer, filters, limit=4, cursor=cursor)
        seen += [item.resume for item in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    query = select(Resume)
    if status == "assigned":
        query = query.where(Resume.status == "assigned")
    elif status is None:
        query = query.where(Resume.status.in_(OPEN_STATUSES))
    expected = sorted(db.session.scalars(query), key=lambda r: (r.due_at or queue.FAR_FUTURE, r.id))
    assert [r.id for r in seen] == [r.id for r in expected]
    assert len(seen) > 10
    dated = [r.due_at is not None for r in seen]
    assert dated == sorted(dated, reverse=True)  # unrouted (no due time) last


def test_the_default_queue_order_is_read_from_an_index(make_user):
    learner = make_user("learner")
    coach = make_user("coach")
    viewer = make_user("staff")
    due = utcnow() - dt.timedelta(days=2)
    bulk_resumes(learner.id, 300, status="assigned", reviewer_id=coach.id, due_at=due)
    bulk_resumes(learner.id, 300, status="reviewed")
    bulk_resumes(learner.id, 30, status="submitted")
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM resume" in statement:
            captured.append((statement, parameters))

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        first = queue.queue_page(viewer, queue.QueueFilter(), limit=50)
        queue.queue_page(viewer, queue.QueueFilter(), limit=50, cursor=first.next_cursor)
        # a cursor among the undated (unrouted) ones
        undated = encode_cursor([queue.FAR_FUTURE, 1])
        queue.queue_page(viewer, queue.QueueFilter(), limit=50, cursor=undated)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    pages = [(s, p) for s, p in captured if "ORDER BY resume.due_at" in s]
    assert len(pages) >= 3
    connection = db.session.connection()
    for statement, parameters in pages:
        if engine.dialect.name == "postgresql":
            # The tables are small, so let no cheaper-looking plan hide whether an index can
            # give this order: forbid sorting and whole-table reads.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql("SET LOCAL enable_sort = off")
            plan = "\n".join(
                r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
            assert "ix_resume_open_due" in plan, plan
            assert "Sort" not in plan, plan
        else:
            plan = "\n".join(
                str(r[-1])
                for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
            assert "ix_resume_open_due" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
