"""Demo data for a one-machine run: `flask --app wsgi seed-demo`. Idempotent.

Besides the accounts, the demo has a history (``seed_history``), written once: sessions held last
week (one completed with feedback, one completed waiting for feedback, one still to be marked, a
no-show) and coming up, résumés reviewed (one approved, one with changes requested), one in
review, one offered to a coach, one no coach could take, and reviews spread over three weeks, so
every dashboard, page and chart has something on the first run, and a coach can mark a session
completed and write its feedback at once. It is history: nothing is emailed about it, except that
the two newest events (an offer to Ada, a review for Lin) notify as they would have.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import uuid
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select

from services import accounts, faq, outbox, skills, storage
from services.booking import interview_types
from services.db import db, utcnow
from services.models import (
    AnalysisStatus,
    Assignment,
    AssignmentStatus,
    AvailabilityRule,
    Booking,
    BookingEvent,
    BookingStatus,
    ExclusionReason,
    InterviewType,
    Resume,
    ResumeEvent,
    ResumeExclusion,
    ResumeStatus,
    ResumeVersion,
    Review,
    Role,
    RoutingDecision,
    SessionFeedback,
    User,
)
from services.resumes import Settings, checks, files


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    role: str
    name: str
    timezone: str
    expertise: tuple[str, ...] = ()
    # The types a coach runs (None: every active type).
    interview_types: tuple[str, ...] | None = None


DEMO_USERS = (
    DemoUser("staff@example.com", "staff-demo-pass", Role.STAFF, "Sam Staff", "America/New_York"),
    DemoUser(
        "coach.ada@example.com",
        "coach-demo-pass",
        Role.COACH,
        "Ada Coach",
        "Europe/Berlin",
        ("ml", "python", "mlops", "system-design"),
        ("technical-ml", "ml-system-design", "coding"),
    ),
    DemoUser(
        "coach.grace@example.com",
        "coach-demo-pass",
        Role.COACH,
        "Grace Coach",
        "America/Los_Angeles",
        ("python", "algorithms", "behavioral", "sql"),
        ("behavioral", "technical-ml", "coding"),
    ),
    DemoUser(
        "learner.lin@example.com",
        "learner-demo-pass",
        Role.LEARNER,
        "Lin Learner",
        "America/New_York",
    ),
    DemoUser(
        "learner.omar@example.com",
        "learner-demo-pass",
        Role.LEARNER,
        "Omar Learner",
        "Europe/London",
    ),
)

# Weekdays 09:00-17:00 in the coach's own time zone.
_DEMO_HOURS = [(day, dt.time(9), dt.time(17)) for day in range(5)]


def seed_demo() -> list[DemoUser]:
    """Load the FAQ, the interview types and the demo users with availability, and (once) their
    history."""
    faq.load_seed()
    interview_types.ensure_defaults()
    for demo in DEMO_USERS:
        user = accounts.find_by_email(demo.email)
        if user is None:
            user = accounts.create_user(
                email=demo.email,
                password=demo.password,
                role=demo.role,
                name=demo.name,
                timezone=demo.timezone,
                expertise=list(demo.expertise),
            )
            if demo.role == Role.COACH:
                if demo.interview_types is not None:
                    interview_types.set_coach_types(user.id, demo.interview_types)
                for weekday, start, end in _DEMO_HOURS:
                    db.session.add(
                        AvailabilityRule(
                            coach_id=user.id, weekday=weekday, start_time=start, end_time=end
                        )
                    )
    db.session.flush()
    seed_history()
    return list(DEMO_USERS)


# --- history --------------------------------------------------------------------------------------


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with these lines of text (Helvetica), its cross-reference table exact."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 11 Tf", "15 TL", "72 750 Td"]
    ops += [f"({escape(line)}) Tj T*" for line in lines]
    ops.append("ET")
    stream = "\n".join(ops).encode("cp1252", errors="replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _cv(name: str, headline: str, experience: list[str], skills: str) -> list[str]:
    return [
        name,
        f"{name.split()[0].lower()}@example.com  linkedin.com/in/{name.split()[0].lower()}",
        "Summary",
        headline,
        "Experience",
        *experience,
        "Education",
        "BSc Computer Science, 2021",
        "Skills",
        skills,
    ]


LIN_CV = _cv(
    "Lin Learner",
    "Data analyst moving into machine learning engineering.",
    [
        "Data Analyst, Northwind Retail, 2021-2025",
        "Built churn models in Python with scikit-learn and pandas; reports in SQL.",
        "Moved weekly forecasts into Airflow; cut the report run time by 30%.",
        "Bootcamp project: an image classifier in PyTorch, served with Docker.",
    ],
    "Python, SQL, pandas, scikit-learn, PyTorch, Docker, Git, Airflow",
)
OMAR_CV = _cv(
    "Omar Learner",
    "Software engineer who ships ML features to production.",
    [
        "Software Engineer, Contoso Health, 2020-2025",
        "Deployed a triage model behind a Flask API in Docker on AWS SageMaker.",
        "Tracked experiments in MLflow and retrained models every week with Airflow.",
        "Reduced inference latency by 45% and cloud cost by 20%.",
    ],
    "Python, SQL, TensorFlow, scikit-learn, Docker, Kubernetes, MLflow, AWS, Git",
)


def _local(user: User, days: int, hour: int, minute: int = 0) -> dt.datetime:
    """``days`` weekdays from today (negative: before), at hour:minute in the user's zone, UTC."""
    zone = zoneinfo.ZoneInfo(user.timezone)
    day = dt.datetime.now(zone).date()
    step = 1 if days >= 0 else -1
    for _ in range(abs(days)):
        day += dt.timedelta(days=step)
        while day.weekday() >= 5:
            day += dt.timedelta(days=step)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).astimezone(dt.UTC)


