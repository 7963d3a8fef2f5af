"""Helpers for staff-console tests: résumés that are analysed and ready to route, in bulk too."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import event, insert, select, text

from services.db import db, utcnow
from services.models import Resume, ResumeVersion, User


def console_people(make_user: Any) -> dict[str, Any]:
    """A learner, three coaches (two ranked by expertise, one with none) and a staff member: the
    cast of the staff console's tests."""
    return {
        "learner": make_user("learner", name="Lena Learner"),
        "ada": make_user("coach", name="Ada Coach", expertise=["ml", "python"], review_capacity=4),
        "bo": make_user("coach", name="Bo Coach", expertise=["python"], review_capacity=4),
        "cy": make_user("coach", name="Cy Coach", expertise=[], review_capacity=4),
        "staff": make_user("staff", name="Sam Staff"),
    }


def make_resume(
    learner: User, target_role: str = "ML engineer", skills: list[str] | None = None
) -> Resume:
    """A résumé whose checks are done, status submitted (ready for routing or manual assignment)."""
    now = utcnow()
    resume = Resume(learner_id=learner.id, target_role=target_role, queued_at=now, created_at=now)
    db.session.add(resume)
    db.session.flush()
    db.session.add(
        ResumeVersion(
            resume_id=resume.id,
            number=1,
            filename="cv.pdf",
            kind="pdf",
            content_type="application/pdf",
            size=1000,
            sha256=uuid.uuid4().hex * 2,
            uploaded_at=now,
            analysis_status="done",
            analysed_at=now,
            skills=skills if skills is not None else ["python"],
            checks=[],
        )
    )
    db.session.commit()
    return resume


def bulk_resumes(learner_id: int, count: int, status: str = "submitted", **extra: Any) -> None:
    """``count`` résumés with one version each, by core inserts (fast at 10,000)."""
    start = utcnow() - dt.timedelta(days=20)
    first = (db.session.scalar(select(db.func.max(Resume.id))) or 0) + 1
    rows = [
        {
            "id": first + i,
            "learner_id": learner_id,
            "target_role": f"ML engineer {i}",
            "notes": "",
            "status": status,
            "current_version": 1,
            "queued_at": start + dt.timedelta(seconds=i),
            "created_at": start,
            "updated_at": start,
            **extra,
        }
        for i in range(count)
    ]
    versions = [
        {
            "resume_id": first + i,
            "number": 1,
            "filename": f"cv-{i}.pdf",
            "kind": "pdf",
            "content_type": "application/pdf",
            "size": 1000,
            "sha256": f"{first + i:064d}",
            "uploaded_at": start,
            "analysis_status": "done",
            "skills": [],
            "active_content": [],
        }
        for i in range(count)
    ]
    for chunk in range(0, count, 2000):
        db.session.execute(insert(Resume), rows[chunk : chunk + 2000])
        db.session.execute(insert(ResumeVersion), versions[chunk : chunk + 2000])
    if db.session.get_bind().dialect.name == "postgresql":
        # The ids were given: move the sequence past them, for the résumés made after these.
        db.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('resume', 'id'), "
                "(SELECT max(id) FROM resume))"
            )
        )
    db.session.commit()


class QueryCounter:
    """Counts SQL statements sent on the session's connection while active."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.count += 1
            self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        self.engine = db.session.get_bind()
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self)
