"""Turnaround per week: the same figures from SQL (PostgreSQL) and from Python (SQLite)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from services.db import db, utcnow
from services.models import Assignment, ResumeVersion, Review
from services.resumes import routing, stats
from tests.support_staff import make_resume


def test_turnaround_per_week_median_and_p90(make_user):
    learner = make_user("learner")
    coach = make_user("coach", review_capacity=20)
    staff = make_user("staff")
    now = utcnow()
    monday = dt.datetime.combine(
        now.date() - dt.timedelta(days=now.weekday()), dt.time(), tzinfo=dt.UTC
    )
    for hours in (2, 4, 6, 8, 100):
        resume = make_resume(learner)
        routing.assign_manually(staff, resume.id, coach.id, "test")
        db.session.commit()
        assignment = db.session.scalar(select(Assignment).where(Assignment.resume_id == resume.id))
        uploaded = monday + dt.timedelta(minutes=1)
        db.session.execute(
            update(ResumeVersion)
            .where(ResumeVersion.resume_id == resume.id)
            .values(uploaded_at=uploaded)
        )
        db.session.add(
            Review(
                resume_id=resume.id,
                version_id=assignment.version_id,
                assignment_id=assignment.id,
                coach_id=coach.id,
                summary="ok",
                outcome="approved",
                created_at=uploaded + dt.timedelta(hours=hours),
                turnaround_us=hours * 3600 * 10**6,
            )
        )
        db.session.commit()
    weeks = stats.turnaround_per_week(staff, weeks=12)
    assert len(weeks) == 12 and weeks[-1]["week_start"] == monday.date()
    last = weeks[-1]
    assert (last["reviews"], last["median_hours"], last["p90_hours"]) == (5, 6.0, 100.0)
    assert weeks[0]["reviews"] == 0 and weeks[0]["median_hours"] is None