def _before_this_week(user: User, weekday: int, hour: int) -> dt.datetime:
    """Last week's ``weekday`` at ``hour`` in the user's zone (before this week's Monday)."""
    zone = zoneinfo.ZoneInfo(user.timezone)
    today = dt.datetime.now(zone).date()
    day = today - dt.timedelta(days=today.weekday() + 7 - weekday)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=zone).astimezone(dt.UTC)


def _next_open_slot(coach: User, now: dt.datetime) -> dt.datetime:
    """The first half hour at least an hour from now within the coach's demo hours."""
    zone = zoneinfo.ZoneInfo(coach.timezone)
    at = (now + dt.timedelta(hours=1)).astimezone(zone)
    at = at.replace(minute=0 if at.minute == 0 else 30, second=0, microsecond=0)
    if at < (now + dt.timedelta(hours=1)).astimezone(zone):
        at += dt.timedelta(minutes=30)
    while at.weekday() >= 5 or not dt.time(9) <= at.time() < dt.time(16):
        at = (
            at.replace(hour=9, minute=30)
            if at.time() < dt.time(9)
            else (at + dt.timedelta(days=1)).replace(hour=9, minute=30)
        )
    return at.astimezone(dt.UTC)


class _History:
    """Writes the demo's past as the services would have left it, with its real timestamps."""

    def __init__(self, users: dict[str, User], types: dict[str, InterviewType]) -> None:
        self.users = users
        self.types = types
        self.settings = Settings.current()

    # sessions

    def session(
        self,
        learner: str,
        coach: str,
        slug: str,
        start: dt.datetime,
        status: str = BookingStatus.CONFIRMED,
        *,
        feedback: tuple[int, int, int, int, str] | None = None,
        notes: str = "",
    ) -> Booking:
        itype = self.types[slug]
        end = start + dt.timedelta(minutes=itype.duration_minutes)
        booked_at = start - dt.timedelta(days=6)
        booking = Booking(
            uid=f"booking-{uuid.uuid4()}@career-services",
            learner_id=self.users[learner].id,
            coach_id=self.users[coach].id,
            interview_type_id=itype.id,
            start_at=start,
            end_at=end,
            block_start_at=start - dt.timedelta(minutes=itype.buffer_before_minutes),
            block_end_at=end + dt.timedelta(minutes=itype.buffer_after_minutes),
            status=status,
            meeting_url=f"{_meeting_base()}/CareerServices-{secrets.token_hex(10)}",
            notes=notes,
            # Reminders whose moment has passed count as sent: the demo sends none for its past.
            reminder_24h_at=booked_at if start - utcnow() <= dt.timedelta(hours=24) else None,
            reminder_1h_at=booked_at if start - utcnow() <= dt.timedelta(hours=1) else None,
            created_at=booked_at,
            updated_at=booked_at,
        )
        db.session.add(booking)
        db.session.flush()
        learner_id = self.users[learner].id
        coach_id = self.users[coach].id
        events = [("booked", booked_at, learner_id, {"start": start.isoformat()})]
        if status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW):
            events.append((status, end + dt.timedelta(minutes=10), coach_id, {}))
        if feedback is not None:
            events.append(("feedback", end + dt.timedelta(hours=2), coach_id, {}))
            communication, depth, solving, knowledge, text = feedback
            db.session.add(
                SessionFeedback(
                    booking_id=booking.id,
                    coach_id=coach_id,
                    communication=communication,
                    technical_depth=depth,
                    problem_solving=solving,
                    ml_knowledge=knowledge,
                    notes=text,
                    created_at=end + dt.timedelta(hours=2),
                    updated_at=end + dt.timedelta(hours=2),
                )
            )
        for event, at, actor_id, detail in events:
            db.session.add(
                BookingEvent(
                    booking_id=booking.id, event=event, at=at, actor_id=actor_id, detail=detail
                )
            )
        return booking

    # résumés

    def resume(
        self, learner: str, role: str, lines: list[str], uploaded: dt.datetime, filename: str
    ) -> tuple[Resume, ResumeVersion]:
        owner = self.users[learner]
        stored = files.receive(
            io.BytesIO(_pdf(lines)),
            filename,
            store=storage.current(),
            max_bytes=self.settings.max_upload_bytes,
        )
        resume = Resume(
            learner_id=owner.id,
            target_role=role,
            status=ResumeStatus.SUBMITTED,
            current_version=1,
            queued_at=uploaded,
            created_at=uploaded,
            updated_at=uploaded,
        )
        db.session.add(resume)
        db.session.flush()
        text = "\n".join(lines)
        found = checks.run(text, 1, active_content=[])
        version = ResumeVersion(
            resume_id=resume.id,
            number=1,
            filename=stored.filename,
            kind=stored.kind,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by_id=owner.id,
            uploaded_at=uploaded,
            analysis_status=AnalysisStatus.DONE,
            analysed_at=uploaded + dt.timedelta(seconds=20),
            page_count=1,
            word_count=len(text.split()),
            text=text,
            checks=found,
            skills=skills.find(text),
            active_content=[],
        )
        db.session.add(version)
        db.session.flush()
        passed = sum(1 for c in found if c["passed"])
        self.event(resume, uploaded, "submitted", owner, f"Version 1: {stored.filename}")
        self.event(
            resume,
            uploaded + dt.timedelta(seconds=20),
            "checked",
            None,
            f"{passed} of {len(found)} checks passed",
        )
        return resume, version

    def event(
        self, resume: Resume, at: dt.datetime, event: str, actor: User | None, detail: str = ""
    ) -> None:
        db.session.add(
            ResumeEvent(
                resume_id=resume.id,
                at=at,
                event=event,
                actor_id=actor.id if actor else None,
                detail=detail,
            )
        )

    def offer(
        self, resume: Resume, version: ResumeVersion, coach: str, at: dt.datetime, reason: str
    ) -> Assignment:
        reviewer = self.users[coach]
        decision = RoutingDecision(
            resume_id=resume.id,
            version_number=version.number,
            at=at,
            outcome="offered",
            coach_id=reviewer.id,
            reason=reason,
            components={"policy": "demo data", "coach": {"id": reviewer.id}},
        )
        db.session.add(decision)
        db.session.flush()
        due = at + self.settings.due_in
        assignment = Assignment(
            resume_id=resume.id,
            version_id=version.id,
            coach_id=reviewer.id,
            decision_id=decision.id,
            status=AssignmentStatus.OFFERED,
            offered_at=at,
            expires_at=at + self.settings.accept_window,
            due_at=due,
            warn_at=at + self.settings.due_in * 0.75,
        )
        db.session.add(assignment)
        resume.status = ResumeStatus.ASSIGNED
        resume.reviewer_id = reviewer.id
        resume.due_at = due
        self.event(resume, at, "assigned", None, f"Offered to {reviewer.name}")
        db.session.flush()
        return assignment

    def accept(self, resume: Resume, assignment: Assignment, at: dt.datetime) -> None:
        assignment.status = AssignmentStatus.ACCEPTED
        assignment.responded_at = at
        resume.status = ResumeStatus.IN_REVIEW
        self.event(resume, at, "accepted", assignment.coach)

    def review(
        self,
        resume: Resume,
        assignment: Assignment,
        at: dt.datetime,
        outcome: str,
        scores: tuple[int, int, int, int, int],
        summary: str,
        comments: str,
    ) -> Review:
        assignment.status = AssignmentStatus.COMPLETED
        assignment.completed_at = at
        impact, clarity, relevance, formatting, ats = scores
        row = Review(
            resume_id=resume.id,
            version_id=assignment.version_id,
            assignment_id=assignment.id,
            coach_id=assignment.coach_id,
            impact=impact,
            clarity=clarity,
            ml_relevance=relevance,
            formatting=formatting,
            ats_readiness=ats,
            summary=summary,
            comments=comments,
            outcome=outcome,
            created_at=at,
            turnaround_us=Review.turnaround_of(at, assignment.version.uploaded_at),
        )
        db.session.add(row)
        resume.status = ResumeStatus.REVIEWED
        resume.reviewer_id = assignment.coach_id
        self.event(resume, at, "reviewed", assignment.coach, outcome.replace("_", " "))
        db.session.flush()
        return row


def _meeting_base() -> str:
    from services.booking import policy

    return policy().meeting_base_url


def seed_history() -> bool:
    """Write the demo's history once (when no demo learner has a session or a résumé yet);
    returns whether it did."""
    users = {
        u.email.split("@")[0].split(".")[-1]: u
        for u in db.session.scalars(
            select(User).where(User.email.in_([d.email for d in DEMO_USERS]))
        )
    }
    lin, omar, ada, grace = users["lin"], users["omar"], users["ada"], users["grace"]
    learner_ids = [lin.id, omar.id]
    if db.session.scalar(
        select(Booking.id).where(Booking.learner_id.in_(learner_ids)).limit(1)
    ) or db.session.scalar(select(Resume.id).where(Resume.learner_id.in_(learner_ids)).limit(1)):
        return False
    types = {t.slug: t for t in db.session.scalars(select(InterviewType))}
    history = _History(users, types)
    now = utcnow()
    hours = dt.timedelta(hours=1)
    days = dt.timedelta(days=1)

    # --- sessions: three weeks back, last week (before this week, so Ada's calendar this week
    # --- is free), and coming up
    history.session(
        "lin",
        "grace",
        "behavioral",
        _before_this_week(grace, 1, 10) - 14 * days,
        BookingStatus.COMPLETED,
        feedback=(4, 3, 4, 3, "Good STAR structure. Lead with the result, then the how."),
    )
    history.session(
        "omar",
        "ada",
        "technical-ml",
        _before_this_week(ada, 3, 11) - 7 * days,
        BookingStatus.COMPLETED,
        feedback=(4, 4, 3, 4, "Solid on metrics; practice explaining regularization simply."),
    )
    history.session(
        "lin",
        "ada",
        "technical-ml",
        _before_this_week(ada, 1, 10),
        BookingStatus.COMPLETED,
        feedback=(
            4,
            3,
            4,
            3,
            "Clear on bias and variance. Next time, walk through the feature work before "
            "the model, and say how you would measure it.",
        ),
        notes="I would like to practice explaining model metrics.",
    )
    history.session(
        "omar", "grace", "behavioral", _before_this_week(grace, 2, 10), BookingStatus.NO_SHOW
    )
    # Ada's to do: write feedback for Omar's session, mark Lin's coding session.
    history.session(
        "omar",
        "ada",
        "ml-system-design",
        _before_this_week(ada, 3, 14),
        BookingStatus.COMPLETED,
        notes="A feature store for a recommender, please.",
    )
    history.session("lin", "ada", "coding", _before_this_week(ada, 4, 11))
    # Coming up: Lin in three weekdays (can still move or cancel it), Omar soon with Grace.
    history.session(
        "lin",
        "grace",
        "technical-ml",
        _local(grace, 3, 10),
        notes="Feature engineering and evaluation for tabular data.",
    )
    history.session("omar", "grace", "behavioral", _next_open_slot(grace, now))

    # --- résumés
    # Reviewed in earlier weeks (the turnaround chart's history).
    older, version = history.resume(
        "omar", "Data engineer", OMAR_CV, now - 18 * days, "Omar Learner - data engineer.pdf"
    )
    offer = history.offer(
        older, version, "ada", now - 18 * days + 2 * hours, "matched python, sql; 0 of 5 open"
    )
    history.accept(older, offer, now - 17 * days)
    history.review(
        older,
        offer,
        now - 16 * days,
        "approved",
        (4, 4, 4, 5, 4),
        "Ready to send: concrete results, clean layout.",
        "Add the size of the data you moved.",
    )
    older, version = history.resume(
        "lin", "AI engineer", LIN_CV, now - 11 * days, "Lin Learner - AI engineer.pdf"
    )
    offer = history.offer(
        older, version, "grace", now - 11 * days + hours, "matched python, sql; 0 of 5 open"
    )
    history.accept(older, offer, now - 11 * days + 5 * hours)
    history.review(
        older,
        offer,
        now - 10 * days,
        "changes_suggested",
        (3, 4, 3, 4, 4),
        "Good start; make the ML work stand out.",
        "Move the PyTorch project above the analyst work.\nQuantify the churn model's effect.",
    )
    # This week: Lin's ML engineer résumé, changes requested (her next step: a new version).
    resume, version = history.resume(
        "lin", "Machine learning engineer", LIN_CV, now - 6 * days, "Lin Learner CV.pdf"
    )
    offer = history.offer(
        resume, version, "ada", now - 6 * days + 2 * hours, "matched ml, python, mlops; 0 of 5 open"
    )
    history.accept(resume, offer, now - 6 * days + 4 * hours)
    review = history.review(
        resume,
        offer,
        now - 5 * days,
        "changes_required",
        (2, 3, 3, 4, 3),
        "The experience reads as analysis, not engineering. Show what you built and shipped.",
        "Lead each bullet with what you built, then the result.\n"
        "Add a Projects section: the PyTorch classifier, with a link.\n"
        "Name the deployment: Docker, where it ran, who used it.",
    )
    outbox.record("resume.reviewed", resume_id=resume.id, review_id=review.id)
    # Omar's MLOps résumé: approved by Grace.
    resume, version = history.resume(
        "omar", "MLOps engineer", OMAR_CV, now - 4 * days, "Omar Learner CV.pdf"
    )
    offer = history.offer(
        resume, version, "grace", now - 4 * days + hours, "matched python, sql; 0 of 5 open"
    )
    history.accept(resume, offer, now - 4 * days + 3 * hours)
    history.review(
        resume,
        offer,
        now - 3 * days,
        "approved",
        (5, 4, 5, 4, 4),
        "Strong: production work, numbers, the right tools.",
        "Consider a one-line summary of the platform you ran.",
    )
    # Lin's data scientist résumé: in Grace's review, due in about a day.
    resume, version = history.resume(
        "lin", "Data scientist", LIN_CV, now - 2 * days, "Lin Learner - data science.pdf"
    )
    offer = history.offer(
        resume, version, "grace", now - 2 * days + 0.5 * hours, "matched python, sql; 1 of 5 open"
    )
    history.accept(resume, offer, now - 2 * days + 2 * hours)
    # Omar's ML engineer résumé: offered to Ada two hours ago, not accepted yet.
    resume, version = history.resume(
        "omar", "ML engineer", OMAR_CV, now - 2 * hours, "Omar Learner - ML engineer.pdf"
    )
    offer = history.offer(
        resume,
        version,
        "ada",
        now - 2 * hours + dt.timedelta(minutes=1),
        "matched ml, python, mlops; 0 of 5 open",
    )
    outbox.record("resume.assigned", resume_id=resume.id, assignment_id=offer.id)
    # Omar's research engineer résumé: Ada declined it, Grace let the offer lapse; staff must act.
    resume, version = history.resume(
        "omar", "Research engineer", OMAR_CV, now - 30 * hours, "Omar Learner - research.pdf"
    )
    first = history.offer(resume, version, "ada", now - 30 * hours, "matched ml, python; 1 of 5")
    first.status = AssignmentStatus.DECLINED
    first.responded_at = now - 29 * hours
    first.decline_reason = "Research roles are outside what I review; a researcher should."
    history.event(resume, now - 29 * hours, "declined", ada, first.decline_reason)
    second = history.offer(resume, version, "grace", now - 29 * hours, "matched python; 1 of 5")
    second.status = AssignmentStatus.EXPIRED
    second.responded_at = now - 5 * hours
    history.event(
        resume, now - 5 * hours, "offer_expired", None, "Grace Coach did not accept in time"
    )
    db.session.add_all(
        [
            ResumeExclusion(resume_id=resume.id, coach_id=ada.id, reason=ExclusionReason.DECLINED),
            ResumeExclusion(resume_id=resume.id, coach_id=grace.id, reason=ExclusionReason.EXPIRED),
            RoutingDecision(
                resume_id=resume.id,
                version_number=1,
                at=now - 5 * hours,
                outcome="unassigned",
                reason="no eligible coach; 2 excluded: 1 declined, 1 expired",
                components={"policy": "demo data"},
            ),
        ]
    )
    resume.status = ResumeStatus.UNASSIGNED
    resume.reviewer_id = None
    resume.due_at = None
    history.event(
        resume, now - 5 * hours, "unassigned", None, "No reviewer is free yet; staff were told."
    )
    db.session.flush()
    return True
